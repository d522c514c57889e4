//! Moving all production traffic back to the previous color. One code path for
//! the state machine, the emergency SNS message and a direct invoke.
//!
//! Happy path, in load-balancer calls: one target-health read of the previous
//! color and one listener change, whose answer is the read-back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{error, info, warn};

use crate::color::Color;
use crate::config::AppConfig;
use crate::error::{Error, Result};
use crate::fence::Fence;
use crate::ports::{
    Alerts, ExecutionStatus, Executions, LoadBalancer, ParameterStore, Ports, Services,
};
use crate::routing::{read_split, write_split};
use crate::split::Split;
use crate::state::{AppState, Phase};
use crate::store::{AppStore, is_execution_arn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackSource {
    StateMachine,
    Sns,
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRequest {
    pub app: String,
    pub reason: String,
    pub source: RollbackSource,
    pub requested_by: Option<String>,
    /// The execution asking for the rollback (state-machine path): it is not
    /// stopped, and its lock is released.
    pub caller_execution: Option<String>,
    /// Roll back only this release (state-machine path): if it never received
    /// traffic, there is nothing to undo and the listener is left alone.
    pub release_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColorVersion {
    pub color: Color,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackOutcome {
    pub app: String,
    /// False when the app was already rolled back and the listener agreed.
    pub changed: bool,
    pub from: ColorVersion,
    pub to: ColorVersion,
    pub split: Split,
    pub reason: String,
    pub source: RollbackSource,
    pub stopped_execution: Option<String>,
    pub lock_released: bool,
    /// Why the alert could not be sent; the rollback itself stands.
    pub alert_error: Option<String>,
    /// Why nothing was changed, when nothing was.
    pub note: Option<String>,
}

pub async fn rollback<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    request: &RollbackRequest,
    now: OffsetDateTime,
) -> Result<RollbackOutcome>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    A: Alerts,
    E: Executions,
{
    let app = request.app.as_str();
    let store = AppStore::new(&ports.params, &ports.prefix)?;
    let config = store.config(app).await?;

    // Stop a running deployment first so that it cannot move traffic again.
    let lock = store.lock(app).await?;
    let mut stopped_execution = None;
    if let Some(lock) = &lock
        && is_execution_arn(&lock.holder)
        && Some(&lock.holder) != request.caller_execution.as_ref()
        && ports.executions.status(&lock.holder).await? == ExecutionStatus::Running
    {
        let cause = format!("rolled back ({:?}): {}", request.source, request.reason);
        ports.executions.stop(&lock.holder, &cause).await?;
        warn!(app, execution = %lock.holder, "stopped the running deployment");
        stopped_execution = Some(lock.holder.clone());
        // Its Lambdas may still be running: fence them off before reading the
        // state they may be writing (see `fence`).
        store
            .save_fence(app, &Fence::pending(&lock.holder, &request.reason, now))
            .await?;
    }
    let state = store
        .state(app)
        .await?
        .ok_or_else(|| Error::NothingToRollBack {
            app: app.to_string(),
            why: format!(
                "no state is recorded: bluegreen has not switched this app yet{}",
                stopped_execution
                    .as_deref()
                    .map(|arn| format!("; stopped the running deployment {arn}"))
                    .unwrap_or_default()
            ),
        })?;

    let already = state.phase == Phase::RolledBack;
    let release_untouched = request.release_version.as_deref().is_some_and(|v| {
        let rolled_back_already = already && state.previous_version.as_deref() == Some(v);
        state.active_version.as_deref() != Some(v) && !rolled_back_already
    });
    if release_untouched {
        // The release failed before it got any traffic: production is as it was.
        let lock_released = match (&lock, &request.caller_execution) {
            (Some(l), Some(caller)) if &l.holder == caller => {
                store.release_lock(app, caller).await?
            }
            _ => false,
        };
        info!(app, "release never received traffic; nothing to roll back");
        return Ok(RollbackOutcome {
            app: app.to_string(),
            changed: false,
            from: ColorVersion {
                color: state.active_color,
                version: state.active_version.clone(),
            },
            to: ColorVersion {
                color: state.active_color,
                version: state.active_version.clone(),
            },
            split: state.weights,
            reason: request.reason.clone(),
            source: request.source,
            stopped_execution,
            lock_released,
            alert_error: None,
            note: Some(format!(
                "release {} never received production traffic; {} still serves {}",
                request.release_version.as_deref().unwrap_or_default(),
                state.active_color,
                state.active_version.as_deref().unwrap_or("its release"),
            )),
        });
    }
    if !already && let Some(release) = &state.previous_color_replaced_by {
        // The release a rollback would return to is gone from its color:
        // sending traffic there would serve `release`, untested or failed.
        // Production stays where the state says, even if the stopped
        // deployment's switch step is moving it right now.
        if let Some(holder) = &stopped_execution {
            let fence = Fence::decided(holder, state.weights, &state, &request.reason, now);
            store.save_fence(app, &fence).await?;
            write_split(&ports.lb, &config, state.weights, false).await?;
            store.save_state(app, &state).await?;
        }
        let lock_released = match &lock {
            Some(l) if Some(&l.holder) == stopped_execution.as_ref() => {
                store.release_lock(app, &l.holder).await?
            }
            _ => false,
        };
        let stopped = match &stopped_execution {
            Some(arn) => format!(
                "; stopped the running deployment {arn}{}",
                if lock_released {
                    " and released its lock"
                } else {
                    ""
                }
            ),
            None => String::new(),
        };
        let why = format!(
            "{} no longer runs {}: release {release} was deployed onto it. {} keeps serving {}{stopped}. \
             To go back further, deploy the older version",
            state.previous_color,
            state
                .previous_version
                .as_deref()
                .unwrap_or("the previous release"),
            state.active_color,
            state.active_version.as_deref().unwrap_or("its release"),
        );
        // Something did happen (a deployment was stopped): the team hears of
        // it as of any rollback.
        if let (Some(topic), Some(_)) = (&config.alert_topic_arn, &stopped_execution) {
            alert_refused(&ports.alerts, topic, app, &why, request, now).await;
        }
        return Err(Error::NothingToRollBack {
            app: app.to_string(),
            why,
        });
    }
    if !already && !state.can_roll_back() {
        return Err(Error::NothingToRollBack {
            app: app.to_string(),
            why: format!(
                "{} has served since before bluegreen's first switch; no previous release is recorded",
                state.active_color
            ),
        });
    }
    // Rolling back twice leaves the same state: once rolled back, the target is
    // the color already active, and the state stays as it is.
    let (target, new_state) = if already {
        (state.active_color, state.clone())
    } else {
        (state.previous_color, rolled_back(&state, request, now))
    };
    let wanted = Split::all(target);
    // With a deployment just stopped, one of its steps may still be writing:
    // write even what looks written already.
    let changed =
        stopped_execution.is_some() || !already || read_split(&ports.lb, &config).await? != wanted;
    if changed {
        ensure_rollback_target_ready(ports, &config, &state, target, now).await?;
        if let Some(holder) = &stopped_execution {
            let fence = Fence::decided(holder, wanted, &new_state, &request.reason, now);
            store.save_fence(app, &fence).await?;
        }
        write_split(&ports.lb, &config, wanted, false).await?;
        warn!(app, to = %target, reason = %request.reason, "rolled back production traffic");
    } else {
        info!(app, color = %target, "already rolled back; listener agrees");
    }
    if new_state != state || stopped_execution.is_some() {
        store.save_state(app, &new_state).await?;
    }

    let lock_released = match &lock {
        Some(l)
            if Some(&l.holder) == stopped_execution.as_ref()
                || Some(&l.holder) == request.caller_execution.as_ref()
                || store.is_stale(l, now, &ports.executions).await? =>
        {
            store.release_lock(app, &l.holder).await?
        }
        _ => false,
    };

    let outcome = RollbackOutcome {
        app: app.to_string(),
        changed,
        from: ColorVersion {
            color: target.other(),
            version: new_state.previous_version.clone(),
        },
        to: ColorVersion {
            color: target,
            version: new_state.active_version.clone(),
        },
        split: wanted,
        reason: request.reason.clone(),
        source: request.source,
        stopped_execution,
        lock_released,
        alert_error: None,
        note: (!changed).then(|| "already rolled back; the listener agrees".to_string()),
    };
    // Alert only when something changed: pressing the button twice should not
    // page people twice.
    let alert_error = match (&config.alert_topic_arn, changed) {
        (Some(topic), true) => alert(&ports.alerts, topic, &outcome, request, now).await,
        _ => None,
    };
    Ok(RollbackOutcome {
        alert_error,
        ..outcome
    })
}

fn rolled_back(state: &AppState, request: &RollbackRequest, now: OffsetDateTime) -> AppState {
    AppState {
        active_color: state.previous_color,
        active_version: state.previous_version.clone(),
        previous_color: state.active_color,
        previous_version: state.active_version.clone(),
        previous_color_replaced_by: None,
        weights: Split::all(state.previous_color),
        phase: Phase::RolledBack,
        last_execution_arn: request
            .caller_execution
            .clone()
            .or_else(|| state.last_execution_arn.clone()),
        switched_at: Some(now),
    }
}

/// Invariant 1 and 4: the target must have healthy targets. If it has none
/// because the warm window passed and it was scaled down, scale it back up and
/// say so; never send traffic to it cold.
async fn ensure_rollback_target_ready<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    config: &AppConfig,
    state: &AppState,
    target: Color,
    now: OffsetDateTime,
) -> Result<()>
where
    L: LoadBalancer,
    S: Services,
{
    let tg = &config.color(target).target_group_arn;
    if ports.lb.healthy_targets(tg).await? > 0 {
        return Ok(());
    }
    let service = &config.color(target).service;
    let serving = &config.color(target.other()).service;
    let cold = ports.services.describe(&config.cluster, service).await?;
    let wanted = ports
        .services
        .describe(&config.cluster, serving)
        .await?
        .desired
        .max(1);
    let window_over = state
        .switched_at
        .is_some_and(|at| now - at > time::Duration::seconds(config.warm_window_seconds as i64));
    let why = if cold.desired < wanted {
        ports
            .services
            .update(&config.cluster, service, None, Some(wanted))
            .await?;
        format!(
            "service {service} was at {} task(s){}; it is now scaling to {wanted}. \
             Run the rollback again once target group {tg} reports healthy targets \
             (usually 1 to 3 minutes)",
            cold.desired,
            if window_over {
                " because the warm rollback window had passed"
            } else {
                ""
            }
        )
    } else {
        format!(
            "target group {tg} has no healthy targets ({} of {} task(s) of {service} running); \
             run the rollback again once they are healthy",
            cold.running, cold.desired
        )
    };
    Err(Error::PreviousColorCold {
        app: config.app.clone(),
        color: target,
        why,
    })
}

/// The alert for a rollback that stopped a deployment but could not move
/// traffic back; a failure to send it is logged, the answer stands.
async fn alert_refused(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    why: &str,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let message = serde_json::json!({
        "summary": format!("bluegreen did not roll back {app}: {why}"),
        "app": app,
        "reason": request.reason,
        "source": request.source,
        "requested_by": request.requested_by,
        "rolled_back": false,
        "at": now.format(&time::format_description::well_known::Rfc3339).ok(),
    });
    let subject: String = format!("bluegreen: {app} NOT rolled back; its deployment was stopped")
        .chars()
        .take(100)
        .collect();
    if let Err(e) = alerts.publish(topic, &subject, &message.to_string()).await {
        error!(app, error = %e, "the alert about a refused rollback failed");
    }
}

async fn alert(
    alerts: &impl Alerts,
    topic: &str,
    outcome: &RollbackOutcome,
    request: &RollbackRequest,
    now: OffsetDateTime,
) -> Option<String> {
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown version".into());
    let summary = format!(
        "bluegreen rolled back {}: all production traffic is on {} ({}), away from {} ({})",
        outcome.app,
        outcome.to.color,
        version(&outcome.to.version),
        outcome.from.color,
        version(&outcome.from.version),
    );
    let message = serde_json::json!({
        "summary": summary,
        "app": outcome.app,
        "reason": outcome.reason,
        "source": outcome.source,
        "requested_by": request.requested_by,
        "to": outcome.to,
        "from": outcome.from,
        "stopped_execution": outcome.stopped_execution,
        "at": now.format(&time::format_description::well_known::Rfc3339).ok(),
    });
    // SNS subjects are limited to 100 characters.
    let subject: String = format!(
        "bluegreen: {} rolled back to {}",
        outcome.app, outcome.to.color
    )
    .chars()
    .take(100)
    .collect();
    match alerts.publish(topic, &subject, &message.to_string()).await {
        Ok(()) => None,
        Err(e) => {
            error!(app = %outcome.app, error = %e, "rollback done, but the alert failed");
            Some(e.to_string())
        }
    }
}
