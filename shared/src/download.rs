//! Downloading what AWS hands out as a pre-signed URL (an ECR layer's GetDownloadUrlForLayer, a
//! Lambda version's GetFunction `Code.Location`), streamed, through the SDK's own HTTP client:
//! no second HTTP or TLS stack enters the tools, and the tools' transport settings (timeouts,
//! the loopback endpoints of tests) hold for it too. The URL carries its own signature, so the
//! request is sent without credentials, and not retried: the caller decides what a broken
//! download means.

use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::context::{Error as ErasedError, Output};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::ser_de::DeserializeResponse;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use std::time::Duration;

/// The bytes a pre-signed URL answers, as a stream, through `http` (a service client's own
/// HTTP client: `config().http_client()`). An answer other than 2xx is an error naming its status.
pub async fn download(
    http: SharedHttpClient,
    url: &str,
) -> std::result::Result<ByteStream, String> {
    let (origin, path) = split_url(url).ok_or_else(|| format!("{url:?} is not a URL"))?;
    let operation = Operation::builder()
        .service_name("download")
        .operation_name("GetPresignedUrl")
        .http_client(http)
        .endpoint_url(origin)
        .no_auth()
        .no_retry()
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .build(),
        )
        .serializer(|path: String| {
            HttpRequest::get(path)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .deserializer_impl::<ByteStream, DownloadFailed>(Body)
        .build();
    operation
        .invoke(path.to_string())
        .await
        .map_err(|e| match e.as_service_error() {
            Some(failed) => failed.to_string(),
            None => crate::aws::describe(&e),
        })
}

/// `https://host[:port]` and the rest (`/path?query`) of a URL.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let after_scheme = url.find("://")? + 3;
    let path = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| i + after_scheme);
    let (origin, rest) = url.split_at(path);
    Some((origin, if rest.is_empty() { "/" } else { rest }))
}

/// The download answered something other than the blob.
#[derive(Debug, thiserror::Error)]
#[error("the pre-signed URL answered HTTP {0}")]
struct DownloadFailed(u16);

impl aws_smithy_types::error::metadata::ProvideErrorMetadata for DownloadFailed {
    fn meta(&self) -> &aws_smithy_types::error::ErrorMetadata {
        static EMPTY: std::sync::OnceLock<aws_smithy_types::error::ErrorMetadata> =
            std::sync::OnceLock::new();
        EMPTY.get_or_init(|| aws_smithy_types::error::ErrorMetadata::builder().build())
    }
}

/// The answer's body, not read: the caller streams it.
#[derive(Debug)]
struct Body;

impl DeserializeResponse for Body {
    fn deserialize_streaming_with_config(
        &self,
        response: &mut HttpResponse,
        _cfg: &ConfigBag,
    ) -> Option<std::result::Result<Output, OrchestratorError<ErasedError>>> {
        if !response.status().is_success() {
            return None;
        }
        Some(Ok(Output::erase(ByteStream::new(response.take_body()))))
    }

    fn deserialize_nonstreaming_with_config(
        &self,
        response: &HttpResponse,
        _cfg: &ConfigBag,
    ) -> std::result::Result<Output, OrchestratorError<ErasedError>> {
        Err(OrchestratorError::operation(ErasedError::erase(
            DownloadFailed(response.status().as_u16()),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_splits_into_origin_and_path() {
        assert_eq!(
            split_url("https://s3.amazonaws.com/bucket/key?X-Amz-Signature=a%2Fb"),
            Some((
                "https://s3.amazonaws.com",
                "/bucket/key?X-Amz-Signature=a%2Fb"
            ))
        );
        assert_eq!(
            split_url("http://127.0.0.1:5000"),
            Some(("http://127.0.0.1:5000", "/"))
        );
        assert_eq!(split_url("nonsense"), None);
    }
}
