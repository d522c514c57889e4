//! A rollback's announcement: "a rollback of this app is deciding", written
//! with the emergency rollback's first round of reads, before it knows
//! whether a deployment holds the app.
//!
//! It is what lets the emergency rollback move traffic on its second round
//! trip with a deployment running (see `rollback::fast`): the rollback
//! decides from reads made *while* the announcement was being written, then
//! writes its decided fence and the listener at once. A switch step of the
//! running deployment that moved traffic after the rollback's listener change
//! reads, after its own change, the announcement (written a round before the
//! rollback's change) or the decided fence, and waits for the fence before
//! it answers: the rollback's decision always ends on the listener.
//!
//! Its own parameter (`<prefix>/<app>/rollback-deciding`), so that the fence
//! slot, which may still name an execution an earlier rollback stopped,
//! is never overwritten by a rollback that has not decided yet. Created only
//! if absent; withdrawn by its writer when the rollback ends, whatever
//! happened; one older than [`LIFETIME`] is a rollback that died and counts
//! as absent.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Result;
use crate::ports::{ParameterStore, PortError, PortErrorKind, PutMode, PutOutcome};
use crate::records::store::AppStore;

pub(crate) const LEAF: &str = "rollback-deciding";

/// How long an announcement counts: a rollback decides in seconds; one that
/// died leaves it behind, and steps must not wait on it for long.
pub const LIFETIME: time::Duration = time::Duration::minutes(2);

/// How many times a step reads the records again while a rollback is
/// deciding. Each read is a round trip; the rollback writes its decided
/// fence one round trip after its reads, so a few are enough.
const READS_WHILE_DECIDING: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    /// The rollback attempt's own lock holder name (`rollback:...`).
    pub by: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Announcement {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now - self.at < LIFETIME
    }
}

/// An announcement as stored; one that cannot be read counts as absent
/// (only rollbacks write it, and a step must not wait on garbage).
pub(crate) fn parse(value: &str) -> Option<Announcement> {
    serde_json::from_str(value).ok()
}

impl<P: ParameterStore> AppStore<'_, P> {
    /// Writes the announcement if there is none. `false`: another one is
    /// there (a rollback at work, or one that died: it expires).
    pub async fn announce(&self, app: &str, announcement: &Announcement) -> Result<bool> {
        let json = serde_json::to_string(announcement).expect("announcement serialises");
        let outcome = self
            .params()
            .put(&self.parameter(app, LEAF), &json, PutMode::CreateOnly)
            .await?;
        Ok(outcome == PutOutcome::Written)
    }

    /// Removes the announcement if it is `by`'s, or one that expired, or
    /// any (`any`: the caller holds the app's lock as a rollback, so no other
    /// rollback is at work behind it, and one left by an attempt whose own
    /// withdrawal failed would hold steps up until it expires).
    pub async fn withdraw_announcement(
        &self,
        app: &str,
        by: &str,
        now: OffsetDateTime,
        any: bool,
    ) -> Result<()> {
        let name = self.parameter(app, LEAF);
        let Some(p) = self.params().get(&name).await? else {
            return Ok(());
        };
        let mine_or_dead = parse(&p.value).is_none_or(|a| any || a.by == by || !a.is_live(now));
        if mine_or_dead {
            self.params().delete(&name).await?;
        }
        Ok(())
    }

    /// The fence for `holder`, read after a step changed something: while a
    /// rollback announces that it is deciding (and has not fenced `holder`),
    /// read again, so that a rollback that decided from reads made before
    /// the step's change has its decision put back by the step. Still
    /// deciding after a few reads: a retryable error (the state machine
    /// tries the step again, and its next attempt finds the fence).
    pub async fn fence_against_once_decided(
        &self,
        app: &str,
        holder: &str,
        now: OffsetDateTime,
    ) -> Result<Option<crate::records::fence::Fence>> {
        let names = [
            self.parameter(app, crate::records::fence::LEAF),
            self.parameter(app, LEAF),
        ];
        for _ in 0..READS_WHILE_DECIDING {
            let got = self.params().get_many(&names).await?;
            let fence = crate::records::fence::parse_fence(&names[0], got[0].as_ref())?;
            let fence = fence.filter(|f| f.fences(holder));
            let deciding = got[1]
                .as_ref()
                .and_then(|p| parse(&p.value))
                .is_some_and(|a| a.is_live(now));
            if !deciding || fence.as_ref().is_some_and(|f| f.split.is_some()) {
                return Ok(fence);
            }
        }
        Err(PortError {
            operation: "rollback announcement",
            kind: PortErrorKind::Transient,
            message: format!(
                "a rollback of {app} is deciding ({names:?}); this step runs again once it has"
            ),
        }
        .into())
    }
}
