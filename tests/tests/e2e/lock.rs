//! The per-app deployment lock in SSM (invariant 3): one holder at a time, and
//! a dead execution's lock is reclaimable by exactly one caller. On the
//! in-memory AWS, whose every call is a point where racing callers
//! interleave.

use std::sync::Arc;
use std::time::Duration;

use bluegreen_core::ports::{ParameterStore, PutMode};
use bluegreen_core::records::lock::Acquired;
use bluegreen_core::records::store::AppStore;
use bluegreen_e2e::PREFIX;
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp, MemoryPorts};
use time::OffsetDateTime;

const TTL: Duration = Duration::from_secs(3600);

async fn acquire(
    ports: &MemoryPorts,
    app: &str,
    holder: &str,
    now: OffsetDateTime,
) -> bluegreen_core::Result<Acquired> {
    let store = AppStore::new(&ports.params, PREFIX).unwrap();
    store
        .acquire_lock(app, holder, TTL, now, &ports.executions)
        .await
}

/// Runs `acquire` for every holder at once and returns the results in order.
async fn race(app: &MemoryApp, holders: &[String]) -> Vec<bluegreen_core::Result<Acquired>> {
    let ports = Arc::new(app.ports());
    let now = OffsetDateTime::now_utc();
    let tasks: Vec<_> = holders
        .iter()
        .map(|h| {
            let (ports, name, h) = (ports.clone(), app.name.clone(), h.clone());
            tokio::spawn(async move { acquire(&ports, &name, &h, now).await })
        })
        .collect();
    let mut results = vec![];
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

async fn running_executions(app: &MemoryApp, n: usize, tag: &str) -> Vec<String> {
    let mut arns = vec![];
    for i in 0..n {
        arns.push(app.start_running_execution(&format!("{tag}-{i}")));
    }
    arns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_attempts_exactly_one_wins() {
    let app = memory::provision("lk-race", AppOptions::default());
    let holders = running_executions(&app, 12, "race").await;
    let results = race(&app, &holders).await;
    let winners: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Ok(Acquired::Fresh)))
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        match r {
            Ok(Acquired::Fresh) => {}
            Err(e) => assert_eq!(e.error_type(), "LockHeld", "{e}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let holder = &holders[winners[0].0];
    let stored = app.parameter("lock").unwrap();
    assert!(stored.contains(holder.as_str()), "{stored}");

    // The winner asking again is a rerun, not a conflict.
    let ports = app.ports();
    let again = acquire(&ports, &app.name, holder, OffsetDateTime::now_utc()).await;
    assert_eq!(again.unwrap(), Acquired::AlreadyHeld);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_executions_lock_is_reclaimed_by_exactly_one() {
    let app = memory::provision("lk-stale", AppOptions::default());
    let ports = app.ports();
    let dead = app.start_running_execution("dead");
    acquire(&ports, &app.name, &dead, OffsetDateTime::now_utc())
        .await
        .unwrap();
    app.stop_execution(&dead);

    let contenders = running_executions(&app, 8, "next").await;
    let results = race(&app, &contenders).await;
    let reclaimed: Vec<_> = results
        .iter()
        .filter(|r| matches!(r, Ok(Acquired::Reclaimed { from }) if from.holder == dead))
        .collect();
    assert_eq!(reclaimed.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(Acquired::Reclaimed { .. }))
                || matches!(r, Err(e) if e.error_type() == "LockHeld")),
        "{results:?}"
    );
    let stored = app.parameter("lock").unwrap();
    assert!(!stored.contains(dead.as_str()), "{stored}");
}

#[tokio::test]
async fn a_running_executions_lock_is_never_broken_even_past_its_expiry() {
    // A long, low-traffic bake may outlive any expiry: while its execution
    // runs, its lock stands. A holder that is no execution goes by expiry.
    let app = memory::provision("lk-expired", AppOptions::default());
    let ports = app.ports();
    let slow = app.start_running_execution("slow");
    let long_ago = OffsetDateTime::now_utc() - time::Duration::hours(5);
    acquire(&ports, &app.name, &slow, long_ago).await.unwrap();
    let next = app.start_running_execution("next");
    let err = acquire(&ports, &app.name, &next, OffsetDateTime::now_utc())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "LockHeld", "{err}");

    let app = memory::provision("lk-expired-manual", AppOptions::default());
    let ports = app.ports();
    acquire(&ports, &app.name, "manual:lk:v1", long_ago)
        .await
        .unwrap();
    let next = app.start_running_execution("next");
    let got = acquire(&ports, &app.name, &next, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(
        matches!(got, Acquired::Reclaimed { ref from } if from.holder == "manual:lk:v1"),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_claim_left_by_a_caller_that_died_does_not_block_the_lock_forever() {
    let app = memory::provision("lk-claim", AppOptions::default());
    let ports = app.ports();
    let dead = app.start_running_execution("dead");
    acquire(&ports, &app.name, &dead, OffsetDateTime::now_utc())
        .await
        .unwrap();
    app.stop_execution(&dead);
    // Another caller claimed the stale lock, then died before taking it over.
    let store = AppStore::new(&ports.params, PREFIX).unwrap();
    let stale = store.lock(&app.name).await.unwrap().unwrap();
    let claimant = app.start_running_execution("claimant");
    let claim = bluegreen_core::records::lock::Lock {
        holder: claimant.clone(),
        acquired_at: OffsetDateTime::now_utc(),
        expires_at: OffsetDateTime::now_utc() + time::Duration::minutes(1),
    };
    ports
        .params
        .put(
            &format!(
                "{PREFIX}/{}/lock-reclaims/{}",
                app.name,
                stale.fingerprint()
            ),
            &serde_json::to_string(&claim).unwrap(),
            PutMode::CreateOnly,
        )
        .await
        .unwrap();
    app.stop_execution(&claimant);

    let next = app.start_running_execution("next");
    let got = acquire(&ports, &app.name, &next, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(
        matches!(got, Acquired::Reclaimed { ref from } if from.holder == dead),
        "{got:?}"
    );
    assert_eq!(store.lock(&app.name).await.unwrap().unwrap().holder, next);
}

#[tokio::test]
async fn a_live_lock_is_refused_and_only_its_holder_releases_it() {
    let app = memory::provision("lk-live", AppOptions::default());
    let ports = app.ports();
    let store = AppStore::new(&ports.params, PREFIX).unwrap();
    let first = app.start_running_execution("first");
    let second = app.start_running_execution("second");
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        acquire(&ports, &app.name, &first, now).await.unwrap(),
        Acquired::Fresh
    );
    let err = acquire(&ports, &app.name, &second, now).await.unwrap_err();
    assert_eq!(err.error_type(), "LockHeld");
    assert!(err.to_string().contains(&first), "{err}");

    assert!(
        !store.release_lock(&app.name, &second).await.unwrap(),
        "not the holder"
    );
    assert!(app.parameter("lock").is_some());
    assert!(store.release_lock(&app.name, &first).await.unwrap());
    assert!(
        !store.release_lock(&app.name, &first).await.unwrap(),
        "releasing twice is fine"
    );
    assert_eq!(
        acquire(&ports, &app.name, &second, now).await.unwrap(),
        Acquired::Fresh
    );
}
