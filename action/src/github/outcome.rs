//! What a deployment came to, read from the execution: the word the report
//! leads with and the state its GitHub deployment gets.

use crate::timeline::{Ending, Step};

use super::deployments::DeploymentState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    InProgress,
    /// Followed up to an approval gate, where the release waits for a
    /// person (`wait-for-approval: false`); the execution goes on.
    WaitingApproval,
    /// Followed up to its release window, closed for now.
    WaitingWindow,
    /// Following gave up at its time limit; the execution goes on and
    /// nobody here knows how it ends.
    FollowingTimedOut,
    /// The release serves all production traffic.
    Succeeded,
    /// It never got production traffic, or its rollback failed.
    Failed,
    /// Traffic went back to the previous release (by the monitor, or by an
    /// emergency rollback that stopped the execution).
    RolledBack,
    /// Stopped by hand.
    Aborted,
}

/// Errors that end an execution after its release went live: the release
/// stands, so the deployment succeeded (the report still shows the error).
const AFTER_LIVE: [&str; 2] = ["ScaleDownFailed", "ReleaseLockFailed"];

impl Outcome {
    pub fn of(steps: &[Step], ending: Option<&Ending>) -> Outcome {
        let Some(ending) = ending else {
            // `ReleaseLock` follows only the last promoted step; after it the
            // execution waits out the warm window (a day by default) before
            // scaling the old color down, and nothing in that changes the release.
            return if steps.iter().any(|s| s.state == crate::timeline::LIVE_AFTER) {
                Outcome::Succeeded
            } else {
                Outcome::InProgress
            };
        };
        let error = ending.error.as_deref().unwrap_or_default();
        match ending.status.as_str() {
            _ if ending.live => Outcome::Succeeded,
            _ if ending.following_timed_out => Outcome::FollowingTimedOut,
            _ if ending.at_gate => {
                let held = ending
                    .document
                    .as_ref()
                    .and_then(|doc| crate::results::Results::of(doc).held_at_gate());
                match held.map(|h| h.gate) {
                    Some(bluegreen_core::steps::switch::GateStatus::Window) => {
                        Outcome::WaitingWindow
                    }
                    _ => Outcome::WaitingApproval,
                }
            }
            "SUCCEEDED" => Outcome::Succeeded,
            _ if AFTER_LIVE.contains(&error) => Outcome::Succeeded,
            // The state machine's own `RolledBack`, and the stop an emergency
            // rollback makes (`bluegreen.RolledBack`).
            _ if error == "RolledBack" || error == "bluegreen.RolledBack" => Outcome::RolledBack,
            "ABORTED" => Outcome::Aborted,
            _ => Outcome::Failed,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::InProgress => "in progress",
            Outcome::WaitingApproval => "waiting for approval",
            Outcome::WaitingWindow => "waiting for its release window",
            Outcome::FollowingTimedOut => "still running, no longer followed",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled back",
            Outcome::Aborted => "aborted",
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            Outcome::InProgress => "⏳",
            Outcome::WaitingApproval => "✋",
            Outcome::WaitingWindow => "🕙",
            Outcome::FollowingTimedOut => "⏱️",
            Outcome::Succeeded => "✅",
            Outcome::Failed => "❌",
            Outcome::RolledBack => "↩️",
            Outcome::Aborted => "⛔",
        }
    }

    /// A rolled-back release is a failed deployment: no green check for a
    /// release that does not serve production.
    pub fn deployment_state(self) -> DeploymentState {
        match self {
            Outcome::InProgress | Outcome::WaitingApproval | Outcome::WaitingWindow => {
                DeploymentState::InProgress
            }
            Outcome::Succeeded => DeploymentState::Success,
            Outcome::Failed | Outcome::RolledBack => DeploymentState::Failure,
            // Not `in_progress` forever: nobody updates it once following stops.
            Outcome::Aborted | Outcome::FollowingTimedOut => DeploymentState::Error,
        }
    }
}

/// The action's `result` output for how following ended: `succeeded`,
/// `rolled-back` (traffic went back), `aborted` (stopped before traffic
/// moved), `refused` (never started: the app's lock was held, or bad input),
/// `stopped` (stopped by hand without a rollback), `timed_out`, `failed`
/// (a rollback that failed, say), `waiting-approval` / `waiting-window`
/// when followed up to a gate, or `following-timed-out` when following
/// stopped at its limit while the release went on.
pub fn result_output(ending: &Ending) -> &'static str {
    match Outcome::of(&[], Some(ending)) {
        Outcome::Succeeded => "succeeded",
        Outcome::WaitingApproval => "waiting-approval",
        Outcome::WaitingWindow => "waiting-window",
        Outcome::FollowingTimedOut => "following-timed-out",
        Outcome::RolledBack => "rolled-back",
        Outcome::Aborted => "stopped",
        Outcome::InProgress => "in-progress",
        Outcome::Failed => match (ending.status.as_str(), ending.error.as_deref()) {
            (_, Some("Aborted")) => "aborted",
            (_, Some("Refused")) => "refused",
            ("TIMED_OUT", _) => "timed_out",
            _ => "failed",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ending(status: &str, error: Option<&str>) -> Ending {
        Ending {
            status: status.into(),
            error: error.map(str::to_string),
            cause: None,
            output: None,
            live: false,
            document: None,
            ..Ending::default()
        }
    }

    fn step(state: &str) -> Step {
        Step {
            at_seconds: 1.0,
            state: state.into(),
            text: "x".into(),
            chart: None,
        }
    }

    #[test]
    fn reads_the_ending() {
        let of = |status, error| Outcome::of(&[], Some(&ending(status, error)));
        assert_eq!(of("SUCCEEDED", None), Outcome::Succeeded);
        assert_eq!(of("FAILED", Some("RolledBack")), Outcome::RolledBack);
        assert_eq!(
            of("ABORTED", Some("bluegreen.RolledBack")),
            Outcome::RolledBack
        );
        assert_eq!(of("ABORTED", None), Outcome::Aborted);
        assert_eq!(of("FAILED", Some("Aborted")), Outcome::Failed);
        assert_eq!(of("FAILED", Some("RollbackFailed")), Outcome::Failed);
        assert_eq!(of("TIMED_OUT", None), Outcome::Failed);
        assert_eq!(of("FAILED", Some("ScaleDownFailed")), Outcome::Succeeded);
    }

    #[test]
    fn live_once_the_lock_is_released_after_the_last_step() {
        assert_eq!(Outcome::of(&[step("Switch")], None), Outcome::InProgress);
        assert_eq!(
            Outcome::of(&[step("Switch"), step("ReleaseLock")], None),
            Outcome::Succeeded
        );
        // The rollback path releases the lock under another name.
        assert_eq!(
            Outcome::of(&[step("ReleaseLockAfterRollback")], None),
            Outcome::InProgress
        );
    }

    #[test]
    fn the_result_output_tells_aborted_from_rolled_back() {
        let of = |status, error| result_output(&ending(status, error));
        assert_eq!(of("SUCCEEDED", None), "succeeded");
        assert_eq!(of("FAILED", Some("RolledBack")), "rolled-back");
        assert_eq!(of("ABORTED", Some("bluegreen.RolledBack")), "rolled-back");
        assert_eq!(of("FAILED", Some("Aborted")), "aborted");
        assert_eq!(of("FAILED", Some("Refused")), "refused");
        assert_eq!(of("ABORTED", None), "stopped");
        assert_eq!(of("TIMED_OUT", None), "timed_out");
        assert_eq!(of("FAILED", Some("RollbackFailed")), "failed");
        assert_eq!(of("FAILED", Some("ScaleDownFailed")), "succeeded");
    }

    #[test]
    fn deployment_states() {
        assert_eq!(
            Outcome::RolledBack.deployment_state(),
            DeploymentState::Failure
        );
        assert_eq!(Outcome::Aborted.deployment_state(), DeploymentState::Error);
        assert_eq!(
            Outcome::Succeeded.deployment_state(),
            DeploymentState::Success
        );
    }
}

#[cfg(test)]
mod names {
    use crate::timeline::{Ending, FAIL_ERRORS_READ, STATES_READ};

    use super::*;

    fn asl() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../cdk/state-machine.asl.json"))
            .expect("the checked-in ASL")
    }

    #[test]
    fn every_state_and_error_the_cli_reads_is_in_the_state_machine() {
        let asl = asl();
        let states = asl["States"].as_object().unwrap();
        for name in STATES_READ {
            assert!(states.contains_key(name), "the ASL has no state `{name}`");
        }
        for error in FAIL_ERRORS_READ.iter().chain(AFTER_LIVE.iter()) {
            assert!(
                states
                    .values()
                    .any(|s| s["Type"] == "Fail" && s["Error"] == *error),
                "no Fail state raises `{error}`"
            );
        }
    }

    #[test]
    fn the_cli_and_the_report_agree_on_what_went_live() {
        let ending = |status: &str, error: Option<&str>, live| Ending {
            status: status.into(),
            error: error.map(str::to_string),
            cause: None,
            output: None,
            live,
            document: None,
            ..Ending::default()
        };
        for (e, live) in [
            (ending("SUCCEEDED", None, false), true),
            (ending("RUNNING", None, true), true),
            (ending("FAILED", Some("ScaleDownFailed"), false), true),
            (ending("FAILED", Some("ReleaseLockFailed"), false), true),
            (ending("FAILED", Some("RolledBack"), false), false),
            (ending("FAILED", Some("Aborted"), false), false),
            (ending("ABORTED", None, false), false),
        ] {
            assert_eq!(e.succeeded(), live, "{e:?}");
            assert_eq!(
                Outcome::of(&[], Some(&e)) == Outcome::Succeeded,
                live,
                "{e:?}"
            );
        }
    }
}
