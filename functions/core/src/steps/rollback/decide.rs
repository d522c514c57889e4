//! Where a rollback sends production, decided from one observed [`World`]:
//! pure, so every case is a table row in a unit test.
//!
//! The listener says which colors serve; ECS says what each color runs; the
//! stored state only labels task definitions with versions and remembers
//! which release came before. A rollback goes to the color that runs the
//! release that served before, as ECS says; it never moves traffic on the
//! record's word alone.

use time::OffsetDateTime;

use crate::color::Color;
use crate::error::{Error, Result};
use crate::records::state::{AppState, Phase};
use crate::world::World;
use crate::world::routing::healthy_needed;
use crate::world::split::Split;

use super::{ColorVersion, ReleaseRef, RollbackRequest, RollbackSource};

/// What the rollback will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The release asking for its rollback never received production traffic:
    /// nothing moves.
    Untouched {
        note: String,
        /// What serves production now (the color with the most weight).
        serving: ColorVersion,
    },
    Roll(Box<RollPlan>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollPlan {
    pub target: Color,
    /// Whether the split is written: false when the listener already sends
    /// everything to `target` (but see `confirm_only`).
    pub move_traffic: bool,
    /// The listener read as already there, and the split is written all the
    /// same to be sure: nothing is said to have changed.
    pub confirm_only: bool,
    pub new_state: AppState,
    pub from: ColorVersion,
    pub to: ColorVersion,
    /// `Some` when `target` lacks the healthy targets production needs.
    pub cold: Option<Cold>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cold {
    pub healthy: usize,
    pub needed: usize,
    /// The desired count to scale the target to first, when it is lower.
    pub scale_to: Option<i32>,
}

pub fn decide(
    world: &World,
    request: &RollbackRequest,
    stopped: bool,
    now: OffsetDateTime,
) -> Result<Decision> {
    let app = request.app.as_str();
    let unmarked;
    let world = match stale_mark(world, stopped) {
        Some(state) => {
            unmarked = World {
                records: crate::world::Records {
                    state: Some(state),
                    ..world.records.clone()
                },
                ..world.clone()
            };
            &unmarked
        }
        None => world,
    };
    let state = world.state();

    // Where the release went: deploy-idle's result says; without it, the
    // record's mark (deploy-idle marks the color before it replaces it) or
    // the record naming it active.
    let release_color = request.release.as_ref().and_then(|r| {
        r.color.or_else(|| {
            let s = state?;
            if s.previous_color_replaced_by.as_deref() == Some(r.version.as_str()) {
                Some(s.previous_color)
            } else if s.active_version.as_deref() == Some(r.version.as_str()) {
                Some(s.active_color)
            } else {
                None
            }
        })
    });
    if let (Some(release), None) = (&request.release, release_color) {
        let serving = world.weights.sole().unwrap_or(Color::Blue);
        return Ok(Decision::Untouched {
            note: format!(
                "release {} never received production traffic: nothing records it on either color",
                release.version
            ),
            serving: ColorVersion {
                color: serving,
                version: label(world, serving, None),
            },
        });
    }
    let target = match (&request.release, state) {
        (Some(release), _) => {
            let color = release_color.expect("checked");
            // A replay (a console Redrive days later, a late retry) of a
            // release whose color has run another release since: the world
            // moved on, and this request is about nothing that still runs.
            if let Some(td) = &release.task_definition
                && world.task_definition(color) != td
            {
                let serving = world.weights.sole().unwrap_or(color.other());
                return Ok(Decision::Untouched {
                    note: format!(
                        "release {} no longer runs on {color} (ECS runs {}): the world moved on since this request was made; nothing was changed",
                        release.version,
                        world.task_definition(color)
                    ),
                    serving: ColorVersion {
                        color: serving,
                        version: label(world, serving, None),
                    },
                });
            }
            // The record claims the release went live, yet it has no traffic:
            // a rollback whose answer was lost already moved it (or someone
            // did by hand). Roll back all the same, to record it.
            let recorded_live = state.is_some_and(|s| {
                s.active_color == color
                    && s.active_version.as_deref() == Some(release.version.as_str())
                    && s.phase != Phase::RolledBack
            });
            if !world.weights.serves(color) && !recorded_live {
                let serving = color.other();
                return Ok(Decision::Untouched {
                    serving: ColorVersion {
                        color: serving,
                        version: label(world, serving, Some(release)),
                    },
                    note: format!(
                        "release {} never received production traffic: the load balancer sends {} and nothing to {color}",
                        release.version, world.weights
                    ),
                });
            }
            let target = color.other();
            if let Some(before) = &release.serving_task_definition
                && world.task_definition(target) != before
            {
                return Err(drift(
                    world,
                    target,
                    format!("before release {} {target} ran {before}", release.version),
                ));
            }
            target
        }
        (_, None) => {
            return Err(Error::NothingToRollBack {
                app: app.to_string(),
                why: "no state is recorded: bluegreen has not switched this app yet".to_string(),
            });
        }
        (_, Some(s)) if s.phase == Phase::RolledBack => {
            check_runs(
                world,
                s.active_color,
                s.active_task_definition.as_deref(),
                "its release",
            )?;
            s.active_color
        }
        (_, Some(s)) => {
            if let Some(newer) = &s.previous_color_replaced_by
                && !mark_contradicted_where_production_is(world, s)
            {
                // The release before lives on the active color only. If the
                // listener sends anything to the replaced color, a switch moved
                // traffic without recording it: back to the active color.
                if !world.weights.serves(s.previous_color) {
                    return Err(Error::NothingToRollBack {
                        app: app.to_string(),
                        why: format!(
                            "{} no longer runs {}: release {newer} was deployed onto it. {} keeps serving {}",
                            s.previous_color,
                            s.previous_version
                                .as_deref()
                                .unwrap_or("the previous release"),
                            s.active_color,
                            s.active_version.as_deref().unwrap_or("its release"),
                        ),
                    });
                }
                check_runs(
                    world,
                    s.active_color,
                    s.active_task_definition.as_deref(),
                    "the release before",
                )?;
                s.active_color
            } else {
                if s.switched_at.is_none() {
                    return Err(Error::NothingToRollBack {
                        app: app.to_string(),
                        why: format!(
                            "{} has served since before bluegreen's first switch; no previous release is recorded",
                            s.active_color
                        ),
                    });
                }
                check_runs(
                    world,
                    s.previous_color,
                    s.previous_task_definition.as_deref(),
                    s.previous_version
                        .as_deref()
                        .unwrap_or("the previous release"),
                )?;
                s.previous_color
            }
        }
    };

    let there = world.weights.sole() == Some(target);
    // A release's own rollback (its state machine's, or its ended
    // execution's) writes even when the listener reads as already there:
    // the release may have just changed it, and a describe right after a
    // modify may still answer the actions from before (the load balancer's
    // API is eventually consistent). The write is idempotent; its answer is
    // the load balancer's own word.
    let confirm_only = there
        && !stopped
        && matches!(
            request.source,
            RollbackSource::StateMachine | RollbackSource::ExecutionEnded
        );
    let move_traffic = !there || stopped || confirm_only;
    let cold = if world.weights.sole() == Some(target) {
        None
    } else {
        cold(world, target)
    };
    let to = ColorVersion {
        color: target,
        version: label(world, target, request.release.as_ref()),
    };
    let from = ColorVersion {
        color: target.other(),
        version: label(world, target.other(), request.release.as_ref()),
    };
    let new_state = AppState {
        active_color: target,
        active_version: to.version.clone(),
        previous_color: target.other(),
        previous_version: from.version.clone(),
        active_task_definition: Some(world.task_definition(target).to_string()),
        previous_task_definition: Some(world.task_definition(target.other()).to_string()),
        previous_color_replaced_by: None,
        previous_color_replaced_with: None,
        weights: Split::all(target),
        phase: Phase::RolledBack,
        last_execution_arn: request
            .caller_execution
            .clone()
            .or_else(|| state.and_then(|s| s.last_execution_arn.clone())),
        switched_at: if world.weights.sole() == Some(target) {
            state.and_then(|s| s.switched_at).or(Some(now))
        } else {
            Some(now)
        },
        // Kept when production already was there (a rerun), as the record had it.
        live_since: if world.weights.sole() == Some(target) {
            state
                .filter(|s| s.active_color == target)
                .and_then(|s| s.live_since)
        } else {
            Some(now)
        },
    };
    Ok(Decision::Roll(Box::new(RollPlan {
        target,
        move_traffic,
        confirm_only,
        new_state,
        from,
        to,
        cold,
    })))
}

/// A message sent before the release that serves now first got traffic was
/// about an earlier release (a late SNS delivery, a Lambda retry hours
/// later): it must not roll this one back. Weight steps of the same release
/// after the message do not make it stale: it was sent about this release.
pub fn stale(world: &World, request: &RollbackRequest) -> Option<Error> {
    let sent = request.sent_at?;
    let since = world.state().and_then(|s| s.live_since.or(s.switched_at))?;
    (sent < since).then(|| Error::StaleRequest {
        app: request.app.clone(),
        sent_at: rfc3339(sent),
        switched_at: rfc3339(since),
    })
}

/// Whether production already is where a rollback would put it: the record
/// says the last release was rolled back and the listener agrees. A copy of
/// the message that did it, delivered again, has nothing left to do.
pub fn already_rolled_back(world: &World) -> bool {
    world.state().is_some_and(|s| {
        s.phase == Phase::RolledBack && world.weights.sole() == Some(s.active_color)
    })
}

/// The state without its "previous color replaced" mark when ECS says the
/// mark is false: the marked color still runs the release recorded before it
/// (the deployment that marked it failed before it updated the service), and
/// no deployment can still act on it (none was stopped by this rollback and
/// none holds the lock). A deployment in flight keeps its mark: it may be
/// between its fence check and its service update.
fn stale_mark(world: &World, stopped: bool) -> Option<AppState> {
    let s = world.state()?;
    s.previous_color_replaced_by.as_ref()?;
    let deployment_may_act = stopped
        || world
            .records
            .lock
            .as_ref()
            .is_some_and(|l| !super::is_rollback_holder(&l.holder));
    let still_runs = s
        .previous_task_definition
        .as_deref()
        .is_some_and(|td| td == world.task_definition(s.previous_color));
    (still_runs && !deployment_may_act).then(|| AppState {
        previous_color_replaced_by: None,
        previous_color_replaced_with: None,
        ..s.clone()
    })
}

/// Invariants 1 and 4: the target takes production only with as many healthy
/// targets as production needs.
pub(crate) fn cold(world: &World, target: Color) -> Option<Cold> {
    let serving = world.serving_running_except(target);
    let needed = healthy_needed(world.config(), serving);
    let healthy = *world.healthy.get(target);
    let serving_desired = world
        .serving()
        .filter(|c| *c != target)
        .map(|c| world.services.get(c).desired)
        .max()
        .unwrap_or(0)
        .max(needed as i32);
    let desired = world.services.get(target).desired;
    // A color kept warm at part of its size (`warm_capacity_percent`) takes
    // production back at full size only: scaled up first, as after the
    // window, even when its share could carry it by `min_healthy_fraction`.
    let kept_small = world.config().warm_capacity_percent < 100 && desired < serving_desired;
    // A color scaling in (desired below what production needs) still has
    // healthy targets for a while: it is cold all the same.
    if !kept_small
        && crate::world::routing::can_carry(
            world.config(),
            &world.weights,
            &world.services,
            &world.healthy,
            target,
        )
    {
        return None;
    }
    Some(Cold {
        healthy,
        needed,
        scale_to: (desired < serving_desired).then_some(serving_desired),
    })
}

/// The version running on `color`, as far as the records can name it.
pub(crate) fn label(world: &World, color: Color, release: Option<&ReleaseRef>) -> Option<String> {
    let td = world.task_definition(color);
    if let Some(r) = release
        && r.color == Some(color)
        && r.task_definition.as_deref().is_none_or(|t| t == td)
    {
        return Some(r.version.clone());
    }
    let s = world.state()?;
    let (version, recorded) = if s.active_color == color {
        (
            s.active_version.clone(),
            s.active_task_definition.as_deref(),
        )
    } else if let Some(newer) = &s.previous_color_replaced_by
        && !mark_contradicted(world, s)
    {
        (
            Some(newer.clone()),
            s.previous_color_replaced_with.as_deref(),
        )
    } else {
        (
            s.previous_version.clone(),
            s.previous_task_definition.as_deref(),
        )
    };
    match recorded {
        Some(t) if t != td => None,
        _ => version,
    }
}

/// ECS contradicts the "replaced by" mark: the marked color still runs the
/// release recorded before it, not the one the mark names (the deployment
/// that marked it stopped before it updated the service, or has not yet).
fn mark_contradicted(world: &World, s: &AppState) -> bool {
    let td = world.task_definition(s.previous_color);
    s.previous_task_definition.as_deref() == Some(td)
        && s.previous_color_replaced_with.as_deref() != Some(td)
}

/// A contradicted mark on a color that already carries production: traffic
/// there is on the release before (a rollback whose record was lost, or a
/// move by hand). Sending it back to the active color would put production
/// on the release being rolled back. A deployment still acting cannot
/// replace it now: deploy-idle refuses a color production was moved onto.
fn mark_contradicted_where_production_is(world: &World, s: &AppState) -> bool {
    world.weights.serves(s.previous_color) && mark_contradicted(world, s)
}

/// ECS must run on `color` what the record says it runs, when the record
/// knows (states written before task definitions were recorded do not).
fn check_runs(world: &World, color: Color, recorded: Option<&str>, what: &str) -> Result<()> {
    match recorded {
        Some(td) if td != world.task_definition(color) => Err(drift(
            world,
            color,
            format!("the record says {color} runs {what} ({td})"),
        )),
        _ => Ok(()),
    }
}

fn drift(world: &World, color: Color, record: String) -> Error {
    let app = &world.config().app;
    Error::Drift {
        app: app.clone(),
        record,
        world: format!(
            "ECS service {} runs {} and the load balancer sends {}",
            world.config().color(color).service,
            world.task_definition(color),
            world.weights
        ),
        fix: format!(
            "Check what really serves, then record it with `bluegreen reconcile --app {app}` and roll back again, or move traffic by hand"
        ),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    //! The decision table, over worlds built in memory.

    use super::*;
    use crate::world::World;
    use crate::world::fixture::{BLUE_TD, GREEN_TD, service};

    use crate::world::fixture::released as world;

    fn emergency() -> RollbackRequest {
        RollbackRequest {
            app: "a".into(),
            reason: "r".into(),
            source: super::super::RollbackSource::Sns,
            requested_by: None,
            caller_execution: None,
            release: None,
            sent_at: None,
            ended_execution: None,
        }
    }

    fn from_state_machine(color: Color) -> RollbackRequest {
        RollbackRequest {
            release: Some(ReleaseRef {
                version: "v2".into(),
                color: Some(color),
                task_definition: Some(GREEN_TD.into()),
                serving_task_definition: Some(BLUE_TD.into()),
            }),
            source: super::super::RollbackSource::StateMachine,
            ..emergency()
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::hours(2)
    }

    fn roll(d: Decision) -> RollPlan {
        match d {
            Decision::Roll(p) => *p,
            other => panic!("expected a roll, got {other:?}"),
        }
    }

    #[test]
    fn goes_to_the_color_that_runs_the_release_before() {
        let p = roll(decide(&world(0, 100), &emergency(), false, now()).unwrap());
        assert_eq!(
            (p.target, p.move_traffic, p.cold.is_none()),
            (Color::Blue, true, true)
        );
        assert_eq!(p.to.version.as_deref(), Some("v1"));
        assert_eq!(p.new_state.phase, Phase::RolledBack);
        assert_eq!(p.new_state.active_task_definition.as_deref(), Some(BLUE_TD));
    }

    #[test]
    fn twice_is_once_and_a_listener_moved_by_hand_is_recorded_not_moved() {
        let mut w = world(100, 0);
        let p = roll(decide(&w, &emergency(), false, now()).unwrap());
        assert_eq!((p.target, p.move_traffic), (Color::Blue, false));
        w.records.state = Some(p.new_state);
        let again = roll(decide(&w, &emergency(), false, now()).unwrap());
        assert_eq!((again.target, again.move_traffic), (Color::Blue, false));
    }

    #[test]
    fn a_previous_color_no_longer_running_its_release_is_drift() {
        let mut w = world(0, 100);
        w.services.blue.task_definition = "td:9".into();
        let e = decide(&w, &emergency(), false, now()).unwrap_err();
        assert_eq!(e.error_type(), "Drift", "{e}");
        assert!(e.to_string().contains("bluegreen reconcile --app a"), "{e}");
    }

    #[test]
    fn a_thin_target_is_cold_and_scaled_up_first() {
        let mut w = world(0, 100);
        w.services.blue = service(BLUE_TD, 1);
        w.healthy.blue = 1;
        let p = roll(decide(&w, &emergency(), false, now()).unwrap());
        let cold = p.cold.expect("cold");
        assert_eq!((cold.healthy, cold.needed, cold.scale_to), (1, 2, Some(2)));
    }

    #[test]
    fn a_release_without_weight_is_untouched_unless_the_record_says_it_went_live() {
        let mut w = world(100, 0);
        let mut before_release = w.records.state.clone().unwrap();
        before_release.active_color = Color::Blue;
        before_release.previous_color = Color::Green;
        before_release.active_version = Some("v1".into());
        w.records.state = Some(before_release);
        assert!(matches!(
            decide(&w, &from_state_machine(Color::Green), false, now()).unwrap(),
            Decision::Untouched { .. }
        ));
        // The record names the release live, the listener gives it nothing:
        // a rollback whose answer was lost already moved it. Record it, and
        // write the split again all the same (the read may be stale), without
        // saying anything changed.
        let w = world(100, 0);
        let p = roll(decide(&w, &from_state_machine(Color::Green), false, now()).unwrap());
        assert_eq!(
            (p.target, p.move_traffic, p.confirm_only),
            (Color::Blue, true, true)
        );
        // An emergency message finds it there and writes nothing.
        let p = roll(decide(&w, &emergency(), false, now()).unwrap());
        assert_eq!(
            (p.target, p.move_traffic, p.confirm_only),
            (Color::Blue, false, false)
        );
    }

    /// A console Redrive of an old execution asks to roll back a release
    /// whose color has run a newer one since: nothing moves.
    #[test]
    fn a_replay_about_a_release_no_longer_running_changes_nothing() {
        let mut w = world(0, 100);
        w.services.green = service("arn:aws:ecs:us-east-1:1:task-definition/a:3", 2);
        match decide(&w, &from_state_machine(Color::Green), false, now()).unwrap() {
            Decision::Untouched { note, serving } => {
                assert!(note.contains("no longer runs on green"), "{note}");
                assert_eq!(serving.color, Color::Green);
            }
            other => panic!("expected nothing to move, got {other:?}"),
        }
    }

    #[test]
    fn any_weight_on_the_release_is_traffic() {
        let p = roll(
            decide(
                &world(999, 1),
                &from_state_machine(Color::Green),
                false,
                now(),
            )
            .unwrap(),
        );
        assert_eq!((p.target, p.move_traffic), (Color::Blue, true));
    }

    #[test]
    fn a_message_older_than_the_last_switch_is_stale() {
        let request = RollbackRequest {
            sent_at: Some(OffsetDateTime::UNIX_EPOCH),
            ..emergency()
        };
        // Decided from the first round, before the decision (see `rollback`).
        let e = stale(&world(0, 100), &request).unwrap();
        assert_eq!(e.error_type(), "StaleRequest");
    }

    /// v3 was deployed onto blue: the state marks it, ECS runs v3's revision.
    fn replaced(blue: u32, green: u32) -> World {
        let mut w = world(blue, green);
        w.records.state.as_mut().unwrap().previous_color_replaced_by = Some("v3".into());
        w.services.blue = service("arn:aws:ecs:us-east-1:1:task-definition/a:3", 2);
        w
    }

    #[test]
    fn a_replaced_previous_color_is_no_target_unless_it_already_serves() {
        let e = decide(&replaced(0, 100), &emergency(), false, now()).unwrap_err();
        assert_eq!(e.error_type(), "NothingToRollBack");
        // v3's switch moved traffic without recording it: back to green.
        let p = roll(decide(&replaced(50, 50), &emergency(), false, now()).unwrap());
        assert_eq!(p.target, Color::Green);
    }

    fn lock(holder: &str) -> Option<crate::records::lock::Lock> {
        Some(crate::records::lock::Lock {
            holder: holder.into(),
            acquired_at: now(),
            expires_at: now() + time::Duration::hours(1),
        })
    }

    #[test]
    fn a_mark_ecs_contradicts_counts_only_while_a_deployment_may_act() {
        // The mark, but blue still runs v1's revision (td:1).
        let marked = || {
            let mut w = world(0, 100);
            w.records.state.as_mut().unwrap().previous_color_replaced_by = Some("v3".into());
            w
        };
        let rows: [(Option<crate::records::lock::Lock>, bool, Option<Color>); 4] = [
            // Nobody can still act: ECS is right, blue is the target.
            (None, false, Some(Color::Blue)),
            (lock("rollback:1"), false, Some(Color::Blue)),
            // A deployment holds the lock, or this rollback stopped one: its
            // deploy-idle may be between the fence check and the update.
            (
                lock("arn:aws:states:us-east-1:1:execution:sm:v3"),
                false,
                None,
            ),
            (None, true, None),
        ];
        for (held, stopped, target) in rows {
            let mut w = marked();
            w.records.lock = held.clone();
            let got = decide(&w, &emergency(), stopped, now());
            match target {
                Some(color) => {
                    let p = roll(got.unwrap());
                    assert_eq!(p.target, color, "{held:?} {stopped}");
                    assert_eq!(p.to.version.as_deref(), Some("v1"));
                    assert_eq!(p.new_state.previous_color_replaced_by, None);
                }
                None => assert_eq!(
                    got.unwrap_err().error_type(),
                    "NothingToRollBack",
                    "{held:?} {stopped}"
                ),
            }
        }
    }
}
