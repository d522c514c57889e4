//! [`Clock`] on the system's time, with tokio's timer for the waits: the
//! Lambdas' (the monitor watching a bake, a rollback waiting for a cold
//! color).

use bluegreen_core::ports::Clock;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    async fn sleep_until(&self, t: OffsetDateTime) {
        let wait = t - OffsetDateTime::now_utc();
        if wait.is_positive() {
            tokio::time::sleep(wait.unsigned_abs()).await;
        }
    }
}
