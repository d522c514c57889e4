//! The step results in an execution document, read as the core's own types.
//! The timeline, the PR comment and the job summary read them only here: a
//! field renamed in the core fails to deserialize and the reader says the
//! result is unreadable, instead of printing a blank.

use bluegreen_core::records::gates::ApprovalDecision;
use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::steps::monitor::MonitorOutcome;
use bluegreen_core::steps::ready::Readiness;
use bluegreen_core::steps::rollback::RollbackOutcome;
use bluegreen_core::steps::scale_down::ScaleDownOutcome;
use bluegreen_core::steps::switch::{GateStatus, SwitchOutcome};
use bluegreen_smoke::SmokeReport;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A step's result: absent (the step has not run, or failed and was
/// caught), read, or there but not of the core's shape.
pub type Read<T> = Option<Result<T, Unreadable>>;

/// A result that is there but does not have the core's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub key: &'static str,
    pub error: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({} result unreadable: {})", self.key, self.error)
    }
}

/// Where each state's result lives in the document (its `ResultPath`).
pub struct Results<'a> {
    doc: &'a Value,
}

impl<'a> Results<'a> {
    pub fn of(doc: &'a Value) -> Self {
        Self { doc }
    }

    pub fn deploy(&self) -> Read<DeployOutcome> {
        self.read("deploy")
    }

    pub fn ready(&self) -> Read<Readiness> {
        self.read("ready")
    }

    pub fn smoke(&self) -> Read<SmokeReport> {
        self.read("smoke")
    }

    pub fn switch(&self) -> Read<SwitchOutcome> {
        self.read("switch")
    }

    /// The latest decision at an approval gate (`$.approval`).
    pub fn approval(&self) -> Read<ApprovalDecision> {
        self.read("approval")
    }

    /// The switch's result while the release waits at an approval gate: the
    /// switch held its step, and no decision letting that step through has
    /// come back yet (`$.approval` holds the previous gate's, if any).
    pub fn waiting_for_approval(&self) -> Option<SwitchOutcome> {
        self.held_at_gate()
            .filter(|held| held.gate == GateStatus::Approval)
    }

    /// The switch's result while the release waits at a gate: for a
    /// decision (see [`Results::waiting_for_approval`]) or for its release
    /// window (until the switch runs again).
    pub fn held_at_gate(&self) -> Option<SwitchOutcome> {
        let switch = readable(self.switch())?;
        match switch.gate {
            GateStatus::Open => return None,
            GateStatus::Window => return Some(switch),
            GateStatus::Approval => {}
        }
        let decided = readable(self.approval())
            .is_some_and(|a| a.lets_through(switch.step, switch.execution_arn.as_deref()));
        (!decided).then_some(switch)
    }

    pub fn monitor(&self) -> Read<MonitorOutcome> {
        self.read("monitor")
    }

    pub fn rollback(&self) -> Read<RollbackOutcome> {
        self.read("rollback")
    }

    pub fn scale_down(&self) -> Read<ScaleDownOutcome> {
        self.read("scale_down")
    }

    /// A failed release's color scaled back after its grace.
    pub fn scale_back(&self) -> Read<ScaleDownOutcome> {
        self.read("scale_back")
    }

    fn read<T: DeserializeOwned>(&self, key: &'static str) -> Read<T> {
        let value = self.doc.get(key).filter(|v| !v.is_null())?;
        Some(T::deserialize(value).map_err(|e| Unreadable {
            key,
            error: e.to_string(),
        }))
    }
}

/// The result when it was read; `None` when absent or unreadable (for a
/// reader that falls back to other evidence).
pub fn readable<T>(read: Read<T>) -> Option<T> {
    read.and_then(Result::ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bluegreen_core::{Color, Split};
    use serde_json::json;

    fn switch() -> SwitchOutcome {
        SwitchOutcome {
            app: "web".into(),
            version: "v2".into(),
            target_color: Color::Blue,
            step: 0,
            steps: vec![50, 100],
            weight: 50,
            split: Split {
                blue: 50,
                green: 50,
            },
            changed: true,
            done: false,
            bake_seconds: 60,
            execution_arn: None,
            gate: Default::default(),
            approval_timeout_seconds: None,
            on_timeout: None,
            traffic_moved: false,
            window: None,
        }
    }

    #[test]
    fn a_result_the_core_wrote_reads_back_as_the_core_type() {
        let doc = json!({"switch": switch()});
        assert_eq!(Results::of(&doc).switch(), Some(Ok(switch())));
    }

    #[test]
    fn absent_and_null_results_are_absent() {
        let doc = json!({"switch": null});
        assert_eq!(Results::of(&doc).switch(), None);
        assert_eq!(Results::of(&doc).deploy(), None);
    }

    #[test]
    fn a_held_step_waits_until_a_decision_for_that_step_arrives() {
        let held = SwitchOutcome {
            gate: GateStatus::Approval,
            step: 1,
            execution_arn: Some("arn:x".into()),
            ..switch()
        };
        let decision = |step: usize| json!({"decision": "approved", "step": step, "execution_arn": "arn:x", "by": "ana"});
        let waits = |doc: serde_json::Value| Results::of(&doc).waiting_for_approval().is_some();
        assert!(waits(json!({"switch": held})));
        // The first gate's approval does not let the second step through.
        assert!(waits(json!({"switch": held, "approval": decision(0)})));
        assert!(!waits(json!({"switch": held, "approval": decision(1)})));
        assert!(!waits(json!({"switch": switch()})));
    }

    #[test]
    fn a_renamed_field_is_unreadable_and_says_which_result_and_why() {
        let mut value = serde_json::to_value(switch()).unwrap();
        let split = value.as_object_mut().unwrap().remove("split").unwrap();
        value["weights"] = split;
        let doc = json!({ "switch": value });
        let err = Results::of(&doc).switch().unwrap().unwrap_err();
        assert_eq!(err.key, "switch");
        assert!(err.to_string().contains("missing field `split`"), "{err}");
    }
}
