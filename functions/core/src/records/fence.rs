//! The rollback fence: what keeps a rollback from being undone by a step of
//! the deployment it stopped that was already running.
//!
//! Stopping an execution does not stop a Lambda invocation in flight: a
//! switch step can still change the listener and write state, and deploy-idle
//! can still put the release onto the color the rollback is about to send
//! production to. So a rollback that stops an execution writes, under
//! `<prefix>/<app>/rollback-fence`, a *pending* fence naming that execution's
//! lock holder, then reads the state, decides, completes the fence with the
//! split and state production must end with, and only then writes them.
//!
//! - switch checks the fence before it moves traffic (and refuses) and after
//!   (a decided fence: it writes the fence's split and state back, so both
//!   write the same; a pending one: the rollback decides later and writes
//!   after it).
//! - deploy-idle marks the idle color as being replaced in the state, then
//!   checks the fence before it updates the service (and stops there). If it
//!   saw no fence, its mark was written before the rollback read the state,
//!   so the rollback sees the color is no target.
//!
//! One slot per app, naming every holder the rollback stopped or met (`also`:
//! a release script that took the lock from the stopped execution). The
//! emergency path with a deployment baking writes the decided fence at once
//! with the listener change, after an announcement (see
//! [`crate::records::announcement`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::parse;
use crate::ports::{ParameterStore, PutMode};
use crate::records::state::AppState;
use crate::records::store::AppStore;
use crate::world::split::Split;

pub(crate) const LEAF: &str = "rollback-fence";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fence {
    /// The lock holder (execution ARN) of the deployment that was stopped.
    pub holder: String,
    /// What production must end with; `None` while the rollback decides.
    pub split: Option<Split>,
    pub state: Option<AppState>,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Other lock holders the same rollback fenced (one that took the app's
    /// lock from the deployment it stopped while it was at work): their
    /// steps honour the same decision. One fence slot, every holder it
    /// stopped named in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// The rollback that decided it finished its work (split, record,
    /// bounds): a release that took the app after that is none of its
    /// business, while one that took it before is fenced by it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finished: bool,
}

impl Fence {
    pub fn pending(holder: &str, reason: &str, at: OffsetDateTime) -> Fence {
        Fence {
            holder: holder.to_string(),
            split: None,
            state: None,
            reason: reason.to_string(),
            at,
            also: Vec::new(),
            finished: false,
        }
    }

    /// The same fence, naming `others` too.
    pub fn with_also<'a>(mut self, others: impl IntoIterator<Item = &'a String>) -> Fence {
        for other in others {
            if *other != self.holder && !self.also.contains(other) {
                self.also.push(other.clone());
            }
        }
        self
    }

    /// Whether this fence stops `holder`'s steps.
    pub fn fences(&self, holder: &str) -> bool {
        self.holder == holder || self.also.iter().any(|h| h == holder)
    }

    /// Every holder it names.
    pub fn holders(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.holder).chain(self.also.iter())
    }

    pub fn decided(
        holder: &str,
        split: Split,
        state: &AppState,
        reason: &str,
        at: OffsetDateTime,
    ) -> Fence {
        Fence {
            split: Some(split),
            state: Some(state.clone()),
            ..Fence::pending(holder, reason, at)
        }
    }
}

impl Fence {
    /// Whether the world still is what this fence's decision was made
    /// about: each color runs the task definition the decided state names
    /// for it (where it names one; a previous color it marks as being
    /// replaced may also run the task definition the mark names). A fence
    /// found again after the world moved
    /// on (a console Redrive of the stopped execution, days later) must not
    /// put an old split back.
    pub fn still_current(&self, runs: impl Fn(crate::color::Color) -> String) -> bool {
        let Some(s) = &self.state else {
            return true;
        };
        let holds = |color, td: &Option<String>| td.as_deref().is_none_or(|td| runs(color) == td);
        // A previous color the state marks as being replaced may run either
        // release: the deployment the fence stopped was putting its own there.
        let replaced_with = s
            .previous_color_replaced_with
            .as_deref()
            .filter(|_| s.previous_color_replaced_by.is_some());
        holds(s.active_color, &s.active_task_definition)
            && (holds(s.previous_color, &s.previous_task_definition)
                || replaced_with.is_some_and(|td| runs(s.previous_color) == td))
    }
}

impl<P: ParameterStore> AppStore<'_, P> {
    pub async fn fence(&self, app: &str) -> Result<Option<Fence>> {
        let name = self.parameter(app, LEAF);
        parse_fence(&name, self.params().get(&name).await?.as_ref())
    }

    /// The lock and the fence, in one read.
    pub async fn lock_and_fence(
        &self,
        app: &str,
    ) -> Result<(Option<crate::records::lock::Lock>, Option<Fence>)> {
        let names = [self.parameter(app, "lock"), self.parameter(app, LEAF)];
        let got = self.params().get_many(&names).await?;
        let lock = got[0]
            .as_ref()
            .map(|p| parse::json(&format!("lock {}", names[0]), &p.value))
            .transpose()?;
        let fence = parse_fence(&names[1], got[1].as_ref())?;
        Ok((lock, fence))
    }

    /// The fence for `holder`, if the app's latest rollback stopped it.
    pub async fn fence_against(&self, app: &str, holder: &str) -> Result<Option<Fence>> {
        Ok(self.fence(app).await?.filter(|f| f.fences(holder)))
    }

    /// Records that the rollback which decided the fence finished its work,
    /// if the fence still is that decision (`is_it`; possibly extended since).
    pub async fn mark_fence_finished(
        &self,
        app: &str,
        is_it: impl Fn(&Fence) -> bool,
    ) -> Result<()> {
        if let Some(current) = self.fence(app).await?
            && is_it(&current)
            && !current.finished
        {
            self.save_fence(
                app,
                &Fence {
                    finished: true,
                    ..current
                },
            )
            .await?;
        }
        Ok(())
    }

    pub async fn save_fence(&self, app: &str, fence: &Fence) -> Result<()> {
        let json = serde_json::to_string(fence).expect("fence serialises");
        self.params()
            .put(&self.parameter(app, LEAF), &json, PutMode::Overwrite)
            .await?;
        Ok(())
    }
}

/// The fence stored at `name`, if there is one.
pub(crate) fn parse_fence(
    name: &str,
    stored: Option<&crate::ports::Parameter>,
) -> Result<Option<Fence>> {
    stored
        .map(|p| parse::json(&format!("rollback fence {name}"), &p.value))
        .transpose()
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
        split: fence
            .split
            .map_or_else(|| "as the rollback decides".to_string(), |s| s.to_string()),
    }
}
