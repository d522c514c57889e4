//! The one place a rollback's decided changes are made: each [`Effect`] of a
//! [`Plan`], in order. Any failure stops here; the retry looks at the world
//! again and plans anew (every change is idempotent, so what landed before
//! the failure is found done).

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::lock::Lock;
use crate::records::scaling;
use crate::records::store::AppStore;
use crate::world::World;
use crate::world::routing::write_split;

use super::plan::{Effect, Ending, Plan};
use super::{RollbackOutcome, RollbackRequest, alert};

/// Makes `plan`'s changes and returns how the rollback ends.
#[allow(clippy::too_many_arguments)]
pub(super) async fn apply<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &RollbackRequest,
    world: &World,
    plan: Plan,
    mine: &Lock,
    now: OffsetDateTime,
) -> Result<RollbackOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let app = request.app.as_str();
    let config = world.config();
    let mut lock_released = None;
    let mut alert_error = None;
    for effect in plan.effects {
        match effect {
            Effect::WarmUp { color, tasks } => {
                // Its policies must not scale it back in before traffic comes.
                if let Some(bounds) = scaling::read(aws, config).await? {
                    // Recorded first, if nothing is: the bounds to settle by.
                    scaling::record_for_rollback(store, config, &mine.holder, color, &bounds)
                        .await?;
                    let now = *bounds.get(color);
                    scaling::apply(aws, config, color, now, scaling::hold(now, tasks)).await?;
                }
                aws.update(
                    &config.cluster,
                    &config.color(color).service,
                    None,
                    Some(tasks),
                )
                .await?;
            }
            Effect::TellWaiting(why) => {
                if let Some(topic) = &config.alert_topic_arn {
                    alert::alert_waiting(aws, topic, app, &why, request, now).await;
                }
            }
            Effect::Fence(fence) => store.save_fence(app, &fence).await?,
            Effect::RecordBounds { target } => {
                if let Some(bounds) = scaling::read(aws, config).await? {
                    scaling::record_for_rollback(store, config, &mine.holder, target, &bounds)
                        .await?;
                }
            }
            Effect::Split(split) => {
                let route = config.production.route();
                write_split(aws, config, &route, &world.production, split, false).await?;
                info!(app, %split, "wrote production's split");
            }
            Effect::GiveBackLock(l) => {
                let released = if Some(&l.holder) == request.caller_execution.as_ref()
                    || store.is_stale(&l, now, aws).await?
                {
                    store.release_lock(app, &l.holder).await?
                } else {
                    false
                };
                lock_released = Some(released);
            }
            Effect::ReleaseCallersLock(caller) => {
                lock_released = Some(store.release_lock(app, &caller).await?);
            }
            Effect::RecordAndTell { state, tell } => {
                let record = async {
                    if let Some(state) = &state {
                        store.save_state(app, state).await?;
                    }
                    Ok::<_, Error>(())
                };
                let told = async {
                    match (&config.alert_topic_arn, tell, &plan.ending) {
                        (Some(topic), true, Ending::Done(outcome)) => {
                            alert::alert(aws, topic, outcome, request, now).await
                        }
                        _ => None,
                    }
                };
                let (recorded, told) = tokio::join!(record, told);
                recorded?;
                alert_error = told;
            }
            Effect::SaveState(state) => store.save_state(app, &state).await?,
            Effect::SettleRollback { target } => {
                // A failure here is retried like any (the retry finds
                // traffic moved and finishes this; people were told).
                scaling::settle_rollback(store, config, &mine.holder, target).await?;
            }
            Effect::SettleRelease { serving, release } => {
                scaling::settle(store, config, serving, Some(&release)).await?;
            }
            Effect::FinishFence(split) => {
                store
                    .mark_fence_finished(app, |f| {
                        f.reason == request.reason && f.at == now && f.split == Some(split)
                    })
                    .await?;
            }
        }
    }
    match plan.ending {
        Ending::Refused(e) => Err(e),
        Ending::Done(outcome) => {
            if outcome.changed {
                warn!(app, to = %outcome.to.color, reason = %request.reason, "rolled back production traffic");
            }
            Ok(RollbackOutcome {
                lock_released: lock_released.unwrap_or(outcome.lock_released),
                alert_error,
                ..outcome
            })
        }
    }
}
