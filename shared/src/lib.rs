//! What every promotion tool shares: the record contract and its reader and writer, the error
//! type and exit codes, AWS access, promote.toml, the batch runner and the entry point. Service
//! SDKs enter only behind cargo features, so each tool compiles only the services it calls.

#[cfg(feature = "cloudwatch")]
pub mod alarms;
#[cfg(feature = "progressive")]
pub mod alias_shift;
pub mod alias_status;
#[cfg(feature = "apigateway")]
pub mod apigateway;
pub mod arn;
pub mod aws;
pub mod batch;
pub mod calls;
pub mod cli;
pub mod config;
pub mod download;
#[cfg(feature = "ecr")]
pub mod ecr;
#[cfg(feature = "ecr")]
pub mod ecr_copy;
#[cfg(feature = "ecs")]
pub mod ecs;
pub mod engine;
pub mod error;
pub mod glob;
#[cfg(feature = "progressive")]
pub mod hooks;
pub mod image;
pub mod input;
pub mod interrupt;
pub mod journal;
#[cfg(feature = "lambda")]
pub mod lambda;
mod man;
pub mod memo;
pub mod output;
#[cfg(feature = "progressive")]
pub mod progressive;
pub mod rate;
pub mod record;
pub mod routing;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "s3")]
pub mod s3_stream;
pub mod schedule;
pub mod secrets;
#[cfg(feature = "secretsmanager")]
pub mod secretsmanager;
#[cfg(feature = "stepfunctions")]
pub mod sfn;
#[cfg(feature = "ssm")]
pub mod ssm;

pub use error::{Error, ExitCode, Result};
pub use record::{Action, Record, Service};
