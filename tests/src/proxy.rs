//! A fault-injecting HTTP proxy for tests: it sits on 127.0.0.1 between the tools and the
//! emulator and, at configured rates drawn from a seeded generator (so a run can be replayed),
//! answers with each service's own throttling error (HTTP 429 or 400/503 with the service's error
//! code and body), a server error, or resets the connection, before the request reaches the
//! emulator; the rest it forwards. It counts every request by service and operation, and every
//! write that reached the emulator by the pointer it moves. It stops when dropped, after a bounded
//! number of requests, or after ten minutes, whichever comes first.
//!
//! It also stands in for what the emulator cannot do for ECR: moto does not implement
//! GetDownloadUrlForLayer, so the proxy answers it for the blobs a test registers
//! ([`FaultProxy::serve_blob`]) with a loopback URL that it serves itself (`/__blobs/DIGEST`,
//! as S3 would serve ECR's pre-signed layer URL), and it keeps the bytes of every UploadLayerPart
//! by upload id ([`Counts::uploads`]) so a test can check what reached the target registry.
//!
//! And for Lambda: GetFunction's `Code.Location` is a pre-signed S3 URL that nothing serves
//! locally, so for the packages a test registers ([`FaultProxy::serve_package`]) the proxy
//! rewrites the location in GetFunction's answer to a loopback URL of its own that serves the
//! package's bytes (found by the answer's CodeSha256).
//!
//! And for S3 across accounts: moto lets any credentials read any bucket, so a server-side copy
//! from another account's bucket always succeeds there. [`Faults::deny_copy_source`] makes the
//! proxy refuse it as AWS does when the target's credentials may not read the source: HTTP 403
//! AccessDenied (S3's XML error) to every CopyObject and UploadPartCopy whose
//! `x-amz-copy-source` header contains the given text, before the request reaches the emulator.
//!
//! And for API Gateway's definitions (`apigateway` below): moto's GetExport writes Swagger 2.0
//! of the API's current resources without integrations, whatever the stage, and its PutRestApi
//! fails on a MOCK integration; the proxy answers both as AWS does, per deployment.

mod apigateway;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fault rates, in percent of requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub throttle: u32,
    /// Forward the request (the emulator applies it), then answer "throttled" anyway: the
    /// answer to a write that happened is lost, and the client's retry meets its own change.
    pub throttle_after: u32,
    pub server_error: u32,
    pub reset: u32,
    /// Hold the request this long without answering, then close the connection: past the tools'
    /// attempt timeout, the request never reached the emulator.
    pub delay: u32,
    pub delay_by: Duration,
    pub seed: u64,
    /// Refuse (403 AccessDenied) every S3 copy whose `x-amz-copy-source` contains this text
    /// (a bucket name): the target's credentials may not read that source. Not a rate: always.
    pub deny_copy_source: Option<&'static str>,
}

/// What went through the proxy.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// "service Operation" -> requests (faulted or not), STS's aside.
    pub requests: BTreeMap<String, u64>,
    /// Requests to STS: each run asks GetCallerIdentity once per set of credentials, for the
    /// records' `account` (counted apart so the counts of a command's own calls stay its own).
    pub sts: u64,
    /// Faults injected, by kind.
    pub injected: BTreeMap<&'static str, u64>,
    /// Writes that reached the emulator, by the pointer they move ("lambda fn/alias", ...).
    pub writes: BTreeMap<String, u64>,
    /// When each request arrived, by service: what a client-side rate limit shapes.
    pub arrivals: BTreeMap<String, Vec<Instant>>,
    /// The access key ids requests were signed with: which credentials a tool used.
    pub access_keys: std::collections::BTreeSet<String>,
    /// The same, by "service Operation" (STS's aside): which credentials made which call.
    pub access_keys_by_operation: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The bytes each ECR layer upload received (UploadLayerPart, in order), by upload id.
    pub uploads: BTreeMap<String, Vec<u8>>,
}

/// The ECR layer blobs the proxy serves, by digest.
type Blobs = Arc<Mutex<BTreeMap<String, Arc<Vec<u8>>>>>;

/// A running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    pub endpoint: String,
    counts: Arc<Mutex<Counts>>,
    blobs: Blobs,
    apis: apigateway::Definitions,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The most requests one proxy serves before it stops by itself.
const MAX_REQUESTS: u64 = 200_000;
const MAX_LIFETIME: Duration = Duration::from_secs(600);

impl FaultProxy {
    /// Start a proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let counts = Arc::new(Mutex::new(Counts::default()));
        let blobs: Blobs = Arc::default();
        let apis = apigateway::Definitions::default();
        let served_apis = apis.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let shared = counts.clone();
        let served_blobs = blobs.clone();
        let own = endpoint.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("a listener");
                let rng = Arc::new(Mutex::new(faults.seed.max(1)));
                let serve = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        let served: u64 = shared.lock().expect("counts").requests.values().sum();
                        if served >= MAX_REQUESTS {
                            break;
                        }
                        tokio::spawn(connection(
                            client,
                            upstream.clone(),
                            faults,
                            rng.clone(),
                            shared.clone(),
                            (own.clone(), served_blobs.clone(), served_apis.clone()),
                        ));
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                    () = tokio::time::sleep(MAX_LIFETIME) => {}
                }
            });
        });
        FaultProxy {
            endpoint,
            counts,
            blobs,
            apis,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// What went through so far.
    #[must_use]
    pub fn counts(&self) -> Counts {
        self.counts.lock().expect("counts").clone()
    }

    /// The definitions the proxy's API Gateway stand-in imported (PutRestApi), by REST API id:
    /// what each API's working definition is since.
    #[must_use]
    pub fn imported(&self) -> BTreeMap<String, serde_json::Value> {
        self.apis.imported()
    }

    /// Make the API Gateway stand-in's PutRestApi leave `path` out of every definition it
    /// imports from now on: an import that does not come through whole.
    pub fn lose_on_import(&self, path: &str) {
        self.apis.lose_on_import(path);
    }

    /// Serve `bytes` as an ECR layer blob: GetDownloadUrlForLayer for its digest (in any
    /// repository and account) answers a URL of this proxy that serves them. Returns the digest.
    pub fn serve_blob(&self, bytes: Vec<u8>) -> String {
        use sha2::{Digest, Sha256};
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        self.blobs
            .lock()
            .expect("blobs")
            .insert(digest.clone(), Arc::new(bytes));
        digest
    }
}

impl FaultProxy {
    /// Serve `package` as a Lambda deployment package: GetFunction answers for a version whose
    /// CodeSha256 is this package's carry a `Code.Location` of this proxy that serves it.
    /// Returns the CodeSha256 (base64 of the SHA-256, as Lambda reports it).
    pub fn serve_package(&self, package: Vec<u8>) -> String {
        use sha2::{Digest, Sha256};
        let sha = aws_smithy_types::base64::encode(Sha256::digest(&package));
        self.serve_blob(package);
        sha
    }

    /// Serve `served` where GetFunction says `package` is: a download that is not the code
    /// the version reports (a corrupted or substituted package), for the copy's check.
    pub fn serve_package_instead(&self, package: &[u8], served: Vec<u8>) {
        use sha2::{Digest, Sha256};
        let digest = format!("sha256:{:x}", Sha256::digest(package));
        self.blobs
            .lock()
            .expect("blobs")
            .insert(digest, Arc::new(served));
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// xorshift64*: small, seeded, good enough to spread faults.
fn roll(state: &Mutex<u64>) -> u32 {
    let mut s = state.lock().expect("rng");
    let mut x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    u32::try_from(x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33).unwrap_or(0) % 100
}

struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn method_and_path(&self) -> (&str, &str) {
        let mut parts = self.head.split(' ');
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
    }

    /// The service, from the credential scope of the signature: `.../us-east-1/lambda/aws4_request`.
    fn service(&self) -> String {
        self.header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unknown")
            .to_string()
    }

    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        let (method, path) = self.method_and_path();
        let path = path.split('?').next().unwrap_or("");
        format!(
            "{method} {}",
            path.split('/')
                .filter(|s| !s.is_empty())
                .take(3)
                .collect::<Vec<_>>()
                .join("/")
        )
    }

    /// The pointer a write moves, when it is one of the writes the tools make.
    fn pointer_written(&self) -> Option<String> {
        let (method, path) = self.method_and_path();
        let path = path.split('?').next().unwrap_or("");
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let body = String::from_utf8_lossy(&self.body);
        match (self.service().as_str(), method) {
            // PUT /2015-03-31/functions/F/aliases/A, POST /2015-03-31/functions/F/aliases {"Name":A}
            ("lambda", "PUT") if segments.get(3) == Some(&"aliases") => {
                Some(format!("lambda {}/{}", segments[2], segments.get(4)?))
            }
            ("lambda", "POST") if segments.get(3) == Some(&"aliases") => {
                let name: serde_json::Value = serde_json::from_str(&body).ok()?;
                Some(format!("lambda {}/{}", segments[2], name["Name"].as_str()?))
            }
            ("ecs", "POST") if self.operation() == "UpdateService" => {
                let req: serde_json::Value = serde_json::from_str(&body).ok()?;
                Some(format!(
                    "ecs {}/{}",
                    req["cluster"].as_str()?,
                    req["service"].as_str()?
                ))
            }
            ("apigateway", "PATCH") if segments.get(2) == Some(&"stages") => {
                Some(format!("apigateway {}/{}", segments[1], segments.get(3)?))
            }
            // Step Functions' alias writes, by the alias's ARN (a create by its name).
            ("states", "POST")
                if matches!(
                    self.operation().as_str(),
                    "UpdateStateMachineAlias"
                        | "DeleteStateMachineAlias"
                        | "CreateStateMachineAlias"
                ) =>
            {
                let req: serde_json::Value = serde_json::from_str(&body).ok()?;
                let alias = req["stateMachineAliasArn"]
                    .as_str()
                    .or_else(|| req["name"].as_str())?;
                Some(format!("stepfunctions {alias}"))
            }
            ("s3", "PUT") if self.header("x-amz-copy-source").is_some() => {
                Some(format!("s3 {}", segments.join("/")))
            }
            _ => None,
        }
    }
}

async fn read_request(client: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                })
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let mut chunk = [0u8; 16384];
                let n = client.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[end + 4..end + 4 + length].to_vec();
            buffer.drain(..end + 4 + length);
            return Some(Request { head, body });
        }
        let mut chunk = [0u8; 16384];
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The service's own throttling answer, as AWS sends it.
fn throttled(service: &str) -> Vec<u8> {
    let (status, content_type, extra, body) = match service {
        "lambda" => ("429 Too Many Requests", "application/json", "x-amzn-ErrorType: TooManyRequestsException\r\n", r#"{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}"#.to_string()),
        "apigateway" => ("429 Too Many Requests", "application/json", "x-amzn-ErrorType: TooManyRequestsException\r\n", r#"{"message":"Too Many Requests"}"#.to_string()),
        "s3" => ("503 Slow Down", "application/xml", "", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>".to_string()),
        // ECS, ECR, SSM, Secrets Manager (JSON 1.1)
        _ => ("400 Bad Request", "application/x-amz-json-1.1", "", r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string()),
    };
    response(status, content_type, extra, &body)
}

fn server_error(service: &str) -> Vec<u8> {
    match service {
        "s3" => response("500 Internal Server Error", "application/xml", "", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>"),
        "lambda" | "apigateway" => response("503 Service Unavailable", "application/json", "x-amzn-ErrorType: ServiceException\r\n", r#"{"message":"Service unavailable"}"#),
        _ => response("500 Internal Server Error", "application/x-amz-json-1.1", "", r#"{"__type":"InternalFailure","message":"internal failure"}"#),
    }
}

fn response(status: &str, content_type: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What the proxy answers itself for ECR layers (the emulator has no GetDownloadUrlForLayer):
/// `Some` answer, or `None` to go on as for any request. UploadLayerPart's bytes are kept.
fn ecr_stand_in(
    request: &Request,
    endpoint: &str,
    blobs: &Blobs,
    counts: &Mutex<Counts>,
) -> Option<Vec<u8>> {
    let (method, path) = request.method_and_path();
    if let Some(digest) = path.strip_prefix("/__blobs/") {
        if method != "GET" {
            return None;
        }
        let blob = blobs.lock().expect("blobs").get(digest).cloned();
        return Some(match blob {
            Some(bytes) => {
                let mut answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    bytes.len()
                )
                .into_bytes();
                answer.extend_from_slice(&bytes);
                answer
            }
            None => response(
                "404 Not Found",
                "application/xml",
                "",
                "<Error><Code>NoSuchKey</Code></Error>",
            ),
        });
    }
    if request.service() != "ecr" {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    match request.operation().as_str() {
        "GetDownloadUrlForLayer" => {
            let digest = body["layerDigest"].as_str().unwrap_or_default().to_string();
            let known = blobs.lock().expect("blobs").contains_key(&digest);
            Some(if known {
                response(
                    "200 OK",
                    "application/x-amz-json-1.1",
                    "",
                    &serde_json::json!({
                        "downloadUrl": format!("{endpoint}/__blobs/{digest}"),
                        "layerDigest": digest,
                    })
                    .to_string(),
                )
            } else {
                response(
                    "400 Bad Request",
                    "application/x-amz-json-1.1",
                    "",
                    &serde_json::json!({
                        "__type": "LayersNotFoundException",
                        "message": format!("The layer {digest} does not exist"),
                    })
                    .to_string(),
                )
            })
        }
        "UploadLayerPart" => {
            if let (Some(id), Some(blob)) =
                (body["uploadId"].as_str(), body["layerPartBlob"].as_str())
            {
                let bytes = aws_smithy_types::base64::decode(blob).unwrap_or_default();
                counts
                    .lock()
                    .expect("counts")
                    .uploads
                    .entry(id.to_string())
                    .or_default()
                    .extend_from_slice(&bytes);
            }
            None
        }
        _ => None,
    }
}

/// The 403 S3 answers a copy whose source its credentials may not read, when the request's
/// `x-amz-copy-source` contains `source` (counted as the injected fault `deny_copy`).
fn copy_denied(request: &Request, source: Option<&str>, counts: &Mutex<Counts>) -> Option<Vec<u8>> {
    let source = source?;
    let copying = request.header("x-amz-copy-source")?;
    if request.service() != "s3" || !copying.contains(source) {
        return None;
    }
    *counts
        .lock()
        .expect("counts")
        .injected
        .entry("deny_copy")
        .or_default() += 1;
    Some(response(
        "403 Forbidden",
        "application/xml",
        "",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>FAULT</RequestId></Error>",
    ))
}

async fn connection(
    mut client: TcpStream,
    upstream: String,
    faults: Faults,
    rng: Arc<Mutex<u64>>,
    counts: Arc<Mutex<Counts>>,
    (endpoint, blobs, apis): (String, Blobs, apigateway::Definitions),
) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut client, &mut buffer).await {
        let service = request.service();
        {
            let mut c = counts.lock().expect("counts");
            if service == "sts" {
                c.sts += 1;
            } else {
                *c.requests
                    .entry(format!("{service} {}", request.operation()))
                    .or_default() += 1;
                c.arrivals
                    .entry(service.to_string())
                    .or_default()
                    .push(Instant::now());
            }
            if let Some(key) = request.head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                if !name.eq_ignore_ascii_case("authorization") {
                    return None;
                }
                let credential = value.split("Credential=").nth(1)?;
                Some(credential.split('/').next()?.to_string())
            }) {
                if service != "sts" {
                    c.access_keys_by_operation
                        .entry(format!("{service} {}", request.operation()))
                        .or_default()
                        .insert(key.clone());
                }
                c.access_keys.insert(key);
            }
        }
        // Before any fault: the stand-in is the test's AWS, not a flaky one.
        if let Some(answer) = ecr_stand_in(&request, &endpoint, &blobs, &counts)
            .or_else(|| copy_denied(&request, faults.deny_copy_source, &counts))
        {
            if client.write_all(&answer).await.is_err() {
                return;
            }
            continue;
        }
        if let Some(answer) = apigateway::stand_in(&request, &upstream, &apis, &counts).await {
            if client.write_all(&answer).await.is_err() {
                return;
            }
            continue;
        }
        let dice = roll(&rng);
        let fault = if dice < faults.throttle {
            Some("throttle")
        } else if dice < faults.throttle + faults.server_error {
            Some("server_error")
        } else if dice < faults.throttle + faults.server_error + faults.reset {
            Some("reset")
        } else if dice < faults.throttle + faults.server_error + faults.reset + faults.delay {
            Some("delay")
        } else if dice
            < faults.throttle
                + faults.server_error
                + faults.reset
                + faults.delay
                + faults.throttle_after
        {
            Some("throttle_after")
        } else {
            None
        };
        if let Some(kind) = fault {
            *counts
                .lock()
                .expect("counts")
                .injected
                .entry(kind)
                .or_default() += 1;
        }
        let answer = match fault {
            // The connection dies before the request reaches the emulator: nothing happened.
            Some("reset") => return,
            Some("delay") => {
                tokio::time::sleep(faults.delay_by).await;
                return;
            }
            Some("throttle") => throttled(&service),
            Some("throttle_after") => match forward_counted(&upstream, &request, &counts).await {
                Some(_) => throttled(&service),
                None => return,
            },
            Some(_) => server_error(&service),
            None => match forward_counted(&upstream, &request, &counts).await {
                Some(answer) => lambda_code_location(&request, answer, &endpoint, &blobs),
                None => return,
            },
        };
        if client.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// GetFunction's answer with `Code.Location` pointing at this proxy, when the proxy serves the
/// package of the version's CodeSha256 ([`FaultProxy::serve_package`]); any other answer as it is.
fn lambda_code_location(
    request: &Request,
    answer: Vec<u8>,
    endpoint: &str,
    blobs: &Blobs,
) -> Vec<u8> {
    let (method, path) = request.method_and_path();
    let segments: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if request.service() != "lambda"
        || method != "GET"
        || segments.len() != 3
        || segments[1] != "functions"
    {
        return answer;
    }
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer;
    };
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&answer[end + 4..]) else {
        return answer;
    };
    let digest = body["Configuration"]["CodeSha256"]
        .as_str()
        .and_then(|sha| aws_smithy_types::base64::decode(sha).ok())
        .map(|raw| {
            format!(
                "sha256:{}",
                raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        });
    let Some(digest) = digest.filter(|d| blobs.lock().expect("blobs").contains_key(d)) else {
        return answer;
    };
    body["Code"]["Location"] = serde_json::Value::String(format!("{endpoint}/__blobs/{digest}"));
    let head = String::from_utf8_lossy(&answer[..end]);
    let text = body.to_string();
    let mut lines: Vec<String> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
        .map(str::to_string)
        .collect();
    lines.push(format!("Content-Length: {}", text.len()));
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(text.as_bytes());
    out
}

/// [`forward`], counting the write when the emulator answered it (it was applied).
async fn forward_counted(
    upstream: &str,
    request: &Request,
    counts: &Mutex<Counts>,
) -> Option<Vec<u8>> {
    let answer = forward(upstream, request).await?;
    if let Some(pointer) = request.pointer_written() {
        *counts
            .lock()
            .expect("counts")
            .writes
            .entry(pointer)
            .or_default() += 1;
    }
    Some(answer)
}

/// Send one request upstream on its own connection and read the whole answer.
async fn forward(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    // One request per upstream connection: the answer ends when the emulator closes it.
    let head: Vec<&str> = request
        .head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut bytes = head.join("\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    bytes.extend_from_slice(&request.body);
    server.write_all(&bytes).await.ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await.ok()?;
    // The client keeps its connection: the answer must say how long it is, and not close it.
    Some(keep_alive(&answer))
}

/// Rewrite an answer that ended by closing the connection into one with a Content-Length.
fn keep_alive(answer: &[u8]) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer.to_vec();
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let body = &answer[end + 4..];
    let mut lines: Vec<String> = head
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("connection:")
                && !l.starts_with("content-length:")
                && !l.starts_with("transfer-encoding:")
        })
        .map(str::to_string)
        .collect();
    // A HEAD answer carries the object's length but no body: keep its Content-Length as it was.
    let original_length = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-length:"))
        .map(str::to_string);
    match original_length {
        Some(length) if body.is_empty() => lines.push(length),
        _ => lines.push(format!("Content-Length: {}", body.len())),
    }
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}
