//! Putting the release on the idle color. The outcome is stored by the state
//! machine under `$.deploy` and read by the later steps (smoke tests need the
//! idle color; the check loop needs the task definition).

use serde::{Deserialize, Serialize};

use crate::color::Color;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutcome {
    pub app: String,
    pub version: String,
    /// The color the release was deployed to; production is still on the other.
    pub idle_color: Color,
    /// The ECS service of `idle_color`.
    pub service: String,
    /// The task definition the idle service now runs.
    pub task_definition_arn: String,
    /// The idle service's desired count (the active service's).
    pub desired_count: i32,
    /// False when a rerun found the work already done.
    pub changed: bool,
    /// True when this version already serves all production traffic: there is
    /// nothing to deploy, and the state machine ends here.
    #[serde(default)]
    pub already_live: bool,
    /// When the idle service was (first) updated for this release; the health
    /// check's deadline counts from here.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
}
