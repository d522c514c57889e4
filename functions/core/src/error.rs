//! Errors of the domain, each with a stable `error_type` that the state machine's
//! `Retry`/`Catch` and the action match on. Renaming one is a breaking change.

use crate::color::Color;
use crate::ports::PortError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that cannot be acted on. `document` says which one, `field` where
    /// in it (a dotted path), `problem` what is wrong.
    #[error("{document} is invalid at `{field}`: {problem}")]
    BadInput {
        document: String,
        field: String,
        problem: String,
    },

    #[error(
        "unknown app `{app}`: no config at {parameter} (is the app's stack deployed in this account and region?)"
    )]
    UnknownApp { app: String, parameter: String },

    #[error(
        "app `{app}` is locked by {holder} until {expires_at}; wait for it to finish or stop it"
    )]
    LockHeld {
        app: String,
        holder: String,
        expires_at: String,
    },

    #[error(
        "refusing to send traffic to {color}: target group {target_group} has no healthy targets"
    )]
    NoHealthyTargets { color: Color, target_group: String },

    #[error(
        "{what}: expected {expected}, but the load balancer reports {actual}; state not written"
    )]
    ReadBackMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error(
        "the load balancer's {what} forwards to {found}, which is neither of app `{app}`'s target groups"
    )]
    ForeignRoute {
        app: String,
        what: String,
        found: String,
    },

    #[error("nothing to roll back for `{app}`: {why}")]
    NothingToRollBack { app: String, why: String },

    #[error(
        "cannot roll back `{app}` to {color} yet: {why}. Run the rollback again once its targets are healthy (usually 1 to 3 minutes)"
    )]
    PreviousColorCold {
        app: String,
        color: Color,
        why: String,
    },

    #[error(
        "production traffic of `{app}` is split ({split}) by an unfinished release; roll it back or finish it before deploying"
    )]
    ProductionSplit { app: String, split: String },

    #[error("the idle color {color} of `{app}` did not become ready: {why}")]
    IdleNotReady {
        app: String,
        color: Color,
        why: String,
    },

    /// The idle color failed its smoke tests; traffic has not moved.
    /// `summary` names the failing tests, secrets masked.
    #[error("smoke tests failed for `{app}`: {summary}")]
    SmokeTestFailed { app: String, summary: String },

    /// A lifecycle hook whose failure stops the release (`on_failure:
    /// fail`) did not answer 2xx in time. Before traffic moved the release
    /// aborts; after, it rolls back.
    #[error("`{app}`'s {at} hook failed: {failures}")]
    HookFailed {
        app: String,
        at: String,
        failures: String,
    },

    /// A rollback stopped this deployment while its switch step ran; the
    /// step put back what the rollback decided.
    #[error(
        "`{app}` was rolled back at {at} ({reason}) while this deployment ran; it stopped, and production is {split}"
    )]
    RolledBackMeanwhile {
        app: String,
        at: String,
        reason: String,
        split: String,
    },

    /// The stored record and the world disagree in a way a step must not
    /// guess about: it names both sides and how to reconcile.
    #[error("`{app}`: {record}, but {world}; nothing was changed. {fix}")]
    Drift {
        app: String,
        record: String,
        world: String,
        fix: String,
    },

    /// A rollback request older than the last traffic change: delivered late
    /// (Lambda retries asynchronous events for hours), it must not undo a
    /// newer release.
    #[error(
        "refusing a stale rollback of `{app}`: the request was sent at {sent_at}, before the release serving now got traffic at {switched_at}; send a new one if it still applies"
    )]
    StaleRequest {
        app: String,
        sent_at: String,
        switched_at: String,
    },

    /// A step that only the lock holder may run found the lock gone or held
    /// by someone else.
    #[error("`{app}`: this step needs the deployment lock held by {me}, but {found}")]
    NotLockHolder {
        app: String,
        me: String,
        found: String,
    },

    /// A migration task of the release failed or ran out of time. An
    /// expand's failure aborts the release (traffic untouched); a
    /// contract's leaves the release live and the previous color warm.
    #[error("`{app}`'s {phase} migration for {version} {how}{log}")]
    MigrationFailed {
        app: String,
        phase: String,
        version: String,
        /// "exited with code 3", "ran longer than 900 s and was stopped", …
        how: String,
        /// "; its log: <url>", or empty.
        log: String,
    },

    /// A contract migration has run: the release a rollback would return to
    /// cannot run on the schema any more. Nothing was changed.
    #[error(
        "refusing to roll `{app}` back to {target}: {target} cannot run on the schema contracted by {contracted}; deploy a fix forward"
    )]
    SchemaContracted {
        app: String,
        target: String,
        contracted: String,
    },

    #[error(transparent)]
    Port(#[from] PortError),
}

impl Error {
    pub fn bad_input(
        document: impl Into<String>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Error {
        Error::BadInput {
            document: document.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The stable name the state machine and the action match on.
    /// Whether trying the same call again may succeed: a throttled or
    /// transient failure of a call to the outside (what the state machine's
    /// `Retry` names `Throttled` and `Transient`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Port(e) if e.kind != crate::ports::PortErrorKind::Failed)
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            Error::BadInput { .. } => "BadInput",
            Error::UnknownApp { .. } => "UnknownApp",
            Error::LockHeld { .. } => "LockHeld",
            Error::NoHealthyTargets { .. } => "NoHealthyTargets",
            Error::ReadBackMismatch { .. } => "ReadBackMismatch",
            Error::ForeignRoute { .. } => "ForeignRoute",
            Error::NothingToRollBack { .. } => "NothingToRollBack",
            Error::PreviousColorCold { .. } => "PreviousColorCold",
            Error::SmokeTestFailed { .. } => "SmokeTestFailed",
            Error::HookFailed { .. } => "HookFailed",
            Error::ProductionSplit { .. } => "ProductionSplit",
            Error::IdleNotReady { .. } => "IdleNotReady",
            Error::RolledBackMeanwhile { .. } => "RolledBackMeanwhile",
            Error::Drift { .. } => "Drift",
            Error::StaleRequest { .. } => "StaleRequest",
            Error::NotLockHolder { .. } => "NotLockHolder",
            Error::MigrationFailed { .. } => "MigrationFailed",
            Error::SchemaContracted { .. } => "SchemaContracted",
            Error::Port(e) => e.kind.error_type(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The document a step's bad input is reported against.
pub const EXECUTION_INPUT: &str = "execution input";
