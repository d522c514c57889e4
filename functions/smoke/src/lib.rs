//! Smoke tests: prove the idle color over HTTP before any user sees it.
//!
//! [`parse`] reads a spec (YAML or JSON) into a checked [`Spec`]; a
//! [`Runner`] sends its tests in order and returns a [`SmokeReport`] in which
//! every secret (values from `{{env.*}}`, `{{ssm:*}}` and captures) is masked.
//! No AWS SDK here: SSM values arrive through [`SecretSource`].

mod attempt;
mod checks;
pub mod client;
pub mod mask;
pub mod report;
mod request;
pub mod route;
pub mod runner;
pub mod sources;
pub mod spec;
pub mod template;
mod vars;
mod warmup;

pub use client::{http_client, http_client_builder};
pub use mask::Masker;
pub use report::{SmokeReport, TestReport, Totals, WarmupReport};
pub use route::{RouteCheck, RouteReport};
pub use runner::Runner;
pub use sources::{EnvSource, ProcessEnv, SecretError, SecretSource};
pub use spec::{Spec, parse};
