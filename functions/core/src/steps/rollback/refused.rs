//! A rollback that refuses to move production (nothing to roll back to, a
//! drift) after it stopped a deployment still fences it, with production as
//! it is, so that a step of the stopped deployment still in flight puts it
//! back; gives its lock back; and says so.

use time::OffsetDateTime;

use crate::error::Error;
use crate::ports::capabilities::Prefixed;

use crate::error::Result;
use crate::ports::{Alerts, LoadBalancer, ParameterStore, Services};
use crate::records::fence::Fence;
use crate::records::store::AppStore;
use crate::world::World;
use crate::world::routing::write_split;
use crate::world::split::Split;

use super::{RollbackRequest, alert};

/// A rollback that stopped a deployment but moves nothing still fences it:
/// the fence records production as it is now, so a switch step of the
/// stopped deployment still in flight puts it back.
async fn keep_production_as_is<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    world: &World,
    holder: &str,
    also: &[String],
    request: &RollbackRequest,
    now: OffsetDateTime,
) -> Result<()>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let (Some(state), Some(split)) = (
        world.state(),
        Split::from_weights(world.weights.blue, world.weights.green),
    ) else {
        return Ok(());
    };
    store
        .save_fence(
            &request.app,
            &Fence::decided(holder, split, state, &request.reason, now).with_also(also),
        )
        .await?;
    let route = world.config().production.route();
    write_split(aws, world.config(), &route, &world.production, split, false).await?;
    // A step of the stopped deployment may have died between the two
    // writes of a state (`active-environment` first): the record is made
    // whole again, as production is.
    if split.sole() == Some(state.active_color) && !world.records.state_is(state) {
        store.save_state(&request.app, state).await?;
    }
    // The stopped deployment may have held both colors' bounds.
    if let Some(serving) = split.sole() {
        crate::records::scaling::settle(store, world.config(), serving, Some(holder)).await?;
    }
    Ok(())
}

/// The refusal `e` of a decision, once what it leaves is settled: returns
/// the error the rollback ends with.
#[allow(clippy::too_many_arguments)]
pub(super) async fn refuse<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &RollbackRequest,
    world: &World,
    stopped: Option<&str>,
    fenced: &[String],
    e: Error,
    now: OffsetDateTime,
) -> Result<Error>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Prefixed,
{
    let app = request.app.as_str();
    if let Some(holder) = stopped {
        keep_production_as_is(aws, store, world, holder, fenced, request, now).await?;
        // Its lock is the rollback's now, released when it ends; or, if
        // taking it over failed in every attempt, still the stopped
        // execution's: give it back, it outlives its holder.
        store.release_lock_retrying(app, holder).await?;
        let why = format!("{e}; stopped the running deployment {holder} and released its lock");
        if let Some(topic) = &world.config().alert_topic_arn {
            alert::alert_refused(aws, topic, app, &why, request, now).await;
        }
        return Ok(match e {
            Error::NothingToRollBack { app, .. } => Error::NothingToRollBack { app, why },
            other => other,
        });
    }
    // An earlier attempt stopped a deployment and fenced it, then failed
    // before its bounds were settled: finish that.
    if let (Some(fence), Some(serving)) = (&world.records.fence, world.weights.sole()) {
        crate::records::scaling::settle(store, world.config(), serving, Some(&fence.holder))
            .await?;
    }
    Ok(e)
}
