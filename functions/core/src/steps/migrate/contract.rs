//! The contract migration: run once no rollback to the previous release
//! remains, by the state machine at the end of the warm window (before the
//! previous color is scaled down) or by `bluegreen migrate contract`.
//!
//! It runs under the app's lock, and only while the release still serves
//! all production traffic, as ECS and the load balancer say: a rollback or a
//! newer release since then means the previous release may still be needed,
//! and the contract waits for a later release or a person.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::migrations::{
    ContractIntent, ContractWhen, Contracted, MigrationPhase, MigrationRun, Migrations, RunStatus,
};
use crate::records::notifications::NoticeKind;
use crate::records::store::AppStore;
use crate::steps::notify::Notice;
use crate::world::observe;

use super::task::{MigrationTask, Progress, migrate};

/// What one contract call did; stored under `$.contract`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractOutcome {
    /// The task still runs: wait `wait_seconds` and call again.
    pub migrating: bool,
    #[serde(default)]
    pub wait_seconds: u64,
    /// The contract has run for this release (now or before).
    pub contracted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    /// Why it did not run, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl ContractOutcome {
    fn skipped(why: impl Into<String>) -> ContractOutcome {
        ContractOutcome {
            migrating: false,
            wait_seconds: 0,
            contracted: false,
            task_arn: None,
            log_url: None,
            skipped: Some(why.into()),
        }
    }

    /// Said it will run; waits `seconds` before it starts its task.
    fn settling(seconds: i64) -> ContractOutcome {
        ContractOutcome {
            migrating: true,
            wait_seconds: seconds.max(1) as u64,
            contracted: false,
            task_arn: None,
            log_url: None,
            skipped: None,
        }
    }

    fn of(progress: &Progress, now: OffsetDateTime) -> ContractOutcome {
        let run = progress.run();
        ContractOutcome {
            migrating: matches!(progress, Progress::Running(_)),
            wait_seconds: crate::records::migrations::next_look(run, now),
            contracted: matches!(progress, Progress::Succeeded(_)),
            task_arn: Some(run.task_arn.clone()),
            log_url: run.log.as_ref().map(|l| l.url()),
            skipped: None,
        }
    }
}

/// Who asks for the contract, and for which release.
#[derive(Debug, Clone)]
pub struct ContractRequest<'a> {
    pub app: &'a str,
    /// The lock holder and the run's owner: the execution, or `cli:<who>`.
    pub by: &'a str,
    /// Called by the state machine at the end of the warm window (a
    /// `manual` contract is then left to a person), or by a person.
    pub scheduled: bool,
    /// The release's migrations (its overrides), instead of the config's.
    pub migrations: Option<&'a Migrations>,
    /// How long a rollback may run (the rollback function's timeout, and a
    /// margin): the contract starts its task that long after it said it
    /// would, so that no rollback that missed the saying still moves
    /// traffic once the task runs.
    pub settle_seconds: u64,
}

/// How long the contract holds the app's lock if its caller dies holding
/// it, beyond the migration's own time limit.
const HOLD_SLACK_SECONDS: u64 = 600;

/// Runs (or looks at) the contract migration of the release that serves all
/// production traffic now.
pub async fn contract<W>(
    aws: &W,
    request: &ContractRequest<'_>,
    now: OffsetDateTime,
) -> Result<ContractOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let app = request.app;
    let store = AppStore::new(aws, aws.prefix())?;
    let config = store.config(app).await?;
    let Some((migrations, step)) = config
        .migrations_or(request.migrations)
        .and_then(|m| m.contract.as_ref().map(|c| (m, c)))
    else {
        // The state machine calls every app's contract step; a person asks
        // for a contract the config does not have.
        if request.scheduled {
            return Ok(ContractOutcome::skipped(
                "the app has no contract migration",
            ));
        }
        return Err(Error::bad_input(
            format!("config {}", store.parameter(app, "config")),
            "migrations.contract",
            "the app has no contract migration to run",
        ));
    };
    if request.scheduled && step.when == ContractWhen::Manual {
        return Ok(ContractOutcome::skipped(format!(
            "the contract runs when a person says so: bluegreen migrate contract --app {app}"
        )));
    }
    let hold = std::time::Duration::from_secs(migrations.timeout_seconds + HOLD_SLACK_SECONDS);
    match store.acquire_lock(app, request.by, hold, now, aws).await {
        Ok(_) => {}
        Err(Error::LockHeld { holder, .. }) => {
            return Ok(ContractOutcome::skipped(format!(
                "a newer deployment ({holder}) is in progress; its own contract covers this one, \
                 or run: bluegreen migrate contract --app {app}"
            )));
        }
        Err(e) => return Err(e),
    }
    let result = Box::pin(run_contract(aws, &store, &config, migrations, request, now)).await;
    let keep_lock = matches!(&result, Ok(o) if o.migrating);
    if !keep_lock {
        store.release_lock(app, request.by).await?;
    }
    if let Err(e @ Error::MigrationFailed { .. }) = &result {
        alert_failed(aws, &config, &e.to_string(), now).await;
    }
    result
}

async fn run_contract<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    migrations: &Migrations,
    request: &ContractRequest<'_>,
    now: OffsetDateTime,
) -> Result<ContractOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let app = request.app;
    let step = migrations.contract.as_ref().expect("checked by the caller");
    let world = observe(store, app, Some(config)).await?;
    let Some(live) = world.weights.sole() else {
        clear_intent(store, app, request.by).await?;
        return Ok(ContractOutcome::skipped(format!(
            "production is split ({}); a contract waits until one release serves everything",
            world.weights
        )));
    };
    let task_definition = world.task_definition(live).to_string();
    let state = world.state();
    let version = state
        .filter(|s| s.active_color == live)
        .and_then(|s| s.active_version.clone())
        .unwrap_or_else(|| task_definition.clone());
    let record = &world.records.migrations;
    if record
        .contracted
        .as_ref()
        .is_some_and(|c| c.task_definition == task_definition)
    {
        return Ok(ContractOutcome {
            contracted: true,
            ..ContractOutcome::skipped("the contract already ran for the release serving now")
        });
    }
    // Before its task starts, the contract says it will run (a rollback
    // from then on is refused), then waits out any rollback that read the
    // records before that: it may still move traffic, for as long as the
    // rollback function may run. The world is read anew on the call after.
    let started = record
        .latest(MigrationPhase::Contract, &task_definition)
        .is_some_and(|r| r.by == request.by);
    if !started {
        match &record.contract_intent {
            Some(i) if i.by == request.by && i.task_definition == task_definition => {
                let ready_at = i.at + std::time::Duration::from_secs(request.settle_seconds);
                if now < ready_at {
                    return Ok(ContractOutcome::settling((ready_at - now).whole_seconds()));
                }
                if let Some(deciding) = &world.records.deciding {
                    clear_intent(store, app, request.by).await?;
                    return Ok(ContractOutcome::skipped(format!(
                        "a rollback is deciding ({}); the previous release may come back",
                        deciding.by
                    )));
                }
            }
            _ => {
                let mut record = record.clone();
                record.contract_intent = Some(ContractIntent {
                    by: request.by.to_string(),
                    version: version.clone(),
                    task_definition: task_definition.clone(),
                    at: now,
                });
                store.save_migrations(app, &record).await?;
                info!(app, %version, settle = request.settle_seconds,
                      "the contract will run once no rollback can be in flight");
                return Ok(ContractOutcome::settling(request.settle_seconds as i64));
            }
        }
    }
    let container = super::release_container(aws, config, &task_definition).await?;
    let task = MigrationTask {
        app,
        cluster: &config.cluster,
        service: &config.color(live).service,
        container: &container,
        phase: MigrationPhase::Contract,
        command: &step.command,
        version: &version,
        task_definition: &task_definition,
        by: request.by,
        timeout_seconds: migrations.timeout_seconds,
    };
    let progress = match migrate(aws, store, record.clone(), &task, now).await {
        Ok(progress) => progress,
        Err(e) => {
            // A failed contract leaves the previous release a rollback
            // target: the intent goes with it.
            if matches!(e, Error::MigrationFailed { .. }) {
                clear_intent(store, app, request.by).await?;
            }
            return Err(e);
        }
    };
    if let Progress::Succeeded(run) = &progress {
        record_contracted(store, app, &world, live, run).await?;
    }
    Ok(ContractOutcome::of(&progress, now))
}

/// Takes back `by`'s intent to contract, if it is the one recorded.
async fn clear_intent<W: ParameterStore>(
    store: &AppStore<'_, W>,
    app: &str,
    by: &str,
) -> Result<()> {
    let mut record = store.migrations(app).await?;
    if record.contract_intent.as_ref().is_some_and(|i| i.by == by) {
        record.contract_intent = None;
        store.save_migrations(app, &record).await?;
    }
    Ok(())
}

/// The schema's new position: from now on the other color's release (and
/// older revisions of this one's family) cannot run on it.
async fn record_contracted<W: ParameterStore>(
    store: &AppStore<'_, W>,
    app: &str,
    world: &crate::world::World,
    live: Color,
    run: &MigrationRun,
) -> Result<()> {
    debug_assert_eq!(run.status, RunStatus::Succeeded);
    let mut record = store.migrations(app).await?;
    let retired = world.task_definition(live.other()).to_string();
    let retired_version = world
        .state()
        .filter(|s| s.previous_color == live.other())
        .and_then(|s| s.previous_version.clone());
    record.contracted = Some(Contracted {
        version: run.version.clone(),
        task_definition: run.task_definition.clone(),
        retired_version,
        retired_task_definition: (!retired.is_empty() && retired != run.task_definition)
            .then_some(retired),
        at: run.ended_at.unwrap_or(run.started_at),
    });
    record.contract_intent = None;
    store.save_migrations(app, &record).await?;
    info!(app, version = %run.version, "the schema is contracted: older releases can no longer come back");
    Ok(())
}

/// A failed contract leaves the release live and the previous color warm;
/// people hear of it on the alert topic. A failure to send is logged.
async fn alert_failed(aws: &impl Alerts, config: &AppConfig, error: &str, now: OffsetDateTime) {
    let Some(topic) = &config.alert_topic_arn else {
        return;
    };
    let app = config.app.as_str();
    let notice = Notice::new(
        NoticeKind::Attention,
        app,
        format!("contract migration of {app} failed"),
        format!("{error}. The release stays live and the previous color warm."),
        now,
    )
    .next_step(format!(
        "Fix the migration, then run: bluegreen migrate contract --app {app}"
    ));
    let message = notice.chatbot().to_string();
    if let Err(e) = aws
        .publish(
            topic,
            &format!("bluegreen: contract migration of {app} FAILED"),
            &message,
        )
        .await
    {
        warn!(app, error = %e, "could not send the alert for a failed contract");
    }
}
