//! Client-side rate limits, one token bucket per AWS service and region.
//!
//! A batch of 200 promotions at `--concurrency 8` would otherwise send requests as fast as AWS
//! answers them and run into the account's control-plane quotas (Lambda allows 15 requests a
//! second, API Gateway's management API 10). Throttled calls are retried, but each retry costs a
//! backoff and a retry token, and enough of them fail the batch. Pacing requests below the quota
//! in the first place is cheaper, so every request waits for a token of its service before it is
//! sent. The quotas are per account and region and shared with everyone else using them, so
//! AWS's throttling answers still slow the client further (adaptive retry, in [`crate::aws`]).
//!
//! The limit sits under the SDK, around its HTTP client: every request of every service client
//! passes through it, and the service and region are read from the request's signature (its
//! credential scope, `AKID/DATE/REGION/SERVICE/aws4_request`), which is exact for every service
//! and needs no knowledge of endpoints.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A sustained rate (requests per second) and how many requests may go at once after a quiet
/// spell (the bucket's size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub rate: f64,
    pub burst: f64,
}

/// AWS's documented default control-plane quotas per account and region, by signing name. Where
/// a service has per-operation quotas, the lowest one among the operations these tools call is
/// used, so a batch of writes is paced right; reads then wait a little more than they must.
const DEFAULT_QUOTAS: &[(&str, Quota)] = &[
    // "Control plane API requests: 15 per second" (GetFunction and invocations excepted).
    (
        "lambda",
        Quota {
            rate: 15.0,
            burst: 15.0,
        },
    ),
    // API Gateway management API: 10 requests per second, burst 40, per account and region.
    (
        "apigateway",
        Quota {
            rate: 10.0,
            burst: 40.0,
        },
    ),
    // ECS token buckets: cluster and service reads refill 20 a second from a bucket of 50.
    (
        "ecs",
        Quota {
            rate: 20.0,
            burst: 50.0,
        },
    ),
    // ECR: PutImage (a tag move) 10 per second; image reads allow far more.
    (
        "ecr",
        Quota {
            rate: 10.0,
            burst: 10.0,
        },
    ),
    // S3: 3,500 writes (PUT, COPY, DELETE) per second per prefix.
    (
        "s3",
        Quota {
            rate: 3500.0,
            burst: 3500.0,
        },
    ),
    // Parameter Store standard throughput: 40 transactions per second.
    (
        "ssm",
        Quota {
            rate: 40.0,
            burst: 40.0,
        },
    ),
    // Secrets Manager: ListSecrets and DescribeSecret 100 per second (GetSecretValue more).
    (
        "secretsmanager",
        Quota {
            rate: 100.0,
            burst: 100.0,
        },
    ),
];

/// The services `--rate-limit NAME=N` may name: those with a default quota.
fn known_service(name: &str) -> bool {
    DEFAULT_QUOTAS.iter().any(|(service, _)| *service == name)
}

/// What `--rate-limit` (or `PROMOTE_RATE_LIMIT`) asks for: `N` requests a second for every
/// service, `SERVICE=N` for one, both comma-separated (`20,lambda=50`); `0` means no limit. What
/// it does not name keeps AWS's default quota.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    every_service: Option<f64>,
    per_service: BTreeMap<String, f64>,
}

impl RateLimits {
    /// No client-side limit at all (AWS's throttling and adaptive retry still apply).
    #[must_use]
    pub fn off() -> Self {
        RateLimits {
            every_service: Some(0.0),
            per_service: BTreeMap::new(),
        }
    }

    /// The quota for `service`, or `None` for no limit.
    #[must_use]
    pub fn quota(&self, service: &str) -> Option<Quota> {
        let default = DEFAULT_QUOTAS
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, quota)| *quota);
        let asked = self
            .per_service
            .get(service)
            .copied()
            .or(self.every_service);
        match asked {
            // An explicit rate keeps the documented burst where it is smaller than the default
            // (never a burst below one request, nor above a second's worth of the new rate).
            Some(rate) if rate > 0.0 => Some(Quota {
                rate,
                burst: default.map_or(rate, |d| d.burst.min(rate)).max(1.0),
            }),
            Some(_) => None,
            None => default,
        }
    }
}

impl FromStr for RateLimits {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut limits = RateLimits::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (service, value) = match part.split_once('=') {
                Some((service, value)) => (Some(service.trim()), value.trim()),
                None => (None, part),
            };
            let rate = value
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| {
                    format!("{value:?} is not a rate (requests per second, 0 for no limit)")
                })?;
            match service {
                None => limits.every_service = Some(rate),
                Some(service) if known_service(service) => {
                    limits.per_service.insert(service.to_string(), rate);
                }
                Some(service) => {
                    let known: Vec<&str> = DEFAULT_QUOTAS.iter().map(|(name, _)| *name).collect();
                    return Err(format!(
                        "{service:?} is not a service with a rate limit (one of {})",
                        known.join(", ")
                    ));
                }
            }
        }
        if limits == RateLimits::default() {
            return Err("give a rate: N for every service, or SERVICE=N".into());
        }
        Ok(limits)
    }
}

/// A token bucket that lends tokens ahead: a request that finds the bucket empty takes its token
/// anyway and is told how long to wait for it. Waiters are thus served in arrival order, each
/// sleeps once, and no lock is held while sleeping.
#[derive(Debug)]
struct Bucket {
    quota: Quota,
    /// Tokens in the bucket; negative when lent ahead to requests still waiting.
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn new(quota: Quota, now: Instant) -> Self {
        Bucket {
            quota,
            tokens: quota.burst,
            updated: now,
        }
    }

    /// Take one token at `now`; how long the request must wait before it may be sent.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.quota.rate).min(self.quota.burst);
        self.updated = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.quota.rate)
        }
    }
}

/// A (service, region)'s bucket, or `None` where it has no limit.
type Buckets = HashMap<(String, String), Option<Arc<Mutex<Bucket>>>>;

/// The buckets of one process, made on first use per (service, region).
#[derive(Debug)]
pub struct Limiter {
    limits: RateLimits,
    buckets: Mutex<Buckets>,
}

impl Limiter {
    #[must_use]
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// How long a request to `service` in `region` must wait, its token taken.
    fn delay(&self, service: &str, region: &str) -> Duration {
        let bucket = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            buckets
                .entry((service.to_string(), region.to_string()))
                .or_insert_with(|| {
                    self.limits
                        .quota(service)
                        .map(|quota| Arc::new(Mutex::new(Bucket::new(quota, Instant::now()))))
                })
                .clone()
        };
        bucket.map_or(Duration::ZERO, |bucket| {
            bucket
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(Instant::now())
        })
    }

    /// Wait for a token for `request` (at once for a request that is not signed, such as one to
    /// the instance metadata service, or for a service with no limit).
    async fn admit(&self, request: &HttpRequest) {
        let Some((service, region)) = request
            .headers()
            .get("authorization")
            .and_then(credential_scope)
        else {
            return;
        };
        let delay = self.delay(service, region);
        if !delay.is_zero() {
            tracing::debug!(
                service,
                region,
                delay_ms = delay.as_millis(),
                "rate limit: waiting"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// The service and region a SigV4 `Authorization` header was signed for:
/// `AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/lambda/aws4_request, ...`.
fn credential_scope(authorization: &str) -> Option<(&str, &str)> {
    let scope = authorization
        .split_once("Credential=")?
        .1
        .split([',', ' '])
        .next()?;
    let mut parts = scope.split('/');
    let (_key, _date) = (parts.next()?, parts.next()?);
    let (region, service) = (parts.next()?, parts.next()?);
    (parts.next() == Some("aws4_request")).then_some((service, region))
}

/// The SDK's own default HTTPS client with every request paced by `limiter`.
#[derive(Clone)]
pub struct RateLimitedClient {
    inner: SharedHttpClient,
    limiter: Arc<Limiter>,
}

impl fmt::Debug for RateLimitedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitedClient")
            .field("limits", &self.limiter.limits)
            .finish_non_exhaustive()
    }
}

impl RateLimitedClient {
    /// Wrap the client the SDK would have used itself (hyper with rustls, proxies from the
    /// environment): what changes is only when requests leave.
    #[must_use]
    pub fn new(limits: RateLimits) -> Self {
        RateLimitedClient {
            inner: default_client(),
            limiter: Arc::new(Limiter::new(limits)),
        }
    }
}

/// The HTTPS client the SDK installs when none is given, taken from the SDK's own default plugin
/// rather than rebuilt here, so it stays whatever the SDK's behaviour version makes it.
#[expect(
    clippy::expect_used,
    reason = "the default-https-client feature, enabled in Cargo.toml, is what makes both exist"
)]
fn default_client() -> SharedHttpClient {
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
        aws_config::BehaviorVersion::latest(),
    )
    .expect("the default-https-client feature is enabled");
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("promote-tools"))
        .http_client()
        .expect("the SDK's default plugin provides an HTTP client")
}

impl HttpClient for RateLimitedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RateLimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
        })
    }
}

#[derive(Debug)]
struct RateLimitedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
}

impl HttpConnector for RateLimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limiter = self.limiter.clone();
        HttpConnectorFuture::new(async move {
            limiter.admit(&request).await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_aws_quotas_and_zero_is_none() {
        let defaults = RateLimits::default();
        assert_eq!(defaults.quota("lambda").unwrap().rate, 15.0);
        assert_eq!(defaults.quota("apigateway").unwrap().burst, 40.0);
        assert_eq!(defaults.quota("sts"), None);
        assert_eq!(RateLimits::off().quota("lambda"), None);
        assert_eq!("0".parse::<RateLimits>().unwrap().quota("ecs"), None);
    }

    #[test]
    fn flag_values_override_per_service() {
        let limits: RateLimits = "5, lambda=50, ecs=0".parse().unwrap();
        assert_eq!(limits.quota("lambda").unwrap().rate, 50.0);
        assert_eq!(limits.quota("ecs"), None);
        // Every other service gets 5 a second, its burst capped at a second's worth.
        let apigw = limits.quota("apigateway").unwrap();
        assert_eq!((apigw.rate, apigw.burst), (5.0, 5.0));
        let only: RateLimits = "ssm=2".parse().unwrap();
        assert_eq!(only.quota("ssm").unwrap().rate, 2.0);
        assert_eq!(only.quota("lambda").unwrap().rate, 15.0);
        let slow: RateLimits = "0.5".parse().unwrap();
        assert_eq!(slow.quota("ecr").unwrap().burst, 1.0);
    }

    #[test]
    fn bad_values_name_what_is_wrong() {
        for (value, says) in [
            ("fast", "\"fast\" is not a rate"),
            ("-1", "\"-1\" is not a rate"),
            ("lamda=3", "\"lamda\" is not a service"),
            ("lambda=", "\"\" is not a rate"),
            ("", "give a rate"),
        ] {
            let err = value.parse::<RateLimits>().unwrap_err();
            assert!(err.contains(says), "{value:?}: {err}");
        }
    }

    #[test]
    fn a_bucket_lets_a_burst_through_then_paces_in_arrival_order() {
        let start = Instant::now();
        let mut bucket = Bucket::new(
            Quota {
                rate: 10.0,
                burst: 3.0,
            },
            start,
        );
        let waits: Vec<Duration> = (0..6).map(|_| bucket.take(start)).collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 0, 0, 100, 200, 300]);
        // A second later the debt is paid and the bucket has refilled to its size, no more.
        let later = start + Duration::from_secs(2);
        let ms: Vec<u128> = (0..4).map(|_| bucket.take(later).as_millis()).collect();
        assert_eq!(ms, [0, 0, 0, 100]);
    }

    #[test]
    fn sustained_rate_never_exceeds_the_quota() {
        // 1,000 requests arriving at once at 15/s with a burst of 15: the last one leaves after
        // (1000 - 15) / 15 seconds, and no second holds more than 15 + 15 departures.
        let start = Instant::now();
        let mut bucket = Bucket::new(
            Quota {
                rate: 15.0,
                burst: 15.0,
            },
            start,
        );
        let departures: Vec<f64> = (0..1000)
            .map(|_| bucket.take(start).as_secs_f64())
            .collect();
        let last = departures.last().copied().unwrap();
        assert!((last - 985.0 / 15.0).abs() < 1e-6, "{last}");
        for window_start in 0..60 {
            let from = f64::from(window_start);
            let in_window = departures
                .iter()
                .filter(|&&t| t >= from && t < from + 1.0)
                .count();
            assert!(in_window <= 30, "{in_window} in second {window_start}");
        }
    }

    #[test]
    fn the_credential_scope_names_service_and_region() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-1/apigateway/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(credential_scope(header), Some(("apigateway", "eu-west-1")));
        assert_eq!(credential_scope("Bearer token"), None);
        assert_eq!(credential_scope("AWS4-HMAC-SHA256 Credential=A/B/C"), None);
    }
}
