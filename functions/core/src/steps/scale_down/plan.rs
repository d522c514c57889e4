//! What the scale-down does, decided from one look at the world: pure, so
//! its rules read as table rows (below).

use crate::color::Color;
use crate::ports::Bounds;
use crate::records::state::Phase;
use crate::world::{PerColor, World};

/// The release whose warm window ended.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    /// The color it went live on; the other one is shrunk.
    pub color: Color,
    pub version: &'a str,
    /// Its execution, when it runs in the state machine.
    pub execution_arn: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to do, and why; `drift` when the team must hear of it (the
    /// record says the release is live, the listener says otherwise).
    Skip { why: String, drift: bool },
    /// Shrink the previous color: its scaling bounds first (an app that
    /// autoscales, or its policies scale it straight back up), then its
    /// desired count.
    Shrink {
        bounds: Option<BoundsChange>,
        desired: Option<i32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundsChange {
    pub from: Bounds,
    pub to: Bounds,
}

pub fn plan(world: &World, release: Release<'_>, bounds: Option<&PerColor<Bounds>>) -> Plan {
    let config = world.config();
    let old = release.color.other();
    let service = &config.color(old).service;
    let still_ours = world.state().is_some_and(|s| {
        s.active_color == release.color
            && s.active_version.as_deref() == Some(release.version)
            && s.phase == Phase::Stable
            // The same version may have gone live again through a newer
            // execution, whose warm window this one must not cut short.
            && (release.execution_arn.is_none()
                || s.last_execution_arn.as_deref() == release.execution_arn)
    });
    // The listener says where traffic goes, not the record: on-call may have
    // moved production back by hand during the warm window. Never shrink a
    // color with production weight; when the record says the release is
    // live, the two disagree and people must hear of it.
    if world.weights.serves(old) {
        return Plan::Skip {
            why: format!(
                "{old} ({service}) has production traffic: the listener sends {}; nothing was scaled down",
                world.weights
            ),
            drift: still_ours,
        };
    }
    if !still_ours {
        return Plan::Skip {
            why: format!(
                "{old} may serve again: release {} is no longer the live one (rolled back or superseded)",
                release.version
            ),
            drift: false,
        };
    }
    shrink_to_idle_capacity(world, old, bounds)
}

/// Shrink `color` to the config's idle capacity: its scaling bounds' minimum
/// (with `autoscaling`) and its desired count, as far as they are above it.
pub(super) fn shrink_to_idle_capacity(
    world: &World,
    color: Color,
    bounds: Option<&PerColor<Bounds>>,
) -> Plan {
    let config = world.config();
    let service = &config.color(color).service;
    let current = world.services.get(color).desired;
    let target = config.idle_capacity_after_window as i32;
    let bounds = bounds.map(|b| {
        let from = *b.get(color);
        BoundsChange {
            from,
            to: Bounds {
                min: target,
                max: from.max.max(target),
            },
        }
    });
    let bounds = bounds.filter(|b| b.from != b.to);
    let desired = (current > target).then_some(target);
    if bounds.is_none() && desired.is_none() {
        return Plan::Skip {
            why: format!("{service} is already at {current} task(s)"),
            drift: false,
        };
    }
    Plan::Shrink { bounds, desired }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::state::AppState;

    fn world(blue_weight: u32, state: Option<AppState>, blue_desired: i32) -> World {
        let mut w = crate::world::fixture::world(blue_weight, 100 - blue_weight, state);
        w.services.blue.desired = blue_desired;
        w.services.blue.running = blue_desired;
        w
    }

    fn live(version: &str, phase: Phase, execution: &str) -> Option<AppState> {
        Some(AppState {
            phase,
            last_execution_arn: Some(execution.into()),
            ..AppState::initial(Color::Green, Some(version.into()))
        })
    }

    const V2: Release<'static> = Release {
        color: Color::Green,
        version: "v2",
        execution_arn: Some("e2"),
    };

    fn bounds(min: i32, max: i32) -> PerColor<Bounds> {
        PerColor {
            blue: Bounds { min, max },
            green: Bounds { min: 2, max: 10 },
        }
    }

    fn skipped(p: &Plan) -> Option<(bool, &str)> {
        match p {
            Plan::Skip { why, drift } => Some((*drift, why.as_str())),
            Plan::Shrink { .. } => None,
        }
    }

    /// What, blue's weight, the record, blue's desired count, the bounds,
    /// the plan expected.
    type Row = (
        &'static str,
        u32,
        Option<AppState>,
        i32,
        Option<PerColor<Bounds>>,
        Plan,
    );

    #[test]
    fn the_rules_as_rows() {
        let stable = live("v2", Phase::Stable, "e2");
        let rows: Vec<Row> = vec![
            (
                "the release is live and the old color idle: shrink",
                0,
                stable.clone(),
                2,
                None,
                Plan::Shrink {
                    bounds: None,
                    desired: Some(0),
                },
            ),
            (
                "autoscaling: the minimum goes to idle capacity first",
                0,
                stable.clone(),
                2,
                Some(bounds(2, 6)),
                Plan::Shrink {
                    bounds: Some(BoundsChange {
                        from: Bounds { min: 2, max: 6 },
                        to: Bounds { min: 0, max: 6 },
                    }),
                    desired: Some(0),
                },
            ),
            (
                "already at rest: nothing",
                0,
                stable.clone(),
                0,
                Some(bounds(0, 6)),
                Plan::Skip {
                    why: "a-blue is already at 0 task(s)".into(),
                    drift: false,
                },
            ),
        ];
        for (what, blue, state, desired, b, expected) in rows {
            let got = plan(&world(blue, state, desired), V2, b.as_ref());
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn never_a_color_with_weight_and_drift_is_said() {
        // On-call moved production back to blue by hand: blue keeps its
        // tasks, and the team hears the record and the listener disagree.
        let p = plan(&world(100, live("v2", Phase::Stable, "e2"), 2), V2, None);
        let (drift, why) = skipped(&p).expect("skipped");
        assert!(drift && why.contains("has production traffic"), "{p:?}");
        // Any weight at all counts, and without the record saying so it is
        // no drift (a rollback moved it).
        let p = plan(&world(1, live("v2", Phase::RolledBack, "e2"), 2), V2, None);
        assert_eq!(skipped(&p).map(|s| s.0), Some(false), "{p:?}");
    }

    #[test]
    fn a_release_no_longer_live_keeps_the_old_color() {
        for state in [
            live("v2", Phase::RolledBack, "e2"),
            live("v3", Phase::Stable, "e3"),
            // v2 went live again through a newer execution: its window.
            live("v2", Phase::Stable, "e9"),
            None,
        ] {
            let p = plan(&world(0, state.clone(), 2), V2, None);
            let (drift, why) = skipped(&p).expect("skipped");
            assert!(
                !drift && why.contains("no longer the live one"),
                "{state:?}: {why}"
            );
        }
    }
}
