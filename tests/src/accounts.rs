//! Environments in accounts of their own, as the emulator keeps them apart: credentials from
//! `sts:AssumeRole` into `arn:aws:iam::ACCOUNT:role/...` act in ACCOUNT (the role need not
//! exist); any other key acts in [`DEFAULT_ACCOUNT`]. A test seeds and reads each account with
//! [`sdk_config`], and gives the tools a config file of profiles ([`write_profiles`]) the way a
//! team's CI would: a base profile with keys, and one assume-role profile per environment.

use crate::{Emulator, Sandbox};
use aws_config::SdkConfig;

/// The account plain test credentials act in.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// Staging's account in the multi-account tests.
pub const STAGING_ACCOUNT: &str = "111111111111";
/// Prod's account in the multi-account tests (in [`PROD_REGION`]).
pub const PROD_ACCOUNT: &str = "222222222222";
pub const STAGING_REGION: &str = "us-east-1";
pub const PROD_REGION: &str = "eu-west-1";

/// The role each environment's profile assumes.
#[must_use]
pub fn deployer(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/deployer")
}

/// An SDK configuration that acts in `account` and `region` of the emulator, through a role
/// assumed there with the test credentials (as the tools' profiles do).
pub async fn sdk_config(account: &str, region: &str) -> SdkConfig {
    let base = crate::emulator::sdk_config();
    let sts = aws_sdk_sts::Client::new(&base);
    let out = sts
        .assume_role()
        .role_arn(deployer(account))
        .role_session_name("test-seed")
        .send()
        .await
        .expect("the emulator assumes a role");
    let c = out.credentials.expect("assumed credentials");
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(&Emulator::shared().endpoint)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    c.access_key_id,
                    c.secret_access_key,
                    Some(c.session_token),
                    None,
                    "test-assumed-role",
                ),
            ),
        )
        .build()
}

/// Profiles for a multi-account layout, written into the sandbox's AWS files: `base` holds keys
/// (in the credentials file); `staging` assumes [`deployer`] in [`STAGING_ACCOUNT`] and
/// `prod` in [`PROD_ACCOUNT`] and [`PROD_REGION`], both from `source_profile = base`. STS is
/// reached through `AWS_ENDPOINT_URL`, which the sandbox sets to the emulator.
pub fn write_profiles(sandbox: &Sandbox) {
    sandbox.write(
        "aws-credentials",
        "[base]\naws_access_key_id = AKIABASEEXAMPLE00001\naws_secret_access_key = basesecret\n",
    );
    sandbox.write(
        "aws-config",
        &format!(
            "[profile base]\nregion = {STAGING_REGION}\n\n\
             [profile staging]\nrole_arn = {}\nsource_profile = base\nregion = {STAGING_REGION}\n\n\
             [profile prod]\nrole_arn = {}\nsource_profile = base\nregion = {PROD_REGION}\n",
            deployer(STAGING_ACCOUNT),
            deployer(PROD_ACCOUNT),
        ),
    );
}

/// promote.toml's environment sections for [`write_profiles`]: staging and prod each with its
/// profile (and prod's region), to go before a test's service sections.
#[must_use]
pub fn env_sections() -> String {
    format!(
        "[envs]\norder = [\"staging\", \"prod\"]\n\n\
         [env.staging]\nprofile = \"staging\"\nregion = \"{STAGING_REGION}\"\n\n\
         [env.prod]\nprofile = \"prod\"\nregion = \"{PROD_REGION}\"\n\n"
    )
}
