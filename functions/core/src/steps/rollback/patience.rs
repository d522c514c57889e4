//! An emergency rollback (an SNS message, a direct invoke from the CLI)
//! onto a cold previous color waits for it, bounded, instead of asking
//! on-call to press again. The first refusal scales the color up (see
//! `plan`) and tells the team what the rollback waits for; the rollback is
//! tried again every [`Patience::every`] until it moves production or
//! [`Patience::limit`] has passed, and then fails as before (people hear
//! that too). Each try is a whole rollback: it looks at the world again,
//! so a deployment that slipped in between is stopped and fenced like any.
//!
//! The state machine's rollback is not waited for here: its own `Retry`
//! does that (and alerts at the first refusal, see `plan`).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, Clock, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::store::AppStore;

use super::{AlertOnFailure, RollbackOutcome, RollbackRequest, RollbackSource, alert, attempt};

/// How long, and how often, an emergency rollback tries a cold color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    /// No try starts later than this after the first.
    pub limit: Duration,
    pub every: Duration,
}

impl Patience {
    /// Refused at once (the state machine's `Retry` waits instead).
    pub const NONE: Patience = Patience {
        limit: Duration::ZERO,
        every: Duration::ZERO,
    };

    /// The rollback Lambda's: two minutes, the usual time new tasks take to
    /// pass their health checks, tried every 10 s, inside its 3-minute
    /// timeout (a try takes about a second).
    pub const LAMBDA: Patience = Patience {
        limit: Duration::from_secs(120),
        every: Duration::from_secs(10),
    };
}

/// Rolls `request.app` back, waiting for a cold previous color as
/// `patience` allows when people asked (SNS, direct).
pub async fn rollback_patiently<W>(
    aws: &W,
    request: &RollbackRequest,
    known: Option<&AppConfig>,
    clock: &impl Clock,
    patience: Patience,
) -> Result<RollbackOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let people_asked = matches!(request.source, RollbackSource::Sns | RollbackSource::Direct);
    let started = clock.now();
    let mut told = false;
    loop {
        let now = clock.now();
        let waited = (now - started).unsigned_abs();
        let may_wait = people_asked && waited + patience.every <= patience.limit;
        let alert_on_failure = if may_wait {
            AlertOnFailure::No
        } else {
            AlertOnFailure::Yes
        };
        // Boxed: the rollback's future is large.
        match Box::pin(attempt(aws, request, now, known, alert_on_failure)).await {
            Err(Error::PreviousColorCold { color, why, .. }) if may_wait => {
                if !told {
                    told = true;
                    tell_waiting(aws, request, known, color, &why, patience, now).await;
                }
                clock.sleep_until(now + patience.every).await;
            }
            Ok(outcome) if waited > Duration::ZERO => {
                return Ok(RollbackOutcome {
                    waited_seconds: Some(waited.as_secs()),
                    ..outcome
                });
            }
            other => return other,
        }
    }
}

/// The team hears, at the first refusal, what the rollback waits for and
/// for how long; production serves the release it is leaving meanwhile.
async fn tell_waiting<W>(
    aws: &W,
    request: &RollbackRequest,
    known: Option<&AppConfig>,
    color: crate::color::Color,
    why: &str,
    patience: Patience,
    now: time::OffsetDateTime,
) where
    W: ParameterStore + Alerts + Prefixed,
{
    let topic = match known {
        Some(config) => config.alert_topic_arn.clone(),
        None => match AppStore::new(aws, aws.prefix()) {
            Ok(store) => store
                .config(&request.app)
                .await
                .ok()
                .and_then(|c| c.alert_topic_arn),
            Err(_) => None,
        },
    };
    let Some(topic) = topic else {
        return;
    };
    let why = format!(
        "the rollback waits up to {} s for {color} to carry production, trying every {} s: {why}",
        patience.limit.as_secs(),
        patience.every.as_secs(),
    );
    alert::alert_waiting(aws, &topic, &request.app, &why, request, now).await;
}
