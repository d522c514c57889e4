//! What is live for an app, as stored at `<prefix>/<app>/state`. Written only
//! after the listener change it describes has been read back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::color::Color;
use crate::split::Split;

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
    pub weights: Split,
    pub phase: Phase,
    pub last_execution_arn: Option<String>,
    /// When traffic last moved. `None` for a state that was never switched: there
    /// is nothing to roll back to.
    #[serde(with = "time::serde::rfc3339::option")]
    pub switched_at: Option<OffsetDateTime>,
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
            weights: Split::all(color),
            phase: Phase::Stable,
            last_execution_arn: None,
            switched_at: None,
        }
    }

    /// True when the previous color is a release a rollback can return to.
    pub fn can_roll_back(&self) -> bool {
        self.switched_at.is_some() && self.phase != Phase::RolledBack
    }
}
