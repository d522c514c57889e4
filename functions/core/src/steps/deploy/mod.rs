//! Putting the release on the idle color. The outcome is stored by the state
//! machine under `$.deploy` and read by the later steps (smoke tests need the
//! idle color; the check loop needs the task definition). The decision is a
//! pure plan from one look at the world ([`plan`]); this file takes the
//! app's lock, looks, and applies it.

use std::time::Duration;

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::document::requests::DeployRequest;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Executions, LoadBalancer, ParameterStore, Services};
use crate::records::config::{AppConfig, Strategy};
use crate::records::fence::rolled_back_meanwhile;
use crate::records::migrations::{MigrationPhase, MigrationReport};
use crate::records::scaling::{self, ScalingRecord};
use crate::records::state::AppState;
use crate::records::store::AppStore;
use crate::steps::migrate::{MigrationTask, Progress, migrate, release_container};
use crate::steps::reconcile::repair_record;
use crate::world::routing::{read_weights, weights_of, write_split};
use crate::world::split::Split;
use crate::world::{PerColor, World, observe};

mod plan;
mod revision;

pub use crate::document::outcomes::DeployOutcome;

pub use plan::{Deployment, NewImages, Plan, Release};

/// Deploys the release to the idle color: takes the app's lock, looks at
/// the world once, plans ([`plan`]) and applies the plan: registers the
/// release's task definition (unless the idle service already runs it),
/// sizes the idle service like the active one, and points the test route at
/// it. Safe to run twice.
pub async fn deploy<W>(
    aws: &W,
    request: &DeployRequest,
    now: OffsetDateTime,
) -> Result<DeployOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Executions + Prefixed,
{
    let app = request.caller.app.as_str();
    let version = request.caller.version.as_str();
    let me = request.caller.holder();
    let store = AppStore::new(aws, aws.prefix())?;
    let config = store.config(app).await?;
    let strategy = request.strategy.as_ref().unwrap_or(&config.strategy);
    // An app that autoscales needs a scalable target per color: refused
    // before the lock or anything else (the targets are read again, under
    // the lock, before they change).
    scaling::read(aws, &config).await?;
    let acquired = store
        .acquire_lock(app, &me, lock_ttl(&config, request, strategy), now, aws)
        .await?;

    // The listener, not the stored state, decides which color is idle: what
    // serves production must never be touched. A record naming another
    // active color is repaired from the world first.
    let world = observe(&store, app, None).await?;
    let state = match world.weights.sole() {
        Some(active) => repair_record(&store, &world, active).await?,
        None => world.state().cloned(),
    };
    let outcome = match plan::plan(&world, state.as_ref(), request, now) {
        Plan::AlreadyLive(outcome) => {
            info!(app, version, color = %outcome.idle_color.other(), "release already serves all production traffic");
            Ok(outcome)
        }
        Plan::Resume(outcome) => {
            info!(app, version, color = %outcome.idle_color, split = %world.weights,
                  "a rerun picks up the release left part-way");
            Ok(outcome)
        }
        Plan::Refuse {
            error,
            give_back_lock,
        } => {
            if give_back_lock && acquired != crate::records::lock::Acquired::AlreadyHeld {
                store.release_lock(app, &me).await?;
            }
            Err(error)
        }
        Plan::Deploy(deployment) => {
            // Boxed: keeps deploy's own future small.
            Box::pin(apply(
                aws,
                &store,
                &config,
                request,
                &world,
                state.as_ref(),
                deployment,
                now,
            ))
            .await
        }
    }?;
    with_drain_time(aws, &config, outcome).await
}

/// The warm window lasts at least the old color's deregistration delay, as
/// its target group says: requests still in flight on it when traffic moved
/// away finish before scale-down takes its tasks. (The old color last had
/// weight at the last switch step, before the last bake and the lock's
/// release; the warm window starts after both.)
async fn with_drain_time<W: LoadBalancer>(
    aws: &W,
    config: &AppConfig,
    mut outcome: DeployOutcome,
) -> Result<DeployOutcome> {
    let old = config.color(outcome.idle_color.other());
    let delay = aws.deregistration_delay(&old.target_group_arn).await?;
    if delay > outcome.warm_window_seconds {
        info!(app = %outcome.app, delay, warm_window = outcome.warm_window_seconds,
              "the warm window is stretched to the old color's deregistration delay");
        outcome.warm_window_seconds = delay;
    }
    Ok(outcome)
}

/// The plan's changes, in order: the task definition, the record's mark,
/// a look at the fence and the lock, the held bounds, the idle service (after
/// a last look at the listener), a look at the fence again, the test route.
/// Any failure stops here; the state machine's retry looks and plans again.
#[allow(clippy::too_many_arguments)]
async fn apply<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    request: &DeployRequest,
    world: &World,
    state: Option<&AppState>,
    deployment: Deployment,
    now: OffsetDateTime,
) -> Result<DeployOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let app = config.app.as_str();
    let version = request.caller.version.as_str();
    let me = request.caller.holder();
    let Deployment {
        active,
        idle,
        desired,
        ..
    } = deployment;
    let idle_name = config.color(idle).service.clone();
    let task_definition = revision::task_definition(aws, config, &deployment.release).await?;
    let (replaces_release, update_needed) = deployment.changes(world, &task_definition);
    // The expand migration first: the release may need the expanded schema
    // to become healthy, and the old release serves meanwhile. While it runs
    // the state machine waits and calls again; nothing else changes yet.
    let outcome = |changed: bool, migrating: bool, expand: Option<MigrationReport>| DeployOutcome {
        app: app.to_string(),
        version: version.to_string(),
        idle_color: idle,
        service: idle_name.clone(),
        task_definition_arn: task_definition.clone(),
        desired_count: desired,
        serving_task_definition: Some(world.task_definition(active).to_string()),
        changed,
        already_live: false,
        started_at: now,
        warm_window_seconds: config.warm_window_seconds,
        migrating,
        expand,
        // While the expand runs the idle color is not changed yet: a
        // failure then leaves nothing to scale back.
        failed_grace_seconds: (!migrating).then_some(config.failed_color_grace_seconds),
    };
    let expand = if update_needed {
        match Box::pin(expand(
            aws,
            store,
            config,
            request,
            world,
            &idle_name,
            &task_definition,
            now,
        ))
        .await?
        {
            // The idle color is not updated while the expand runs.
            Some(Progress::Running(run)) => {
                return Ok(outcome(true, true, Some(MigrationReport::of(&run, now))));
            }
            Some(Progress::Succeeded(run)) => Some(MigrationReport::of(&run, now)),
            None => None,
        }
    } else {
        None
    };
    if replaces_release
        && let Err(e) =
            mark_previous_color_replaced(store, app, state, idle, version, &task_definition).await
    {
        // The mark may have landed with its answer lost, on top of the state
        // of a rollback that fenced this deployment: put that back first.
        if let (_, Some(fence)) = store.lock_and_fence(app).await?
            && fence.fences(&me)
            && fence.still_current(|c| world.task_definition(c).to_string())
        {
            put_back_rollbacks_state(aws, store, config, &fence).await?;
        }
        return Err(e);
    }
    // A rollback that stopped this deployment may be deciding right now where
    // production goes: leave the idle color alone (see `fence`).
    let (lock, fence) = store.lock_and_fence(app).await?;
    if let Some(fence) = fence.filter(|f| f.fences(&me)) {
        // Only while ECS still runs what the fence's decision names: a
        // replay days later (a console Redrive) finds an old fence.
        if fence.still_current(|c| world.task_definition(c).to_string()) {
            put_back_rollbacks_state(aws, store, config, &fence).await?;
            // An earlier attempt of this step may have held the bounds after
            // the rollback settled them: its decision is applied again.
            if config.autoscaling {
                scaling::honour_fence(store, config, &fence).await?;
            }
        }
        warn!(
            app,
            version, "rolled back while deploying; the idle service is left as it was"
        );
        return Err(rolled_back_meanwhile(app, &fence));
    }
    if lock.as_ref().is_none_or(|l| l.holder != me) {
        // A rollback took the lock over (it stops and fences the deployment
        // holding it, and a reclaim may race a release): whoever holds it now
        // decides; this deployment stops before touching the idle color.
        return Err(Error::NotLockHolder {
            app: app.to_string(),
            me,
            found: lock.map_or_else(
                || "no lock is held".to_string(),
                |l| format!("{} holds it", l.holder),
            ),
        });
    }
    hold_both_colors(aws, store, config, &me, idle, desired, world).await?;
    if update_needed {
        // The listener again, just before the idle color changes: someone
        // may have moved production onto it by hand since the first look
        // (invariant 11: never resize a color with production weight).
        let weights = read_weights(aws, config).await?;
        if weights.serves(idle) {
            return Err(Error::Drift {
                app: app.to_string(),
                record: format!("deploy-idle read {idle} as the idle color"),
                world: format!("the load balancer now sends {weights}"),
                fix: "Production was moved while deploying; start the release again once it is where you want it".to_string(),
            });
        }
        aws.update(
            &config.cluster,
            &idle_name,
            Some(&task_definition),
            Some(desired),
        )
        .await?;
        info!(app, version, service = %idle_name, %task_definition, desired, "updated the idle service");
    }
    if config.autoscaling
        && let Some(fence) = store.fence_against(app, &me).await?
    {
        // A rollback fenced this deployment while it held the bounds: once
        // it has decided, its bounds are put back (see `scaling`).
        scaling::honour_fence(store, config, &fence).await?;
        return Err(rolled_back_meanwhile(app, &fence));
    }
    let test_route_moved = point_test_route(aws, config, idle).await?;

    Ok(outcome(update_needed || test_route_moved, false, expand))
}

/// Runs (or looks at) the release's expand migration, when the app has one.
#[allow(clippy::too_many_arguments)]
async fn expand<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    request: &DeployRequest,
    world: &World,
    idle_service: &str,
    task_definition: &str,
    now: OffsetDateTime,
) -> Result<Option<Progress>>
where
    W: ParameterStore + Services,
{
    let Some((migrations, step)) = config
        .migrations_or(request.migrations.as_ref())
        .and_then(|m| m.expand.as_ref().map(|e| (m, e)))
    else {
        return Ok(None);
    };
    let container = release_container(aws, config, task_definition).await?;
    let by = request.caller.holder();
    let task = MigrationTask {
        app: &config.app,
        cluster: &config.cluster,
        service: idle_service,
        container: &container,
        phase: MigrationPhase::Expand,
        command: &step.command,
        version: &request.caller.version,
        task_definition,
        by: &by,
        timeout_seconds: migrations.timeout_seconds,
    };
    migrate(aws, store, world.records.migrations.clone(), &task, now)
        .await
        .map(Some)
}

/// Our mark may have landed on top of the state of the rollback that fenced
/// this deployment. Put the rollback's state back only once the listener
/// shows its decision: before that, the rollback itself still writes it (or
/// failed, and the record must not claim what did not happen). A stopped
/// execution retries nothing: a few attempts here.
async fn put_back_rollbacks_state<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    fence: &crate::records::fence::Fence,
) -> Result<()>
where
    W: ParameterStore + LoadBalancer + Prefixed,
{
    let (Some(decided), Some(split)) = (&fence.state, fence.split) else {
        return Ok(());
    };
    crate::ports::retry::retrying(5, || async {
        if read_weights(aws, config).await?.matches(split) {
            store.save_state(&config.app, decided).await?;
        }
        Ok(())
    })
    .await
}

/// An app that autoscales: the bounds before this release are recorded
/// (once), then each color's minimum is held at the task count the release
/// needs of it: the idle color at the active one's desired count, the active
/// color at its own (see `scaling`).
async fn hold_both_colors<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    me: &str,
    idle: Color,
    desired: i32,
    world: &World,
) -> Result<()>
where
    W: ParameterStore + Services + Prefixed,
{
    let Some(now) = scaling::read(aws, config).await? else {
        return Ok(());
    };
    let active = idle.other();
    scaling::remember(
        store,
        &config.app,
        ScalingRecord {
            execution: me.to_string(),
            idle_color: idle,
            serving: *now.get(active),
            idle: *now.get(idle),
            settled: false,
        },
    )
    .await?;
    let held = PerColor::from_fn(|c| {
        let count = if c == idle {
            desired
        } else {
            world.services.get(active).desired
        };
        scaling::hold(*now.get(c), count)
    });
    scaling::apply_both(aws, config, idle, &now, &held).await
}

/// Before the idle color's release is replaced, the state says so: from then
/// on that color is no rollback target (see `AppState::can_roll_back`). Written
/// first, so that no moment exists where a rollback could pick a color that
/// already runs the new release.
async fn mark_previous_color_replaced(
    store: &AppStore<'_, impl ParameterStore>,
    app: &str,
    state: Option<&AppState>,
    idle: Color,
    version: &str,
    task_definition: &str,
) -> Result<()> {
    let Some(state) = state.filter(|s| s.previous_color == idle) else {
        return Ok(());
    };
    if state.previous_color_replaced_by.as_deref() == Some(version)
        && state.previous_color_replaced_with.as_deref() == Some(task_definition)
    {
        return Ok(());
    }
    let marked = AppState {
        previous_color_replaced_by: Some(version.to_string()),
        previous_color_replaced_with: Some(task_definition.to_string()),
        ..state.clone()
    };
    store.save_state(app, &marked).await
}

/// Long enough for the whole deployment (deploy, every step's bake, and some
/// slack), short enough that a crashed run does not block the app for a day.
fn lock_ttl(config: &AppConfig, request: &DeployRequest, strategy: &Strategy) -> Duration {
    let steps = strategy.steps().len() as u64;
    // An expand migration may take its whole time limit first.
    let migrations = config
        .migrations_or(request.migrations.as_ref())
        .map_or(0, |m| m.timeout_seconds);
    Duration::from_secs(
        config.deploy_timeout_seconds + migrations + steps * (strategy.bake_seconds() + 120) + 3600,
    )
}

/// Smoke tests reach the idle color through the test route; it must send
/// everything there. Returns whether it had to change.
async fn point_test_route(lb: &impl LoadBalancer, config: &AppConfig, idle: Color) -> Result<bool> {
    let Some(test) = &config.test else {
        return Ok(false);
    };
    let route = test.route();
    let current = lb.read_actions(&route).await?;
    let wanted = Split::all(idle);
    if weights_of(config, &route, &current).is_ok_and(|w| w.matches(wanted)) {
        return Ok(false);
    }
    write_split(lb, config, &route, &current, wanted, false).await?;
    info!(app = %config.app, color = %idle, "test route now reaches the idle color");
    Ok(true)
}
