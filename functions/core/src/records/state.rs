//! What is live for an app, as stored at `<prefix>/<app>/state`. Written only
//! after the listener change it describes has been read back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::color::Color;
use crate::world::split::Split;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// All traffic on the active color.
    Stable,
    /// A weighted switch is under way: part of the traffic is on each color.
    Shifting,
    /// The last release was rolled back; all traffic is on the active color.
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppState {
    /// The color holding the current release. During a weighted switch this is
    /// the color traffic is moving *to*.
    pub active_color: Color,
    pub active_version: Option<String>,
    /// Always `active_color.other()`; stored so the document reads on its own.
    pub previous_color: Color,
    /// The release a rollback returns to; `None` when it is not known.
    pub previous_version: Option<String>,
    /// The task definition ECS ran on the active color when this record was
    /// written: how a later step tells whether the record still describes
    /// the world (drift) and which color runs which release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_task_definition: Option<String>,
    /// The task definition of the previous release, on the previous color.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_task_definition: Option<String>,
    /// Set when a release was deployed onto the previous color, which then no
    /// longer runs `previous_version`: a rollback must not send traffic there
    /// (it would serve an untested or failed release). Cleared by the switch
    /// that makes that color active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_color_replaced_by: Option<String>,
    /// The task definition that release puts there (with the mark): a
    /// rollback's fence is still current while the color runs either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_color_replaced_with: Option<String>,
    pub weights: Split,
    pub phase: Phase,
    pub last_execution_arn: Option<String>,
    /// When traffic last moved. `None` for a state that was never switched: there
    /// is nothing to roll back to.
    #[serde(with = "time::serde::rfc3339::option")]
    pub switched_at: Option<OffsetDateTime>,
    /// When the active release first got production traffic (its first
    /// weight step, or the rollback that made it active). An emergency
    /// message sent before this was about an earlier release: stale. Later
    /// weight steps of the same release do not move it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub live_since: Option<OffsetDateTime>,
}

impl AppState {
    /// The state of an app whose listener sends everything to `color` and that
    /// bluegreen has never switched.
    pub fn initial(color: Color, version: Option<String>) -> AppState {
        AppState {
            active_color: color,
            active_version: version,
            previous_color: color.other(),
            previous_version: None,
            active_task_definition: None,
            previous_task_definition: None,
            previous_color_replaced_by: None,
            previous_color_replaced_with: None,
            weights: Split::all(color),
            phase: Phase::Stable,
            last_execution_arn: None,
            switched_at: None,
            live_since: None,
        }
    }

    /// True when the previous color is a release a rollback can return to.
    pub fn can_roll_back(&self) -> bool {
        self.switched_at.is_some()
            && self.phase != Phase::RolledBack
            && self.previous_color_replaced_by.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_previous_color_running_a_newer_release_is_no_rollback_target() {
        let mut state = AppState::initial(Color::Green, Some("v2".into()));
        state.previous_version = Some("v1".into());
        state.switched_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert!(state.can_roll_back());
        state.previous_color_replaced_by = Some("v3".into());
        assert!(!state.can_roll_back());
    }

    #[test]
    fn states_written_before_the_replacement_marker_still_read() {
        let doc = r#"{"active_color": "green", "active_version": "v2", "previous_color": "blue",
            "previous_version": "v1", "weights": {"blue": 0, "green": 100}, "phase": "stable",
            "last_execution_arn": null, "switched_at": null}"#;
        let state: AppState = serde_json::from_str(doc).unwrap();
        assert_eq!(state.previous_color_replaced_by, None);
        let written = serde_json::to_value(&state).unwrap();
        assert!(written.get("previous_color_replaced_by").is_none());
    }
}
