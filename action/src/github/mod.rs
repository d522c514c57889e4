//! GitHub reporting: deployments, statuses, the sticky PR comment, the job summary.
//!
//! [`GitHub`] talks to the API (octocrab underneath, retrying server errors
//! and rate limits); [`render_report`] turns an execution into Markdown;
//! [`Reporter`] does both in the order a deployment needs them, and comments
//! on the pull requests a pushed commit came from ([`RunEvent`]);
//! [`GitHub::mark_rolled_back`] tells GitHub Deployments about a rollback.

mod chart;
mod client;
mod comment;
mod console;
mod database;
mod deployments;
mod error;
mod gate;
mod markdown;
mod monitor;
mod outcome;
mod pulls;
mod render;
mod reporter;
mod retry;
mod settings;
pub(crate) mod smoke;
mod summary;

pub use client::GitHub;
pub use comment::marker;
pub use console::console_url;
pub use deployments::{DeploymentState, MAX_DESCRIPTION_CHARS, production_like};
pub use error::{Error, Method, Result};
pub use outcome::{Outcome, result_output};
pub use pulls::{MAX_PULLS, RunEvent};
pub use render::render_report;
pub use reporter::{Release, Reporter};
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use settings::{DEFAULT_API_URL, Settings, Token};
pub use summary::{summary_path_from_env, write_summary};
