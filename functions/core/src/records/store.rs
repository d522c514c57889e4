//! The app's shared state in the parameter store: config, state, the plain
//! active-environment value, and the deployment lock.

use serde::de::DeserializeOwned;
use std::time::Duration;

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::parse;
use crate::ports::{ExecutionStatus, Executions, ParameterStore, PutMode, PutOutcome};
use crate::records::config::{AppConfig, validate_app_name};
use crate::records::gates::PendingGate;
use crate::records::lock::{Acquired, Lock};
use crate::records::migrations::MigrationRecord;
use crate::records::state::AppState;

pub const DEFAULT_PREFIX: &str = "/bluegreen";

pub struct AppStore<'a, P> {
    params: &'a P,
    prefix: String,
}

impl<'a, P: ParameterStore> AppStore<'a, P> {
    /// `prefix` is the parameter path all apps live under, e.g. `/bluegreen`.
    pub fn new(params: &'a P, prefix: &str) -> Result<Self> {
        let ok = prefix.starts_with('/') && !prefix.ends_with('/') && !prefix.contains("//");
        if !ok {
            return Err(Error::bad_input(
                "parameter prefix",
                "BLUEGREEN_PREFIX",
                format!("`{prefix}` must start with `/` and not end with one, e.g. `/bluegreen`"),
            ));
        }
        Ok(AppStore {
            params,
            prefix: prefix.to_string(),
        })
    }

    /// The capability object the store was built from: a step that holds
    /// the store holds every port its object has.
    pub fn aws(&self) -> &'a P {
        self.params
    }

    pub fn params(&self) -> &'a P {
        self.params
    }

    pub fn parameter(&self, app: &str, leaf: &str) -> String {
        format!("{}/{}/{}", self.prefix, app, leaf)
    }

    /// The app's validated config; `UnknownApp` when none is stored.
    pub async fn config(&self, app: &str) -> Result<AppConfig> {
        validate_app_name("request", "app", app)?;
        let name = self.parameter(app, "config");
        match self.params.get(&name).await? {
            Some(p) => AppConfig::parse(app, &name, &p.value),
            None => Err(Error::UnknownApp {
                app: app.to_string(),
                parameter: name,
            }),
        }
    }

    pub async fn state(&self, app: &str) -> Result<Option<AppState>> {
        let name = self.parameter(app, "state");
        let Some(p) = self.params.get(&name).await? else {
            return Ok(None);
        };
        self.parse_state(&name, &p.value).map(Some)
    }

    pub(crate) fn parse_state(&self, name: &str, text: &str) -> Result<AppState> {
        let state: AppState = parse::json(&format!("state {name}"), text)?;
        if state.previous_color != state.active_color.other() {
            return Err(Error::bad_input(
                format!("state {name}"),
                "previous_color",
                "must be the other color than active_color",
            ));
        }
        Ok(state)
    }

    /// Whether the stored state and the active-environment value are both
    /// `state` already (one read of the two).
    pub async fn state_is(&self, app: &str, state: &AppState) -> Result<bool> {
        let names = [
            self.parameter(app, "state"),
            self.parameter(app, "active-environment"),
        ];
        let got = self.params.get_many(&names).await?;
        let stored = match &got[0] {
            Some(p) => Some(self.parse_state(&names[0], &p.value)?),
            None => None,
        };
        let active = got[1].as_ref().map(|p| p.value.as_str());
        Ok(stored.as_ref() == Some(state) && active == Some(state.active_color.as_str()))
    }

    /// Writes the plain active-environment value, then the state document.
    /// In this order a failure between the two leaves the state unwritten, so
    /// a rerun sees it differ and writes both again.
    pub async fn save_state(&self, app: &str, state: &AppState) -> Result<()> {
        let json = serde_json::to_string(state).expect("state serialises");
        self.params
            .put(
                &self.parameter(app, "active-environment"),
                state.active_color.as_str(),
                PutMode::Overwrite,
            )
            .await?;
        self.params
            .put(&self.parameter(app, "state"), &json, PutMode::Overwrite)
            .await?;
        Ok(())
    }

    /// Records the approval gate a release waits at (`<prefix>/<app>/gate`),
    /// where `bluegreen approve` finds its task token. Overwrites: a
    /// retried wait has a new token, and only the newest is waited on.
    pub async fn save_pending_gate(&self, app: &str, gate: &PendingGate) -> Result<()> {
        let json = serde_json::to_string(gate).expect("gate serialises");
        self.params
            .put(&self.parameter(app, "gate"), &json, PutMode::Overwrite)
            .await?;
        Ok(())
    }

    /// The approval gate a release waits at, if one was recorded (it stays
    /// after the decision: the execution's state says whether it still waits).
    pub async fn pending_gate(&self, app: &str) -> Result<Option<PendingGate>> {
        self.record(app, "gate").await
    }

    /// The app's migration runs and the schema's position
    /// (`<prefix>/<app>/migrations`); empty when none ever ran.
    pub async fn migrations(&self, app: &str) -> Result<MigrationRecord> {
        Ok(self.record(app, "migrations").await?.unwrap_or_default())
    }

    pub async fn save_migrations(&self, app: &str, record: &MigrationRecord) -> Result<()> {
        let json = serde_json::to_string(record).expect("migration record serialises");
        self.params
            .put(
                &self.parameter(app, "migrations"),
                &json,
                PutMode::Overwrite,
            )
            .await?;
        Ok(())
    }

    pub async fn lock(&self, app: &str) -> Result<Option<Lock>> {
        self.record(app, "lock").await
    }

    /// The JSON record `<prefix>/<app>/<leaf>`, if there is one.
    async fn record<T: DeserializeOwned>(&self, app: &str, leaf: &str) -> Result<Option<T>> {
        let name = self.parameter(app, leaf);
        match self.params.get(&name).await? {
            Some(p) => Ok(Some(parse::json(&format!("{leaf} {name}"), &p.value)?)),
            None => Ok(None),
        }
    }

    /// Takes the app's lock for `holder` (an execution ARN). A lock whose
    /// holder is no longer running (or, for holders that are not executions,
    /// has expired) is reclaimed.
    ///
    /// SSM has no compare-and-swap, so every change of an existing lock value
    /// (a reclaim, a release) first claims that value, create-only, under
    /// `lock-reclaims/<fingerprint>`: of all writers that read the same value,
    /// exactly one changes it, and it checks the value is still the one it
    /// claimed before writing. Only a missing lock is taken without a claim
    /// (create-only). So a reclaim can never overwrite a lock taken meanwhile.
    pub async fn acquire_lock(
        &self,
        app: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
        executions: &impl Executions,
    ) -> Result<Acquired> {
        let acquired = self.take_lock(app, holder, ttl, now, executions).await?;
        if !is_execution_arn(holder) {
            return Ok(acquired);
        }
        // A step still running for an execution stopped meanwhile (Step
        // Functions does not stop a Lambda in flight) must not leave the app
        // held by nobody: the rule for ended executions may have looked
        // already. So a lock taken for an execution is kept only while that
        // execution runs; when that cannot be told, a lock just taken is
        // given back (the step's retry takes it again).
        let status = match executions.status(holder).await {
            Ok(status) => status,
            Err(e) => {
                if acquired != Acquired::AlreadyHeld {
                    let _ = self.release_lock(app, holder).await;
                }
                return Err(e.into());
            }
        };
        if status != ExecutionStatus::Running {
            // Nothing will retry this step: retry the release here.
            self.release_lock_retrying(app, holder).await?;
            return Err(Error::NotLockHolder {
                app: app.to_string(),
                me: holder.to_string(),
                found: "its execution is no longer running (stopped, timed out or failed): the lock it took was given back".to_string(),
            });
        }
        Ok(acquired)
    }

    async fn take_lock(
        &self,
        app: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
        executions: &impl Executions,
    ) -> Result<Acquired> {
        let name = self.parameter(app, "lock");
        let mine = Lock {
            holder: holder.to_string(),
            acquired_at: now,
            expires_at: now + ttl,
        };
        let mine_json = serde_json::to_string(&mine).expect("lock serialises");
        let mut last = None;
        for _ in 0..4 {
            if self
                .params
                .put(&name, &mine_json, PutMode::CreateOnly)
                .await?
                == PutOutcome::Written
            {
                return Ok(Acquired::Fresh);
            }
            let Some(current) = self.lock(app).await? else {
                continue;
            };
            if current.holder == holder {
                return Ok(Acquired::AlreadyHeld);
            }
            if !self.is_stale(&current, now, executions).await? {
                return Err(lock_held(app, &current));
            }
            if self
                .change_lock(app, &current, Some(&mine), now, executions)
                .await?
            {
                warn!(app, stale_holder = %current.holder, "reclaimed a stale deployment lock");
                return Ok(Acquired::Reclaimed { from: current });
            }
            last = Some(current);
        }
        match self.lock(app).await? {
            Some(l) if l.holder == holder => Ok(Acquired::AlreadyHeld),
            Some(l) => Err(lock_held(app, &l)),
            None => Err(Error::Port(crate::ports::PortError {
                operation: "acquire lock",
                kind: crate::ports::PortErrorKind::Transient,
                message: format!(
                    "{name} kept changing while acquiring it (last seen: {:?})",
                    last.map(|l| l.holder)
                ),
            })),
        }
    }

    /// Changes the lock from `from` to `to` (`None` deletes it) if no other
    /// writer changes `from` first; returns whether this call changed it.
    async fn change_lock(
        &self,
        app: &str,
        from: &Lock,
        to: Option<&Lock>,
        now: OffsetDateTime,
        executions: &impl Executions,
    ) -> Result<bool> {
        let writer = to.map_or(from.holder.as_str(), |l| l.holder.as_str());
        let claim_name = format!(
            "{}/{}",
            self.parameter(app, "lock-reclaims"),
            from.fingerprint()
        );
        let claim = Lock {
            holder: writer.to_string(),
            acquired_at: now,
            expires_at: now + CLAIM_TTL,
        };
        let claim_json = serde_json::to_string(&claim).expect("claim serialises");
        let created = match self
            .params
            .put(&claim_name, &claim_json, PutMode::CreateOnly)
            .await
        {
            Ok(created) => created,
            Err(e) => {
                // Perhaps created with the answer lost: a claim left behind
                // would keep the lock unchangeable for CLAIM_TTL, and a
                // caller whose next attempt has another name (a rollback)
                // could not use it.
                self.drop_claim_if_mine(&claim_name, &claim).await;
                return Err(e.into());
            }
        };
        if created == PutOutcome::AlreadyExists {
            let theirs = self.params.get(&claim_name).await?;
            let theirs: Option<Lock> = theirs.and_then(|p| serde_json::from_str(&p.value).ok());
            match theirs {
                // Our own claim from an attempt that did not finish.
                Some(c) if c.holder == writer => {}
                Some(c) if !self.is_stale(&c, now, executions).await? => return Ok(false),
                // A dead claimant's (or an unreadable) claim: remove it, so
                // the lock never stays unchangeable; the caller tries again.
                _ => {
                    self.params.delete(&claim_name).await?;
                    warn!(app, claim = %claim_name, "removed a stale lock claim");
                    return Ok(false);
                }
            }
        }
        let changed = async {
            // Still the value claimed? Any other writer of it would have had
            // to claim it too.
            if self.lock(app).await?.as_ref() != Some(from) {
                self.params.delete(&claim_name).await?;
                return Ok(false);
            }
            let name = self.parameter(app, "lock");
            match to {
                Some(lock) => {
                    let json = serde_json::to_string(lock).expect("lock serialises");
                    self.params.put(&name, &json, PutMode::Overwrite).await?;
                }
                None => self.params.delete(&name).await?,
            }
            // The value claimed is gone: a straggler's claim of it would fail
            // the check above.
            self.params.delete(&claim_name).await?;
            Ok(true)
        }
        .await;
        if changed.is_err() {
            // The claim is ours: gone with this attempt, whatever happened
            // (see above). Best effort; it expires otherwise.
            let _ = self.params.delete(&claim_name).await;
        }
        changed
    }

    /// Deletes the claim at `name` if it is `claim` (ours). Best effort.
    async fn drop_claim_if_mine(&self, name: &str, claim: &Lock) {
        if let Ok(Some(p)) = self.params.get(name).await
            && serde_json::from_str::<Lock>(&p.value).is_ok_and(|c| c == *claim)
        {
            let _ = self.params.delete(name).await;
        }
    }

    /// [`AppStore::release_lock`], with throttled and transient failures
    /// tried again a few times: for callers that nothing will retry (a
    /// stopped execution's step, a rollback whose later attempts have
    /// another name).
    pub async fn release_lock_retrying(&self, app: &str, holder: &str) -> Result<bool> {
        crate::ports::retry::retrying(4, || self.release_lock(app, holder)).await
    }

    /// Releases the lock if `holder` holds it. Returns whether it was deleted;
    /// releasing a lock that is gone or held by another is not an error.
    pub async fn release_lock(&self, app: &str, holder: &str) -> Result<bool> {
        match self.lock(app).await? {
            Some(l) if l.holder == holder => {
                // `Executions` is only asked about a competing claimant.
                let released = self
                    .change_lock(app, &l, None, OffsetDateTime::now_utc(), &NoExecutions)
                    .await?;
                if released {
                    info!(app, holder, "released deployment lock");
                }
                Ok(released)
            }
            _ => Ok(false),
        }
    }

    /// A lock held by an execution may be broken once that execution no
    /// longer runs, and never while it runs (a long bake may outlive any
    /// expiry). Holders that are not execution ARNs (manual invokes, a
    /// rollback in progress) are governed by expiry alone.
    pub async fn is_stale(
        &self,
        lock: &Lock,
        now: OffsetDateTime,
        executions: &impl Executions,
    ) -> Result<bool> {
        if !is_execution_arn(&lock.holder) {
            return Ok(lock.is_expired(now));
        }
        Ok(executions.status(&lock.holder).await? != ExecutionStatus::Running)
    }
}

/// For releases: a competing claim on the holder's own lock is a reclaimer's,
/// and only expiry can make it stale (`CLAIM_TTL`).
struct NoExecutions;

impl Executions for NoExecutions {
    async fn execution(&self, _arn: &str) -> crate::ports::PortResult<crate::ports::ExecutionInfo> {
        Ok(crate::ports::ExecutionInfo {
            status: ExecutionStatus::Running,
            input: None,
        })
    }
    async fn stop(&self, _arn: &str, _cause: &str) -> crate::ports::PortResult<()> {
        Ok(())
    }
}

/// How long a claim on a stale lock protects a claimant that is not an
/// execution (an execution's claim lasts as long as it runs).
const CLAIM_TTL: time::Duration = time::Duration::seconds(60);

pub fn is_execution_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.contains(":states:") && s.contains(":execution:")
}

pub(crate) fn lock_held(app: &str, lock: &Lock) -> Error {
    Error::LockHeld {
        app: app.to_string(),
        holder: lock.holder.clone(),
        expires_at: lock
            .expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| lock.expires_at.to_string()),
    }
}
