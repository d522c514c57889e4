//! The rollback fence: what keeps a rollback from being undone by a switch
//! that was already running when the rollback stopped its execution.
//!
//! Stopping an execution does not stop a Lambda invocation in flight, so a
//! switch step can still change the listener and write state after the
//! rollback has. Before it writes anything, a rollback that stopped an
//! execution records, under `<prefix>/<app>/rollback-fence`, that execution's
//! lock holder with the split and state production must end up with. A switch
//! checks the fence before it moves traffic (and refuses) and again after it
//! has (and then restores the fence's split and state). Either the switch's
//! second check sees the fence, and both write the same thing, or the switch
//! wrote everything before the fence existed, and the rollback writes after it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::parse;
use crate::ports::{ParameterStore, PutMode};
use crate::split::Split;
use crate::state::AppState;
use crate::store::AppStore;

const LEAF: &str = "rollback-fence";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fence {
    /// The lock holder (execution ARN) of the deployment that was stopped.
    pub holder: String,
    pub split: Split,
    pub state: AppState,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl<P: ParameterStore> AppStore<'_, P> {
    pub async fn fence(&self, app: &str) -> Result<Option<Fence>> {
        let name = self.parameter(app, LEAF);
        match self.params().get(&name).await? {
            Some(p) => Ok(Some(parse::json(
                &format!("rollback fence {name}"),
                &p.value,
            )?)),
            None => Ok(None),
        }
    }

    /// The fence for `holder`, if the app's latest rollback stopped it.
    pub async fn fence_against(&self, app: &str, holder: &str) -> Result<Option<Fence>> {
        Ok(self.fence(app).await?.filter(|f| f.holder == holder))
    }

    pub async fn save_fence(&self, app: &str, fence: &Fence) -> Result<()> {
        let json = serde_json::to_string(fence).expect("fence serialises");
        self.params()
            .put(&self.parameter(app, LEAF), &json, PutMode::Overwrite)
            .await?;
        Ok(())
    }
}

/// What a switch of a stopped deployment answers.
pub fn rolled_back_meanwhile(app: &str, fence: &Fence) -> Error {
    Error::RolledBackMeanwhile {
        app: app.to_string(),
        at: fence
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        reason: fence.reason.clone(),
        split: fence.split.to_string(),
    }
}
