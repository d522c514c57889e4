//! The per-app deployment lock stored at `<prefix>/<app>/lock`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The execution ARN (or another caller id) holding the lock.
    pub holder: String,
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// After this instant the lock may be broken even if its holder still runs.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Lock {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// A short, stable fingerprint of this particular acquisition. Reclaiming a
    /// stale lock claims this fingerprint create-only, so of several callers
    /// racing to break the same stale lock exactly one wins.
    pub fn fingerprint(&self) -> String {
        let text = format!(
            "{}|{}",
            self.holder,
            self.acquired_at.unix_timestamp_nanos()
        );
        // FNV-1a, 64 bit: no cryptographic need, just a stable short name.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

/// How the lock came to be held by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    Fresh,
    /// The caller already held it: a rerun of the same step.
    AlreadyHeld,
    /// It was held by a finished execution (or had expired) and was taken over.
    Reclaimed {
        from: Lock,
    },
}
