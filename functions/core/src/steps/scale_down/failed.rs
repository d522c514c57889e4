//! After a failed release (aborted, or rolled back) and its grace period:
//! its color goes back to the idle capacity, by the scale-down's rules. A
//! pure plan from one look at the world, its rules as table rows (below).

use crate::color::Color;
use crate::ports::Bounds;
use crate::world::{PerColor, World};

use super::plan::{Plan, shrink_to_idle_capacity};

/// The release that failed.
#[derive(Debug, Clone, Copy)]
pub struct Failed<'a> {
    /// The color it was deployed to.
    pub color: Color,
    pub version: &'a str,
    /// The task definition it ran there.
    pub task_definition: &'a str,
}

pub fn plan(world: &World, failed: Failed<'_>, bounds: Option<&PerColor<Bounds>>) -> Plan {
    let color = failed.color;
    let service = &world.config().color(color).service;
    // The listener says where traffic goes: whatever put production there
    // since (a person, a newer release), a color with weight keeps its tasks.
    if world.weights.serves(color) {
        return Plan::Skip {
            why: format!(
                "{color} ({service}) has production traffic: the listener sends {}; nothing was scaled back",
                world.weights
            ),
            drift: false,
        };
    }
    // ECS says what the color runs: a newer release deployed there since
    // (it may be about to take traffic) is not this step's to shrink.
    let runs = world.task_definition(color);
    if runs != failed.task_definition {
        return Plan::Skip {
            why: format!(
                "{color} ({service}) runs {runs} now, not failed release {}: a newer release took it",
                failed.version
            ),
            drift: false,
        };
    }
    shrink_to_idle_capacity(world, color, bounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::scale_down::BoundsChange;
    use crate::world::fixture::{BLUE_TD, GREEN_TD};

    /// Production on blue at `blue_weight`; green ran failed release v2
    /// (GREEN_TD) and has `green_desired` tasks.
    fn world(blue_weight: u32, green_desired: i32) -> World {
        let mut w = crate::world::fixture::world(blue_weight, 100 - blue_weight, None);
        w.services.green.desired = green_desired;
        w.services.green.running = green_desired;
        w
    }

    const V2: Failed<'static> = Failed {
        color: Color::Green,
        version: "v2",
        task_definition: GREEN_TD,
    };

    fn why(plan: &Plan) -> &str {
        match plan {
            Plan::Skip { why, drift } => {
                assert!(!drift, "no drift to tell: {why}");
                why
            }
            Plan::Shrink { .. } => "",
        }
    }

    #[test]
    fn the_rules_as_rows() {
        assert_eq!(
            plan(&world(100, 3), V2, None),
            Plan::Shrink {
                bounds: None,
                desired: Some(0)
            },
            "the failed color, idle, at full size: back to the idle capacity"
        );
        let bounds = PerColor {
            blue: Bounds { min: 2, max: 10 },
            green: Bounds { min: 3, max: 10 },
        };
        assert_eq!(
            plan(&world(100, 3), V2, Some(&bounds)),
            Plan::Shrink {
                bounds: Some(BoundsChange {
                    from: Bounds { min: 3, max: 10 },
                    to: Bounds { min: 0, max: 10 },
                }),
                desired: Some(0)
            },
            "autoscaling: the minimum first, or the policies scale it back up"
        );
        assert!(why(&plan(&world(100, 0), V2, None)).contains("already at 0"));
        for weight in [0, 50, 99] {
            assert!(
                why(&plan(&world(weight, 3), V2, None)).contains("has production traffic"),
                "never a color with weight ({weight} % on blue)"
            );
        }
        let mut taken = world(100, 3);
        taken.services.green.task_definition = BLUE_TD.replace(":1", ":9");
        assert!(why(&plan(&taken, V2, None)).contains("a newer release took it"));
    }
}
