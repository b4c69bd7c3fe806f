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
//!
//! The same layer turns throttling into backpressure. A throttled answer (and a request that
//! could not be sent to an endpoint that has answered before) is sent again after a backoff, for
//! as long as the operation's deadline allows, instead of costing one of the SDK's few attempts:
//! the service's rate here drops at each throttle and climbs back as calls succeed, so a batch
//! slows to what AWS allows and then recovers. Other errors keep the SDK's attempt limit. The
//! attempt timeout is kept here too, counted from when the request leaves: waiting for a token
//! is never a timeout.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
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
    /// The rate tokens refill at now: the quota's, or less after AWS answered "throttled".
    rate: f64,
    /// Tokens in the bucket; negative when lent ahead to requests still waiting.
    tokens: f64,
    updated: Instant,
}

/// After a throttle the rate drops to this share of what it was, never below `MIN_RATE` (or the
/// quota, where that is lower); each answered call gives back a tenth of the quota. One throttle
/// in five calls thus keeps a service near its quota, while throttling on every call brings it
/// down to the floor within a few calls.
const THROTTLED_SHARE: f64 = 0.7;
const RECOVERY_SHARE: f64 = 0.1;
const MIN_RATE: f64 = 1.0;

impl Bucket {
    fn new(quota: Quota, now: Instant) -> Self {
        Bucket {
            quota,
            rate: quota.rate,
            tokens: quota.burst,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.quota.burst);
        self.updated = now;
    }

    /// Take one token at `now`; how long the request must wait before it may be sent.
    fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// AWS answered "throttled": slow down. The bucket's burst is spent too, so the requests
    /// after this one are paced at the lower rate rather than sent at once.
    fn throttled(&mut self, now: Instant) {
        self.refill(now);
        self.rate = (self.rate * THROTTLED_SHARE).max(MIN_RATE.min(self.quota.rate));
        self.tokens = self.tokens.min(0.0);
    }

    /// A call was answered: climb back towards the quota.
    fn answered(&mut self, now: Instant) {
        if self.rate < self.quota.rate {
            self.refill(now);
            self.rate = (self.rate + self.quota.rate * RECOVERY_SHARE).min(self.quota.rate);
        }
    }
}

/// What the client knows of one (service, region): its bucket (`None`: no limit), and whether
/// it has answered at all (a request that cannot be sent to an endpoint that never answered is
/// a wrong endpoint or region, and fails at once; to one that has, it is a blip, and is retried).
#[derive(Debug)]
struct Lane {
    bucket: Option<Mutex<Bucket>>,
    answered: std::sync::atomic::AtomicBool,
}

impl Lane {
    fn with_bucket<T>(&self, f: impl FnOnce(&mut Bucket) -> T) -> Option<T> {
        self.bucket
            .as_ref()
            .map(|bucket| f(&mut bucket.lock().unwrap_or_else(|e| e.into_inner())))
    }

    fn has_answered(&self) -> bool {
        self.answered.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The lanes of one process, made on first use per (service, region).
#[derive(Debug)]
pub struct Limiter {
    limits: RateLimits,
    lanes: Mutex<HashMap<(String, String), Arc<Lane>>>,
}

impl Limiter {
    #[must_use]
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            limits,
            lanes: Mutex::new(HashMap::new()),
        }
    }

    fn lane(&self, service: &str, region: &str) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes
            .entry((service.to_string(), region.to_string()))
            .or_insert_with(|| {
                Arc::new(Lane {
                    bucket: self
                        .limits
                        .quota(service)
                        .map(|quota| Mutex::new(Bucket::new(quota, Instant::now()))),
                    answered: std::sync::atomic::AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// Wait for a token of `lane` (at once where it has no limit).
    async fn admit(lane: &Lane, service: &str, region: &str) {
        let delay = lane
            .with_bucket(|bucket| bucket.take(Instant::now()))
            .unwrap_or_default();
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
    timing: Timing,
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
    pub fn new(limits: RateLimits, timing: Timing) -> Self {
        RateLimitedClient {
            inner: default_client(),
            limiter: Arc::new(Limiter::new(limits)),
            timing,
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
            timing: self.timing,
        })
    }
}

#[derive(Debug)]
struct RateLimitedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
    timing: Timing,
}

impl HttpConnector for RateLimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limiter = self.limiter.clone();
        let timing = self.timing;
        HttpConnectorFuture::new(async move { send(&inner, &limiter, timing, request).await })
    }
}

/// How long one request may take once it has left, and how long a throttled request is sent
/// again for (the operation's deadline, less a margin so the throttle, not a timeout, is what
/// the user reads if AWS never lets it through).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub attempt: Duration,
    pub deadline: Duration,
}

/// AWS's error codes for "slow down" (the SDK's own list, `aws_runtime::retries::classifiers`).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether an error answer's code (from `x-amzn-ErrorType`, a JSON `__type`/`code`, or an XML
/// `<Code>`) is a throttling code.
fn names_throttling(header: Option<&str>, body: &[u8]) -> bool {
    // `x-amzn-ErrorType: TooManyRequestsException:http://internal.amazon.com/...`
    let code_of = |text: &str| -> String {
        let text = text.rsplit('#').next().unwrap_or(text);
        text.split(':').next().unwrap_or(text).trim().to_string()
    };
    if header.is_some_and(|h| THROTTLING_CODES.contains(&code_of(h).as_str())) {
        return true;
    }
    let body = String::from_utf8_lossy(body);
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&body) {
        return ["__type", "code", "Code"].iter().any(|key| {
            map.get(*key)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|v| THROTTLING_CODES.contains(&code_of(v).as_str()))
        });
    }
    body.split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .is_some_and(|code| THROTTLING_CODES.contains(&code.trim()))
}

/// The answer, and whether it says "throttled". Only the small bodies of error answers that
/// may carry a throttling code are read (and put back, for the SDK to parse).
async fn classify(mut response: HttpResponse) -> (HttpResponse, bool) {
    let status = response.status().as_u16();
    if status == 429 {
        return (response, true);
    }
    if status != 400 && status != 503 {
        return (response, false);
    }
    let header = response
        .headers()
        .get("x-amzn-errortype")
        .map(str::to_string);
    let body = response.take_body();
    match aws_smithy_types::byte_stream::ByteStream::new(body)
        .collect()
        .await
    {
        Ok(bytes) => {
            let bytes = bytes.into_bytes();
            // S3 answers a throttled HEAD with a bare 503 (a HEAD answer has no body to say
            // SlowDown in): an empty 503 is throttling too.
            let throttled =
                (status == 503 && bytes.is_empty()) || names_throttling(header.as_deref(), &bytes);
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(bytes);
            (response, throttled)
        }
        Err(e) => {
            // The body broke off: let the SDK see a failed read, as it would have.
            tracing::debug!("error answer unreadable: {e}");
            *response.body_mut() = aws_smithy_types::body::SdkBody::empty();
            (response, false)
        }
    }
}

/// The wait before sending a throttled request again: exponential from 100 ms to 2 s with
/// jitter (AWS's `x-amz-retry-after` where it gives one), so the requests a throttle turned back
/// do not return together.
fn backoff(tries: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after;
    }
    let ceiling = Duration::from_millis(100)
        .saturating_mul(1u32 << tries.min(5))
        .min(Duration::from_secs(2));
    let jitter =
        0.5 + f64::from(getrandom::u32().unwrap_or(u32::MAX / 2)) / f64::from(u32::MAX) / 2.0;
    ceiling.mul_f64(jitter)
}

/// Send one request: wait for its token, send it with the attempt timeout, and send it again
/// while AWS answers "throttled" (or, from an endpoint that has answered before, the connection
/// fails before an answer) and the deadline allows. A request whose body cannot be replayed
/// (a stream) is sent once, its answer left to the SDK's own retries.
async fn send(
    inner: &SharedHttpConnector,
    limiter: &Limiter,
    timing: Timing,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let Some((service, region)) = request
        .headers()
        .get("authorization")
        .and_then(credential_scope)
        .map(|(s, r)| (s.to_string(), r.to_string()))
    else {
        // Not signed (the instance metadata service): no limit, no retries of ours.
        return timed(inner, timing.attempt, request).await;
    };
    let lane = limiter.lane(&service, &region);
    let started = Instant::now();
    let mut request = request;
    let mut tries: u32 = 0;
    loop {
        Limiter::admit(&lane, &service, &region).await;
        let again = request.try_clone();
        let result = timed(inner, timing.attempt, request).await;
        let (answer, retry_after) = match result {
            Ok(response) => {
                let (response, throttled) = classify(response).await;
                lane.answered
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                if !throttled {
                    lane.with_bucket(|bucket| bucket.answered(Instant::now()));
                    return Ok(response);
                }
                lane.with_bucket(|bucket| bucket.throttled(Instant::now()));
                let retry_after = response
                    .headers()
                    .get("x-amz-retry-after")
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_millis);
                (Ok(response), retry_after)
            }
            // Not sent, or no answer: worth another try only where the endpoint has answered
            // before (a wrong endpoint or region fails fast) and nothing may be half-read.
            Err(e) if e.is_io() && lane.has_answered() => (Err(e), None),
            Err(e) => return Err(e),
        };
        tries += 1;
        let wait = backoff(tries, retry_after);
        let Some(next) =
            again.filter(|_| started.elapsed() + wait + timing.attempt < timing.deadline)
        else {
            return answer;
        };
        tracing::debug!(
            service,
            region,
            tries,
            wait_ms = wait.as_millis(),
            "{}: sending again",
            if answer.is_ok() {
                "throttled"
            } else {
                "connection failed"
            }
        );
        tokio::time::sleep(wait).await;
        request = next;
    }
}

/// One request with the attempt timeout, counted from when it leaves.
async fn timed(
    inner: &SharedHttpConnector,
    attempt: Duration,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    match tokio::time::timeout(attempt, inner.call(request)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectorError::timeout(
            format!("no answer within the attempt timeout of {attempt:?}").into(),
        )),
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

    #[test]
    fn a_throttle_slows_the_bucket_and_answers_bring_it_back() {
        let start = Instant::now();
        let quota = Quota {
            rate: 10.0,
            burst: 10.0,
        };
        let mut bucket = Bucket::new(quota, start);
        bucket.throttled(start);
        assert!((bucket.rate - 7.0).abs() < 1e-9);
        // The burst is spent: the next request waits for a token at the lower rate.
        assert_eq!(bucket.take(start).as_millis(), 142);
        for _ in 0..20 {
            bucket.throttled(start);
        }
        assert!((bucket.rate - MIN_RATE).abs() < 1e-9, "{}", bucket.rate);
        for _ in 0..9 {
            bucket.answered(start);
        }
        assert!((bucket.rate - 10.0).abs() < 1e-9, "{}", bucket.rate);
        bucket.answered(start);
        assert!((bucket.rate - 10.0).abs() < 1e-9, "never above the quota");
        // A quota below the floor is its own floor.
        let mut slow = Bucket::new(
            Quota {
                rate: 0.5,
                burst: 1.0,
            },
            start,
        );
        slow.throttled(start);
        assert!((slow.rate - 0.5).abs() < 1e-9);
    }

    #[test]
    fn throttling_is_read_from_each_protocol_s_error_form() {
        // REST-JSON (Lambda, API Gateway) put the code in a header.
        assert!(names_throttling(
            Some("TooManyRequestsException:http://internal.amazon.com/coral/com.amazon.coral.service/"),
            b"{\"message\":\"Rate exceeded\"}"
        ));
        // awsJson (ECS, ECR, SSM, Secrets Manager): `__type`, sometimes with a namespace.
        assert!(names_throttling(
            None,
            br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
        ));
        assert!(names_throttling(
            None,
            br#"{"__type":"com.amazon.coral.availability#ThrottlingException"}"#
        ));
        // REST-XML (S3): `<Code>`.
        assert!(names_throttling(
            None,
            b"<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>"
        ));
        // Other errors are not throttling.
        assert!(!names_throttling(
            None,
            br#"{"__type":"ResourceNotFoundException"}"#
        ));
        assert!(!names_throttling(Some("ResourceConflictException"), b"{}"));
        assert!(!names_throttling(
            None,
            b"<Error><Code>NoSuchKey</Code></Error>"
        ));
        assert!(!names_throttling(None, b"not an answer"));
    }

    #[test]
    fn backoff_grows_with_jitter_to_two_seconds() {
        for tries in 1..10 {
            let wait = backoff(tries, None);
            let ceiling =
                Duration::from_millis(100 * (1 << tries.min(5))).min(Duration::from_secs(2));
            assert!(wait <= ceiling && wait >= ceiling / 2, "{tries}: {wait:?}");
        }
        assert_eq!(
            backoff(1, Some(Duration::from_millis(1234))),
            Duration::from_millis(1234)
        );
    }

    #[tokio::test]
    async fn an_answer_is_throttling_by_status_code_or_an_empty_503() {
        use aws_smithy_types::body::SdkBody;
        let answer = |status: u16, body: &str| {
            HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()))
        };
        assert!(classify(answer(429, "{}")).await.1);
        // A throttled HEAD to S3: 503 and no body to name SlowDown in.
        assert!(classify(answer(503, "")).await.1);
        assert!(
            classify(answer(503, "<Error><Code>SlowDown</Code></Error>"))
                .await
                .1
        );
        assert!(
            !classify(answer(503, "<Error><Code>InternalError</Code></Error>"))
                .await
                .1
        );
        assert!(!classify(answer(500, "")).await.1);
        assert!(!classify(answer(404, "")).await.1);
        // The body read to decide is put back for the SDK to parse.
        let (back, throttled) = classify(answer(400, r#"{"__type":"ThrottlingException"}"#)).await;
        assert!(throttled);
        assert_eq!(
            back.body().bytes(),
            Some(&br#"{"__type":"ThrottlingException"}"#[..])
        );
    }
}
