//! AWS access, the same in every tool: `--profile`, `--region`, `--endpoint-url` over the SDK's
//! own environment and files; standard retries; timeouts that end a dead connection in seconds;
//! and AWS failures turned into one sentence a user can act on instead of the SDK's chain of every
//! provider it tried.

use crate::config::{EnvSettings, Project};
use crate::error::{Error, Result};
use crate::rate::{RateLimitedClient, RateLimits, Timing};
use aws_config::imds;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;
use std::time::Duration;

/// The AWS flags every tool has. Each one beats promote.toml's `[env.NAME]`, which beats the
/// SDK's own environment variables and config files.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS profile from the shared config files (default: AWS_PROFILE, else "default").
    #[arg(long, global = true, value_name = "NAME", help_heading = "AWS")]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION, else the profile's region).
    #[arg(long, global = true, value_name = "REGION", help_heading = "AWS")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (a local emulator, a VPC endpoint). AWS_ENDPOINT_URL
    /// and AWS_ENDPOINT_URL_<SERVICE> are honoured too.
    #[arg(long, global = true, value_name = "URL", help_heading = "AWS")]
    pub endpoint_url: Option<String>,
    /// Requests per second per service and region: N for every service, SERVICE=N for one
    /// (`20,lambda=50`), 0 for no limit [default: AWS's quotas: lambda 15, apigateway 10, ecs
    /// 20, ecr 10, ssm 40, secretsmanager 100, s3 3500].
    #[arg(
        long,
        global = true,
        env = "PROMOTE_RATE_LIMIT",
        value_name = "RATE",
        help_heading = "AWS",
        hide_env_values = true
    )]
    pub rate_limit: Option<RateLimits>,
}

/// Attempts per call (exponential backoff with jitter; throttling and transient errors retried).
/// Three is AWS's default, and keeps an unreachable endpoint's failure within a few seconds.
const MAX_ATTEMPTS: u32 = 3;
/// A host that does not answer is given up on quickly; a slow answer gets longer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// `PROMOTE_ATTEMPT_TIMEOUT` (seconds) overrides the attempt timeout: shorter where a hung
/// connection should be given up on sooner (and in the fault tests).
fn attempt_timeout() -> Duration {
    std::env::var("PROMOTE_ATTEMPT_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(ATTEMPT_TIMEOUT, Duration::from_secs_f64)
}
/// A whole call, retries included: a throttled request is sent again until this deadline (less
/// `DEADLINE_MARGIN`, so what fails is the throttled request, not the clock), and a batch queued
/// behind a slowed-down service must slow down, not time out.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// Builds and keeps one SDK configuration per distinct (profile, region, endpoint): every
/// environment that shares them shares one configuration and one credentials cache.
#[derive(Debug)]
pub struct Aws {
    args: AwsArgs,
    project: Option<Project>,
    configs: tokio::sync::Mutex<HashMap<EnvSettings, SdkConfig>>,
    /// Whose credentials each (profile, endpoint) holds, asked of STS once.
    identities: tokio::sync::Mutex<HashMap<EnvSettings, Identity>>,
    /// The (environment, region) pairs already described at `-v`.
    said: tokio::sync::Mutex<std::collections::HashSet<String>>,
    /// One HTTP client for the process: one connection pool, and one rate limit per service and
    /// region whichever environment's configuration a request goes through.
    http: RateLimitedClient,
}

impl Aws {
    #[must_use]
    pub fn new(args: AwsArgs, project: Option<Project>) -> Self {
        let http = RateLimitedClient::new(
            args.rate_limit.clone().unwrap_or_default(),
            Timing {
                attempt: attempt_timeout(),
                deadline: OPERATION_TIMEOUT.saturating_sub(DEADLINE_MARGIN),
            },
        );
        Aws {
            args,
            project,
            configs: tokio::sync::Mutex::new(HashMap::new()),
            identities: tokio::sync::Mutex::new(HashMap::new()),
            said: tokio::sync::Mutex::new(std::collections::HashSet::new()),
            http,
        }
    }

    /// The settings that apply to `env`: flags first, then promote.toml's `[env.NAME]`.
    #[must_use]
    pub fn settings(&self, env: Option<&str>) -> EnvSettings {
        let file = match (env, &self.project) {
            (Some(env), Some(project)) => project.env_settings(env),
            _ => EnvSettings::default(),
        };
        EnvSettings {
            region: self.args.region.clone().or(file.region),
            profile: self.args.profile.clone().or(file.profile),
            endpoint_url: self.args.endpoint_url.clone().or(file.endpoint_url),
        }
    }

    /// The SDK configuration for an environment (or for no environment in particular).
    pub async fn config(&self, env: Option<&str>) -> Result<SdkConfig> {
        self.config_with(self.settings(env)).await
    }

    /// The SDK configuration for an environment, in a given region (a record's `region` decides
    /// where its resource lives).
    pub async fn config_in(&self, env: Option<&str>, region: Option<&str>) -> Result<SdkConfig> {
        let mut settings = self.settings(env);
        if let Some(region) = region {
            settings.region = Some(region.to_string());
        }
        self.config_with(settings).await
    }

    /// The account an environment's credentials act in, asked of STS once per set of
    /// credentials, and said once per environment at `-v` with the region and where the
    /// credentials come from. Every record the run writes for `env` names it.
    pub async fn account(
        &self,
        env: Option<&str>,
        settings: &EnvSettings,
        config: &SdkConfig,
    ) -> Result<String> {
        // The region does not change whose credentials they are.
        let who = EnvSettings {
            region: None,
            ..settings.clone()
        };
        let mut identities = self.identities.lock().await;
        let identity = match identities.get(&who) {
            Some(identity) => identity.clone(),
            None => {
                let identity = caller_identity(config).await?;
                identities.insert(who, identity.clone());
                identity
            }
        };
        let place = format!(
            "{}\n{}",
            env.unwrap_or_default(),
            settings
                .region
                .as_deref()
                .or(config.region().map(Region::as_ref))
                .unwrap_or_default()
        );
        if self.said.lock().await.insert(place) {
            tracing::info!(
                "{}: account {}, region {}, credentials from {} (acting as {})",
                env.map_or_else(|| "no environment".to_string(), |e| format!("env {e}")),
                identity.account,
                region_of(config).as_deref().unwrap_or("none"),
                credential_source(settings),
                identity.arn,
            );
        }
        ACCOUNTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                env.unwrap_or_default().to_string(),
                identity.account.clone(),
            );
        Ok(identity.account)
    }

    async fn config_with(&self, settings: EnvSettings) -> Result<SdkConfig> {
        let mut configs = self.configs.lock().await;
        if let Some(config) = configs.get(&settings) {
            return Ok(config.clone());
        }
        let config = load(&settings, &self.http).await?;
        configs.insert(settings, config.clone());
        Ok(config)
    }
}

/// Who a set of credentials is.
#[derive(Debug, Clone)]
struct Identity {
    account: String,
    /// The caller's ARN (a user, or `assumed-role/ROLE/SESSION`), for `-v`.
    arn: String,
}

/// The account each environment of this run acts in (`""` for no environment), as found by
/// [`Aws::account`]. Process-wide, like the run's output, so that a record is stamped with its
/// account wherever it is made (`crate::engine::Target::record`).
static ACCOUNTS: std::sync::Mutex<std::collections::BTreeMap<String, String>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The account `env`'s credentials act in, once a client for it has been made.
#[must_use]
pub fn account_of(env: Option<&str>) -> Option<String> {
    ACCOUNTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(env.unwrap_or_default())
        .cloned()
}

async fn caller_identity(config: &SdkConfig) -> Result<Identity> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            aws_error(
                "finding the account of the credentials (sts:GetCallerIdentity)",
                &e,
            )
        })?;
    Ok(Identity {
        account: out.account.unwrap_or_default(),
        arn: out.arn.unwrap_or_default(),
    })
}

/// Where an environment's credentials come from, in the words of the AWS configuration, for
/// `-v`. Never a key, only where it is.
fn credential_source(settings: &EnvSettings) -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let Some(profile) = settings.profile.clone().or_else(|| {
        var("AWS_ACCESS_KEY_ID")
            .is_none()
            .then(|| var("AWS_PROFILE"))
            .flatten()
    }) else {
        if var("AWS_ACCESS_KEY_ID").is_some() {
            return "the environment (AWS_ACCESS_KEY_ID)".into();
        }
        if var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
            return "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)".into();
        }
        return "the default chain (profile \"default\", else the instance or task role)".into();
    };
    let files = ProfileFiles::from_env();
    let keys = profile_keys(&files, &profile);
    let key = |name: &str| {
        keys.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let how = if let Some(role) = key("role_arn") {
        let from = key("source_profile")
            .map(|p| format!("source_profile {p:?}"))
            .or_else(|| key("credential_source").map(|c| format!("credential_source {c}")))
            .or_else(|| key("web_identity_token_file").map(|_| "a web identity token".to_string()))
            .unwrap_or_else(|| "its own keys".into());
        format!(", assuming {role} from {from}")
    } else if key("sso_session").is_some() || key("sso_start_url").is_some() {
        ", through SSO".into()
    } else if key("credential_process").is_some() {
        ", through credential_process".into()
    } else {
        String::new()
    };
    format!("profile {profile:?}{how}")
}

/// The `key = value` lines of a profile's section, config file first, then credentials file.
fn profile_keys(files: &ProfileFiles, profile: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for (path, config_file) in [(&files.config, true), (&files.credentials, false)] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let mut inside = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                inside = profiles_in(line, config_file).iter().any(|p| p == profile);
            } else if let (true, Some((k, v))) = (inside, line.split_once('=')) {
                keys.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    keys
}

/// Load a configuration the way the AWS CLI would, but bounded in time: the instance metadata
/// service is asked once with a short timeout, so a laptop with no credentials gets its answer
/// in about a second instead of waiting on retries to an address that does not exist.
async fn load(settings: &EnvSettings, http: &RateLimitedClient) -> Result<SdkConfig> {
    let imds = imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_secs(1))
        .build();

    let mut profile_region = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(profile) = &settings.profile {
        profile_region = profile_region.profile_name(profile);
    }
    let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
        .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .or_else(profile_region.build())
        .or_else(
            aws_config::imds::region::ImdsRegionProvider::builder()
                .imds_client(imds.clone())
                .build(),
        )
        .region()
        .await
        .ok_or_else(|| Error::Aws {
            doing: "choosing an AWS region".into(),
            message: "no region is configured: pass --region, set AWS_REGION, add `region` to \
                      your profile, or set `region` under [env.NAME] in promote.toml"
                .into(),
        })?;

    // A profile named for the environment (`--profile`, promote.toml) is that environment's
    // credentials whatever the environment variables say, as in the AWS CLI: CI that sets
    // AWS_ACCESS_KEY_ID for its own account must not promote into prod with those keys. The
    // profile provider resolves role_arn with source_profile or credential_source,
    // web_identity_token_file, SSO and credential_process. With no profile named, the SDK's
    // default chain (environment, AWS_PROFILE, files, web identity, instance metadata).
    let credentials = match &settings.profile {
        Some(profile) => {
            check_profile(profile, &ProfileFiles::from_env())?;
            // The STS calls of a role chain go through the same HTTP client (rate limits,
            // timeouts) and ask STS in the environment's region. Their endpoint is the AWS
            // configuration's (AWS_ENDPOINT_URL[_STS], the profile's `endpoint_url`), not
            // `--endpoint-url`, as in the AWS CLI: a VPC endpoint for one service is not STS.
            let provider_config = aws_config::provider_config::ProviderConfig::default()
                .with_region(Some(region.clone()))
                .with_http_client(http.clone());
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_name(profile)
                    .build(),
            )
        }
        None => aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                .region(region.clone())
                .imds_client(imds)
                .build()
                .await,
        ),
    };

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .http_client(http.clone())
        .retry_config(retry_config())
        // The attempt timeout is the HTTP client's (`crate::rate`): counted from when a request
        // leaves, so that waiting for a rate token, or a throttled request sent again, is never
        // a timeout.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        // Upload stall protection would count the wait for a rate token as a stalled upload
        // ("0 B/s observed"). Request bodies here are in memory and cannot stall on this side;
        // a server that stops reading is caught by the attempt timeout. Downloads keep it.
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .download_enabled(true)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    Ok(loader.load().await)
}

/// The shared config and credentials files, where the AWS CLI looks for them.
#[derive(Debug, Clone)]
struct ProfileFiles {
    config: std::path::PathBuf,
    credentials: std::path::PathBuf,
}

impl ProfileFiles {
    fn from_env() -> ProfileFiles {
        let home = std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        let file = |var: &str, default: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map_or_else(|| home.join(".aws").join(default), std::path::PathBuf::from)
        };
        ProfileFiles {
            config: file("AWS_CONFIG_FILE", "config"),
            credentials: file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        }
    }
}

/// The profile names a shared file defines: `[profile NAME]` (and `[default]`) in the config
/// file, `[NAME]` in the credentials file.
fn profiles_in(text: &str, config_file: bool) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let inner = line.strip_prefix('[')?.split(']').next()?.trim();
            if !config_file {
                return Some(inner.to_string());
            }
            match inner.strip_prefix("profile") {
                Some(rest) if rest.starts_with(char::is_whitespace) => {
                    Some(rest.trim().to_string())
                }
                _ if inner == "default" => Some(inner.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// An unknown profile is a mistake on the command line or in promote.toml, not a reason to fall
/// back to other credentials: exit 2, naming the profile and the files read.
fn check_profile(profile: &str, files: &ProfileFiles) -> Result<()> {
    let defined = |path: &std::path::Path, config_file: bool| {
        std::fs::read_to_string(path)
            .map(|text| profiles_in(&text, config_file).iter().any(|p| p == profile))
            .unwrap_or(false)
    };
    if defined(&files.config, true) || defined(&files.credentials, false) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "profile {profile:?} is not defined in {} or {} (AWS_CONFIG_FILE, \
         AWS_SHARED_CREDENTIALS_FILE); check --profile or `profile` in promote.toml",
        files.config.display(),
        files.credentials.display()
    )))
}

/// A service client and where it points.
#[derive(Debug, Clone)]
pub struct Located<C> {
    pub client: C,
    /// The region the client calls, for records.
    pub region: Option<String>,
    /// The effective settings (profile, region, endpoint): two locations with equal settings are
    /// the same account and region, so what is read through one holds for the other.
    pub settings: EnvSettings,
    /// The AWS account the client's credentials act in (STS GetCallerIdentity), when known:
    /// whether two environments are one account decides whether an artifact can be shared
    /// or must be copied.
    pub account: Option<String>,
}

impl<C> Located<C> {
    /// Whether what is read through `self` lives where `other` would write it: one account
    /// (as far as both are known) and one region.
    #[must_use]
    pub fn same_place<D>(&self, other: &Located<D>) -> bool {
        self.region == other.region
            && match (&self.account, &other.account) {
                (Some(a), Some(b)) => a == b,
                _ => self.settings.profile == other.settings.profile,
            }
    }
}

/// Hands out a tool's service clients per (environment, region), each built once. `C` is whatever
/// a tool calls: one SDK client, or a pair of them.
pub struct Clients<'a, C> {
    source: ClientSource<'a, C>,
    cache: tokio::sync::Mutex<HashMap<EnvSettings, Located<C>>>,
}

enum ClientSource<'a, C> {
    Aws {
        aws: &'a Aws,
        make: fn(&SdkConfig) -> C,
    },
    /// One client for everything (tests with SDK-level mocks), and the configuration other
    /// services' clients are made from, when the test gives one.
    Fixed(Located<C>, Option<Box<SdkConfig>>),
}

impl<C> std::fmt::Debug for Clients<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").finish_non_exhaustive()
    }
}

impl<'a, C: Clone> Clients<'a, C> {
    /// Clients built by `make` from the configuration of each environment.
    #[must_use]
    pub fn new(aws: &'a Aws, make: fn(&SdkConfig) -> C) -> Self {
        Clients {
            source: ClientSource::Aws { aws, make },
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Every call goes to `client`, reported as being in `region`.
    #[must_use]
    pub fn fixed(client: C, region: &str) -> Clients<'static, C> {
        Clients {
            source: ClientSource::Fixed(
                Located {
                    client,
                    region: Some(region.to_string()),
                    settings: EnvSettings::default(),
                    account: None,
                },
                None,
            ),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// [`Clients::fixed`], where the clients of other services (a traffic shift's alarms and
    /// hooks) are made from `config`: a test that mocks one service and emulates the others.
    #[must_use]
    pub fn sharing(mut self, config: SdkConfig) -> Self {
        if let ClientSource::Fixed(_, other) = &mut self.source {
            *other = Some(Box::new(config));
        }
        self
    }

    /// The configuration of `env` (in `region`): for a client of another service than the
    /// tool's own, acting with the same credentials. `None` for fixed clients not
    /// [`sharing`](Clients::sharing) one.
    pub async fn config(
        &self,
        env: Option<&str>,
        region: Option<&str>,
    ) -> Result<Option<SdkConfig>> {
        match &self.source {
            ClientSource::Fixed(_, config) => Ok(config.as_deref().cloned()),
            ClientSource::Aws { aws, .. } => aws.config_in(env, region).await.map(Some),
        }
    }

    /// The client for `env`, in `region` when an ARN, a URI or a record names one.
    pub async fn get(&self, env: Option<&str>, region: Option<&str>) -> Result<Located<C>> {
        let (aws, make) = match &self.source {
            ClientSource::Fixed(located, _) => return Ok(located.clone()),
            ClientSource::Aws { aws, make } => (aws, make),
        };
        let mut settings = aws.settings(env);
        if let Some(region) = region {
            settings.region = Some(region.to_string());
        }
        let mut cache = self.cache.lock().await;
        if let Some(located) = cache.get(&settings) {
            return Ok(located.clone());
        }
        let config = aws.config_in(env, region).await?;
        let account = aws.account(env, &settings, &config).await?;
        let located = Located {
            client: make(&config),
            region: region_of(&config),
            settings: settings.clone(),
            account: Some(account),
        };
        cache.insert(settings, located.clone());
        Ok(located)
    }
}

/// Standard retries for what is not throttling: exponential backoff with jitter, `MAX_ATTEMPTS`
/// attempts. Throttling does not spend them: the HTTP client under the SDK (`crate::rate`) sends
/// a throttled request again until the deadline, and its rate per service drops at each throttle
/// and climbs back as calls succeed (the SDK's adaptive mode cuts the rate so far, to half a call
/// a second, that one throttle in five kept a batch at a crawl). `MAX_ATTEMPTS` attempts, or what
/// `AWS_MAX_ATTEMPTS` (the SDKs' and the AWS CLI's own setting) asks for: a pipeline through a
/// busy control plane may want more. The SDK would read it itself, but an explicit retry
/// configuration hides it.
fn retry_config() -> RetryConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(MAX_ATTEMPTS);
    RetryConfig::standard().with_max_attempts(attempts)
}

/// The region a configuration talks to, for records.
#[must_use]
pub fn region_of(config: &SdkConfig) -> Option<String> {
    config.region().map(ToString::to_string)
}

/// Turn an SDK failure into an error that says what was being done and what went wrong, in one
/// sentence. Service errors keep AWS's code (`ResourceNotFoundException: ...`); a missing
/// credential, an unreachable endpoint or a timeout says so and what to do.
pub fn aws_error<E>(doing: impl Into<String>, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::Aws {
        doing: doing.into(),
        message: describe(err),
    }
}

/// The one-sentence description of an SDK failure used by [`aws_error`].
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(service) = err.as_service_error() {
        return match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            // No error code: an answer the SDK could not read. Its HTTP status says more than
            // the SDK's "unhandled error".
            _ => match err.raw_response() {
                Some(raw) => format!(
                    "AWS answered HTTP {} in a form the SDK could not read ({service})",
                    raw.status().as_u16()
                ),
                None => service.to_string(),
            },
        };
    }
    if chain_has_credentials_error(err) {
        return "no AWS credentials found: pass --profile or set AWS_PROFILE, set \
                AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or sign in with `aws sso login`"
            .to_string();
    }
    let cause = root_cause(err);
    match err {
        SdkError::TimeoutError(_) => {
            "AWS did not answer in time (operation timeout); check the network and the endpoint"
                .into()
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => format!(
            "AWS did not answer in time ({cause}); check the network, the region and the endpoint"
        ),
        SdkError::DispatchFailure(failure) if failure.is_io() => format!(
            "could not reach AWS ({cause}); check the region, the endpoint URL and the network"
        ),
        SdkError::ResponseError(_) => format!("unreadable answer from AWS: {cause}"),
        _ => cause,
    }
}

fn chain_has_credentials_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// The innermost cause's message: the SDK's outer layers ("dispatch failure", "io error") say
/// little a user can act on.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        message = e.to_string();
        current = e.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_nothing() {
        let project = Project::parse(
            std::path::Path::new("promote.toml"),
            "[envs]\norder=[\"staging\",\"prod\"]\n[env.prod]\nregion=\"eu-west-1\"\nprofile=\"p\"\n",
        )
        .unwrap();
        let aws = Aws::new(AwsArgs::default(), Some(project.clone()));
        assert_eq!(
            aws.settings(Some("prod")).region.as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(aws.settings(Some("staging")), EnvSettings::default());
        assert_eq!(aws.settings(None), EnvSettings::default());

        let flags = AwsArgs {
            region: Some("us-east-2".into()),
            ..AwsArgs::default()
        };
        let aws = Aws::new(flags, Some(project));
        let prod = aws.settings(Some("prod"));
        assert_eq!(prod.region.as_deref(), Some("us-east-2"));
        assert_eq!(prod.profile.as_deref(), Some("p"));
    }

    #[test]
    fn a_profile_is_known_by_the_files_sections() {
        let config =
            "[default]\nregion=us-east-1\n[profile prod]\nrole_arn=x\n[sso-session corp]\n";
        assert_eq!(profiles_in(config, true), ["default", "prod"]);
        assert_eq!(profiles_in("[ci]\naws_access_key_id=A\n", false), ["ci"]);

        let dir = tempfile::tempdir().unwrap();
        let files = ProfileFiles {
            config: dir.path().join("config"),
            credentials: dir.path().join("credentials"),
        };
        std::fs::write(&files.config, config).unwrap();
        std::fs::write(&files.credentials, "[ci]\naws_access_key_id=A\n").unwrap();
        assert!(check_profile("prod", &files).is_ok());
        assert!(check_profile("ci", &files).is_ok());
        let err = check_profile("corp", &files).unwrap_err();
        assert_eq!(err.exit_code(), crate::ExitCode::Usage);
        let message = err.to_string();
        assert!(
            message.contains("\"corp\"") && message.contains("config"),
            "{message}"
        );
    }
}
