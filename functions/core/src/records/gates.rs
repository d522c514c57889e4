//! Gates: what must happen before traffic moves, beyond the smoke tests.
//! Declared in the app's config (`gates`) and replaced for one release by
//! `overrides.gates`. The switch step holds a release at a gate (it moves
//! nothing and says why); the state machine waits there.

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use crate::records::window::{Day, WindowGate, WindowState};

/// The app's gates (docs/config.md, "Gates"). None by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// A person approves before the first switch, and again before the steps
    /// named in `before_weights` (`bluegreen approve` / `bluegreen reject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub approval: Option<ApprovalGate>,
    /// The hours in which a release may start taking production traffic;
    /// outside them the release waits before its first switch. Once traffic
    /// moved, the steps go on: a release never sits half-moved until the
    /// next window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub window: Option<WindowGate>,
}

/// Approval by a person, through a Step Functions task token: the execution
/// waits (no Lambda runs meanwhile) until someone approves or rejects, or the
/// timeout passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ApprovalGate {
    /// Besides the first switch, the weights whose step also waits for an
    /// approval (e.g. `[100]`: approve again before all traffic moves).
    #[serde(default)]
    #[garde(inner(range(min = 1, max = 100)))]
    pub before_weights: Vec<u8>,
    /// How long a release waits for a decision at each gate (default 24 h,
    /// at most a year, Step Functions' limit for a task).
    #[serde(default = "default_timeout")]
    #[garde(range(min = 1, max = MAX_APPROVAL_SECONDS))]
    pub timeout_seconds: u64,
    /// What a gate left undecided does at its timeout: `abort` (the default;
    /// after traffic moved, roll back) or `promote` (go on as if approved).
    #[serde(default)]
    #[garde(skip)]
    pub on_timeout: OnTimeout,
}

/// Step Functions' longest task timeout: a year.
pub const MAX_APPROVAL_SECONDS: u64 = 31_536_000;

fn default_timeout() -> u64 {
    24 * 3600
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    #[default]
    Abort,
    Promote,
}

impl Gates {
    /// The release window the `step`-th step waits for: the first only.
    pub fn window_before(&self, step: usize) -> Option<&WindowGate> {
        self.window.as_ref().filter(|_| step == 0)
    }

    /// Whether the step of `weight` (the `step`-th of this release) waits
    /// for an approval.
    pub fn approval_before(&self, step: usize, weight: u8) -> Option<&ApprovalGate> {
        self.approval
            .as_ref()
            .filter(|gate| step == 0 || gate.before_weights.contains(&weight))
    }
}

/// A decision at an approval gate, as the state machine stores it under
/// `$.approval`: what `bluegreen approve` sends back through the task token,
/// or what the workflow writes when an undecided gate times out with
/// `on_timeout: promote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// `approved`, or `timed-out` (promoted without a decision).
    pub decision: String,
    /// The index of the step this decision lets through.
    pub step: usize,
    /// The execution it was given to: a copied document's approval lets
    /// nothing through in another execution.
    pub execution_arn: String,
    /// Who approved (their name as given, and the AWS identity that sent it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// When.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<OffsetDateTime>,
}

impl ApprovalDecision {
    /// Whether this decision lets the `step`-th step of `execution` through.
    pub fn lets_through(&self, step: usize, execution: Option<&str>) -> bool {
        self.step == step
            && Some(self.execution_arn.as_str()) == execution
            && matches!(self.decision.as_str(), "approved" | "timed-out")
    }
}

/// What the switch records while a release waits at an approval gate,
/// `<prefix>/<app>/gate`: where `bluegreen approve` finds the task token.
/// Only this app's switch role writes it; a deployer may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGate {
    pub execution_arn: String,
    pub version: String,
    /// The step waiting, and the weight it would give the release.
    pub step: usize,
    pub weight: u8,
    /// The Step Functions task token the execution waits on.
    pub token: String,
    /// Since when, and until when it waits.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_switch_and_the_named_weights_wait() {
        let gates: Gates =
            serde_json::from_value(serde_json::json!({"approval": {"before_weights": [100]}}))
                .unwrap();
        assert!(gates.approval_before(0, 10).is_some());
        assert!(gates.approval_before(1, 50).is_none());
        assert!(gates.approval_before(2, 100).is_some());
        assert!(Gates::default().approval_before(0, 100).is_none());
        let gate = gates.approval.unwrap();
        assert_eq!(
            (gate.timeout_seconds, gate.on_timeout),
            (86_400, OnTimeout::Abort)
        );
    }

    #[test]
    fn a_decision_lets_through_its_own_step_of_its_own_execution() {
        let d = ApprovalDecision {
            decision: "approved".into(),
            step: 1,
            execution_arn: "arn:x".into(),
            by: None,
            identity: None,
            at: None,
        };
        assert!(d.lets_through(1, Some("arn:x")));
        assert!(!d.lets_through(2, Some("arn:x")));
        assert!(!d.lets_through(1, Some("arn:y")));
        assert!(!d.lets_through(1, None));
    }
}
