//! What deploy-idle does, decided from one look at the world (the listener,
//! both services, the record as repaired from them): pure, so every case is
//! a table row below. `mod.rs` takes the lock, looks, and applies the plan.

use time::OffsetDateTime;

use crate::color::Color;
use crate::document::requests::DeployRequest;
use crate::error::EXECUTION_INPUT as SOURCE;
use crate::error::{Error, Result};
use crate::records::config::AppConfig;
use crate::records::state::{AppState, Phase};
use crate::world::World;

use super::DeployOutcome;

#[derive(Debug)]
pub enum Plan {
    /// This version already serves all production traffic: nothing to
    /// deploy, and the state machine ends here.
    AlreadyLive(DeployOutcome),
    /// A rerun picks up the release left part-way (see [`resume`]).
    Resume(DeployOutcome),
    /// Refused before anything changes; `give_back_lock` when the lock this
    /// call took must not outlive the refusal.
    Refuse { error: Error, give_back_lock: bool },
    /// Put the release on the idle color.
    Deploy(Deployment),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The color serving all production traffic; never touched.
    pub active: Color,
    pub idle: Color,
    /// The idle service's task count: the active one's (at least one).
    pub desired: i32,
    pub release: Release,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// A task definition registered beforehand.
    TaskDefinition(String),
    /// A new image on a revision of what production runs now (`base`, the
    /// serving color's task definition), never the idle color's older one.
    Image { image: String, base: String },
}

impl Deployment {
    /// Whether running `task_definition` replaces the idle color's release
    /// (then the record marks the color first), and whether the idle
    /// service must change at all.
    pub fn changes(&self, world: &World, task_definition: &str) -> (bool, bool) {
        let idle = world.services.get(self.idle);
        let replaces = idle.task_definition != task_definition;
        (replaces, replaces || idle.desired != self.desired)
    }
}

/// The plan for `request` in `world`, with `state` the record as repaired
/// from the world (the listener, not the record, says which color is idle).
pub fn plan(
    world: &World,
    state: Option<&AppState>,
    request: &DeployRequest,
    now: OffsetDateTime,
) -> Plan {
    let config = world.config();
    let app = request.caller.app.as_str();
    let version = request.caller.version.as_str();
    let Some(active) = world.weights.sole() else {
        if let Some(resumed) = resume(world, config, request, now) {
            return Plan::Resume(resumed);
        }
        return Plan::Refuse {
            error: Error::ProductionSplit {
                app: app.to_string(),
                split: world.weights.to_string(),
            },
            give_back_lock: false,
        };
    };
    let idle = active.other();
    let active_service = world.services.get(active);
    let already_live = state.is_some_and(|s| {
        s.active_color == active
            && s.active_version.as_deref() == Some(version)
            && s.phase == Phase::Stable
            && s.active_task_definition
                .as_deref()
                .is_none_or(|td| td == active_service.task_definition)
    });
    if already_live {
        return Plan::AlreadyLive(DeployOutcome {
            app: app.to_string(),
            version: version.to_string(),
            idle_color: idle,
            service: config.color(idle).service.clone(),
            task_definition_arn: active_service.task_definition.clone(),
            desired_count: active_service.desired,
            serving_task_definition: Some(active_service.task_definition.clone()),
            changed: false,
            already_live: true,
            started_at: now,
            warm_window_seconds: config.warm_window_seconds,
            migrating: false,
            expand: None,
        });
    }
    let release = match (&request.task_definition, &request.image) {
        (Some(arn), _) => {
            if let Err(error) = own_family(world, arn) {
                // Nothing was changed but the lock this call took.
                return Plan::Refuse {
                    error,
                    give_back_lock: true,
                };
            }
            Release::TaskDefinition(arn.clone())
        }
        (None, Some(image)) => Release::Image {
            image: image.clone(),
            base: active_service.task_definition.clone(),
        },
        (None, None) => {
            return Plan::Refuse {
                error: Error::bad_input(
                    SOURCE,
                    "release",
                    "needs `image` (a container image) or `task_definition` (an ARN)",
                ),
                give_back_lock: false,
            };
        }
    };
    Plan::Deploy(Deployment {
        active,
        idle,
        desired: active_service.desired.max(1),
        release,
    })
}

/// The family of a task-definition ARN (`…:task-definition/<family>:<revision>`).
fn family(arn: &str) -> &str {
    let tail = arn.rsplit_once("task-definition/").map_or(arn, |(_, t)| t);
    tail.rsplit_once(':').map_or(tail, |(f, _)| f)
}

/// A release given as a task definition must be of a family the app's own
/// services run: the deployer of one app must not run another app's task
/// definition (its roles, its secrets) behind this app's load balancer.
fn own_family(world: &World, arn: &str) -> Result<()> {
    let wanted = family(arn);
    let own: Vec<&str> = Color::BOTH
        .into_iter()
        .map(|c| family(world.task_definition(c)))
        .collect();
    if own.contains(&wanted) {
        return Ok(());
    }
    Err(Error::bad_input(
        SOURCE,
        "release.task_definition",
        format!(
            "family `{wanted}` is not this app's: its services run {}",
            own.iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    ))
}

/// A release left part-way: its execution stopped, timed out or failed while
/// production was split, and nothing rolled it back (the reaction to its end
/// was refused, or people chose to finish it). A rerun of the same release
/// picks it up: production is split between the color that ran before and
/// one that runs this version, as the record says, with the task definition
/// the record names (and the one this request names, if it names one).
/// Nothing is redeployed or resized; the state machine checks the color, runs
/// the smoke tests and goes through the switch steps again.
fn resume(
    world: &World,
    config: &AppConfig,
    request: &DeployRequest,
    now: OffsetDateTime,
) -> Option<DeployOutcome> {
    let state = world.state()?;
    let color = state.active_color;
    let runs = world.task_definition(color);
    let same_release = state.phase == Phase::Shifting
        && state.active_version.as_deref() == Some(request.caller.version.as_str())
        && state.active_task_definition.as_deref() == Some(runs)
        && request
            .task_definition
            .as_deref()
            .is_none_or(|td| td == runs);
    if !same_release || !world.weights.serves(color) || !world.weights.serves(color.other()) {
        return None;
    }
    Some(DeployOutcome {
        app: request.caller.app.clone(),
        version: request.caller.version.clone(),
        idle_color: color,
        service: config.color(color).service.clone(),
        task_definition_arn: runs.to_string(),
        desired_count: world.services.get(color).desired,
        serving_task_definition: Some(world.task_definition(color.other()).to_string()),
        changed: false,
        already_live: false,
        started_at: now,
        warm_window_seconds: config.warm_window_seconds,
        migrating: false,
        expand: None,
    })
}

#[cfg(test)]
mod tests {
    //! The plan table, over worlds built in memory.

    use super::*;
    use crate::document::requests::Caller;
    use crate::world::fixture::{BLUE_TD, GREEN_TD, service};

    const FOREIGN_TD: &str = "arn:aws:ecs:us-east-1:1:task-definition/billing:7";

    fn task_definition(family: &str, revision: u32) -> String {
        format!("arn:aws:ecs:us-east-1:1:task-definition/{family}:{revision}")
    }

    /// v1 live on blue (checkout:1), green idle on the older checkout:0.
    fn world(blue: u32, green: u32, state: Option<AppState>) -> World {
        let mut w = crate::world::fixture::world(blue, green, state);
        w.services.blue = service(&task_definition("checkout", 1), 3);
        w.services.green = service(&task_definition("checkout", 0), 1);
        w
    }

    fn live(version: &str, phase: Phase, color: Color, td: &str) -> AppState {
        AppState {
            active_task_definition: Some(td.into()),
            phase,
            ..AppState::initial(color, Some(version.into()))
        }
    }

    fn request(version: &str, image: Option<&str>, td: Option<&str>) -> DeployRequest {
        DeployRequest {
            caller: Caller {
                app: "a".into(),
                version: version.into(),
                execution_arn: None,
            },
            image: image.map(str::to_string),
            task_definition: td.map(str::to_string),
            strategy: None,
            migrations: None,
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    /// A row's plan, in words.
    fn said(plan: &Plan) -> String {
        match plan {
            Plan::AlreadyLive(o) => format!("already live on {}", o.idle_color.other()),
            Plan::Resume(o) => format!("resume on {}", o.idle_color),
            Plan::Refuse {
                error,
                give_back_lock,
            } => format!(
                "refuse {} (lock back: {give_back_lock})",
                error.error_type()
            ),
            Plan::Deploy(d) => format!(
                "deploy {} tasks to {} from {}",
                d.desired,
                d.idle,
                match &d.release {
                    Release::TaskDefinition(td) => td.clone(),
                    Release::Image { image, base } => format!("{image} on {base}"),
                }
            ),
        }
    }

    #[test]
    fn each_world_gets_its_plan() {
        let checkout1 = task_definition("checkout", 1);
        let checkout2 = task_definition("checkout", 2);
        let stable_v1 = live("v1", Phase::Stable, Color::Blue, &checkout1);
        // (why, world, request) -> the plan in words.
        let rows = [
            (
                "an image: on a revision of what production runs, sized like it",
                world(100, 0, Some(stable_v1.clone())),
                request("v2", Some("img:v2"), None),
                format!("deploy 3 tasks to green from img:v2 on {checkout1}"),
            ),
            (
                "a task definition of the app's own family",
                world(100, 0, Some(stable_v1.clone())),
                request("v2", None, Some(&checkout2)),
                format!("deploy 3 tasks to green from {checkout2}"),
            ),
            (
                "another app's task definition: refused, the lock given back",
                world(100, 0, Some(stable_v1.clone())),
                request("v2", None, Some(FOREIGN_TD)),
                "refuse BadInput (lock back: true)".to_string(),
            ),
            (
                "the version production already runs: nothing to do",
                world(100, 0, Some(stable_v1.clone())),
                request("v1", Some("img:v1"), None),
                "already live on blue".to_string(),
            ),
            (
                "the same version on another task definition than production runs: deployed",
                world(
                    100,
                    0,
                    Some(live("v1", Phase::Stable, Color::Blue, BLUE_TD)),
                ),
                request("v1", Some("img:v1"), None),
                format!("deploy 3 tasks to green from img:v1 on {checkout1}"),
            ),
            (
                "green serves (moved by hand): blue is the idle color",
                world(0, 100, None),
                request("v2", Some("img:v2"), None),
                format!(
                    "deploy 1 tasks to blue from img:v2 on {}",
                    task_definition("checkout", 0)
                ),
            ),
            (
                "production split by this release left part-way: resumed",
                world(
                    50,
                    50,
                    Some(live(
                        "v2",
                        Phase::Shifting,
                        Color::Green,
                        &task_definition("checkout", 0),
                    )),
                ),
                request("v2", Some("img:v2"), None),
                "resume on green".to_string(),
            ),
            (
                "production split by another release: refused",
                world(
                    50,
                    50,
                    Some(live(
                        "v3",
                        Phase::Shifting,
                        Color::Green,
                        &task_definition("checkout", 0),
                    )),
                ),
                request("v2", Some("img:v2"), None),
                "refuse ProductionSplit (lock back: false)".to_string(),
            ),
        ];
        for (why, world, request, want) in rows {
            let state = world.state().cloned();
            let got = plan(&world, state.as_ref(), &request, now());
            assert_eq!(said(&got), want, "{why}");
        }
    }

    #[test]
    fn a_rerun_finds_nothing_to_change() {
        let w = world(100, 0, None);
        let d = Deployment {
            active: Color::Blue,
            idle: Color::Green,
            desired: 1,
            release: Release::TaskDefinition(GREEN_TD.into()),
        };
        let idle_td = w.task_definition(Color::Green).to_string();
        assert_eq!(
            d.changes(&w, &idle_td),
            (false, false),
            "same release, same size"
        );
        assert_eq!(d.changes(&w, GREEN_TD), (true, true), "another release");
        let bigger = Deployment { desired: 3, ..d };
        assert_eq!(bigger.changes(&w, &idle_td), (false, true), "resized only");
    }
}
