//! What deploy-idle does, decided from one look at the world (the listener,
//! both services, the record as repaired from them): pure, so every case is
//! a table row below. `mod.rs` takes the lock, looks, and applies the plan.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::color::Color;
use crate::document::requests::{Artifact, DeployRequest};
use crate::document::task_definition::TaskDefinitionDocument;
use crate::error::EXECUTION_INPUT as SOURCE;
use crate::error::{Error, Result};
use crate::ports::RevisionTag;
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

#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The color serving all production traffic; never touched.
    pub active: Color,
    pub idle: Color,
    /// The idle service's task count: the active one's (at least one).
    pub desired: i32,
    pub release: Release,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Release {
    /// A task definition registered beforehand, run as is.
    TaskDefinition(String),
    /// New images on a revision of `base`: what production runs now (the
    /// serving color's task definition, never the idle color's older one),
    /// or for a redeploy of an ARN that ARN. With `mark`, a revision of its
    /// own even when nothing else changes (a redeploy).
    Revision {
        images: NewImages,
        base: String,
        mark: Option<RevisionTag>,
    },
    /// A task definition to register, with a redeploy's `mark`.
    Document {
        document: TaskDefinitionDocument,
        mark: Option<RevisionTag>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewImages {
    /// The release container's (the config's `container`, or the only one).
    ReleaseContainer(String),
    /// These containers' (name → image).
    Named(BTreeMap<String, String>),
}

/// The tag of a redeploy's revision: the execution's own, so that its rerun
/// finds it and the next redeploy makes another.
pub const REDEPLOY_TAG: &str = "bluegreen:redeploy";

fn redeploy_mark(request: &DeployRequest) -> Option<RevisionTag> {
    request.redeploy.then(|| RevisionTag {
        key: REDEPLOY_TAG.to_string(),
        value: hex::encode(&Sha256::digest(request.caller.holder())[..16]),
    })
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
    let already_live = !request.redeploy
        && state.is_some_and(|s| {
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
            failed_grace_seconds: None,
        });
    }
    let mark = redeploy_mark(request);
    let base = active_service.task_definition.clone();
    let family_check = match &request.artifact {
        Artifact::TaskDefinitionArn(arn) => {
            own_family(world, family(arn), "release.task_definition")
        }
        Artifact::Document(document) => {
            own_family(world, document.family(), "release.task_definition.family")
        }
        Artifact::Image(_) | Artifact::Images(_) => Ok(()),
    };
    if let Err(error) = family_check {
        // Nothing was changed but the lock this call took.
        return Plan::Refuse {
            error,
            give_back_lock: true,
        };
    }
    let release = match &request.artifact {
        Artifact::TaskDefinitionArn(arn) if mark.is_none() => Release::TaskDefinition(arn.clone()),
        // A redeploy of an ARN: a copy of it, a revision of its own.
        Artifact::TaskDefinitionArn(arn) => Release::Revision {
            images: NewImages::Named(BTreeMap::new()),
            base: arn.clone(),
            mark,
        },
        Artifact::Image(image) => Release::Revision {
            images: NewImages::ReleaseContainer(image.clone()),
            base,
            mark,
        },
        Artifact::Images(images) => Release::Revision {
            images: NewImages::Named(images.clone()),
            base,
            mark,
        },
        Artifact::Document(document) => Release::Document {
            document: document.clone(),
            mark,
        },
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
fn own_family(world: &World, wanted: &str, field: &str) -> Result<()> {
    let own: Vec<&str> = Color::BOTH
        .into_iter()
        .map(|c| family(world.task_definition(c)))
        .collect();
    if own.contains(&wanted) {
        return Ok(());
    }
    Err(Error::bad_input(
        SOURCE,
        field,
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
        && match &request.artifact {
            Artifact::TaskDefinitionArn(td) => td == runs,
            _ => true,
        };
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
        failed_grace_seconds: Some(config.failed_color_grace_seconds),
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
        let artifact = match (image, td) {
            (Some(image), _) => Artifact::Image(image.into()),
            (None, Some(td)) => Artifact::TaskDefinitionArn(td.into()),
            (None, None) => unreachable!("a row gives one"),
        };
        shipping(version, artifact)
    }

    fn shipping(version: &str, artifact: Artifact) -> DeployRequest {
        DeployRequest {
            caller: Caller {
                app: "a".into(),
                version: version.into(),
                execution_arn: Some("arn:aws:states:us-east-1:1:execution:sm:e1".into()),
            },
            artifact,
            redeploy: false,
            strategy: None,
            migrations: None,
        }
    }

    fn redeploy(request: DeployRequest) -> DeployRequest {
        DeployRequest {
            redeploy: true,
            ..request
        }
    }

    fn document(family: &str) -> Artifact {
        let value = serde_json::json!({
            "family": family,
            "containerDefinitions": [{"name": "app", "image": "img:v2"}, {"name": "envoy", "image": "envoy:1"}]
        });
        Artifact::Document(
            TaskDefinitionDocument::parse("test", "release.task_definition", &value).unwrap(),
        )
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
                    Release::Revision { images, base, mark } => format!(
                        "{} on {base}{}",
                        match images {
                            NewImages::ReleaseContainer(image) => image.clone(),
                            NewImages::Named(named) => format!("{named:?}"),
                        },
                        if mark.is_some() {
                            ", a revision of its own"
                        } else {
                            ""
                        }
                    ),
                    Release::Document { document, mark } => format!(
                        "a new {} revision{}",
                        document.family(),
                        if mark.is_some() { " of its own" } else { "" }
                    ),
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
                "several containers' images",
                world(100, 0, Some(stable_v1.clone())),
                shipping(
                    "v2",
                    Artifact::Images(BTreeMap::from([
                        ("app".to_string(), "img:v2".to_string()),
                        ("envoy".to_string(), "envoy:2".to_string()),
                    ])),
                ),
                format!(
                    "deploy 3 tasks to green from {{\"app\": \"img:v2\", \"envoy\": \"envoy:2\"}} on {checkout1}"
                ),
            ),
            (
                "a task definition to register, of the app's own family",
                world(100, 0, Some(stable_v1.clone())),
                shipping("v2", document("checkout")),
                "deploy 3 tasks to green from a new checkout revision".to_string(),
            ),
            (
                "a task definition to register of another family: refused, the lock given back",
                world(100, 0, Some(stable_v1.clone())),
                shipping("v2", document("billing")),
                "refuse BadInput (lock back: true)".to_string(),
            ),
            (
                "a redeploy of the version production runs: a revision of its own",
                world(100, 0, Some(stable_v1.clone())),
                redeploy(request("v1", Some("img:v1"), None)),
                format!(
                    "deploy 3 tasks to green from img:v1 on {checkout1}, a revision of its own"
                ),
            ),
            (
                "a redeploy of a task-definition ARN: a copy of it",
                world(100, 0, Some(stable_v1.clone())),
                redeploy(request("v1", None, Some(&checkout1))),
                format!("deploy 3 tasks to green from {{}} on {checkout1}, a revision of its own"),
            ),
            (
                "a redeploy of a document",
                world(100, 0, Some(stable_v1.clone())),
                redeploy(shipping("v1", document("checkout"))),
                "deploy 3 tasks to green from a new checkout revision of its own".to_string(),
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
