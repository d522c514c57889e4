//! A decision this message's rollback made earlier (an earlier attempt, or
//! an earlier copy of the message; or a rollback about an execution that
//! has ended since, left unfinished) is finished, never made again: the
//! world it would decide from now is the one it made, and deciding again
//! would roll back the release it rolled back to.

use tracing::{info, warn};

use crate::color::Color;
use crate::error::Result;
use crate::ports::capabilities::Prefixed;
use crate::ports::{LoadBalancer, ParameterStore, Services};
use crate::records::fence::Fence;
use crate::records::store::AppStore;
use crate::world::World;
use crate::world::routing::write_split;

use super::{ColorVersion, RollbackOutcome, RollbackRequest, decide};

/// The rest of a decision this message's rollback made earlier (see
/// `run`): production's split written if the listener differs, the state
/// recorded, the bounds settled; nothing when the world has moved on since
/// (the color it sends production to runs another release than it named).
/// Says it changed something only if the listener did. `None` when traffic
/// must move onto a color no longer fit to carry it: decided again.
pub(super) async fn finish_as_decided<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    world: &World,
    fence: &Fence,
    request: &RollbackRequest,
) -> Result<Option<RollbackOutcome>>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let app = request.app.as_str();
    let config = world.config();
    let split = fence.split.expect("a decided fence");
    let serving = if split.blue >= split.green {
        Color::Blue
    } else {
        Color::Green
    };
    let version = fence.state.as_ref().and_then(|s| s.active_version.clone());
    let outcome = |changed: bool, note: &str| RollbackOutcome {
        changed,
        split,
        ..RollbackOutcome::unchanged(
            request,
            ColorVersion {
                color: serving,
                version: version.clone(),
            },
            note.to_string(),
        )
    };
    // Moved on: a color the decision sends production to runs another
    // release now (see `Fence::still_current`).
    if !fence.still_current(|c| world.task_definition(c).to_string()) {
        info!(
            app,
            "this message's rollback was done; the app has moved on since"
        );
        // A hold the deployments it fenced left on the bounds is still
        // theirs to give back, and nobody else will.
        if let Some(serving) = world.weights.sole() {
            crate::records::scaling::give_back_fenced_hold(store, config, serving, |e| {
                fence.fences(e)
            })
            .await?;
        }
        return Ok(Some(outcome(
            false,
            "the rollback's decision was done; the app has moved on since",
        )));
    }
    let changed = !world.weights.matches(split);
    // Traffic moved since (by hand, say) onto a color no longer fit to carry
    // production: decided again, the way any rollback is (the cold color is
    // scaled up first, and people told).
    if changed
        && Color::BOTH
            .into_iter()
            .any(|c| split.weight(c) > 0 && decide::cold(world, c).is_some())
    {
        return Ok(None);
    }
    if changed {
        let route = config.production.route();
        write_split(aws, config, &route, &world.production, split, false).await?;
        warn!(app, %split, "finished this message's rollback: production traffic moved");
    }
    if let Some(state) = &fence.state
        && !world.records.state_is(state)
    {
        store.save_state(app, state).await?;
    }
    if config.autoscaling {
        crate::records::scaling::honour_fence(store, config, fence).await?;
    }
    store
        .mark_fence_finished(app, |f| {
            f.holder == fence.holder && f.at == fence.at && f.reason == fence.reason
        })
        .await?;
    Ok(Some(outcome(
        changed,
        "the rollback had decided; its decision is finished",
    )))
}
