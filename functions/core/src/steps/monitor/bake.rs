//! What a bake has seen so far. One monitor call adds each probe round and
//! each read to these figures; the call's outcome carries them to the next
//! call, so a bake watched in several slices is judged as one: no probe is
//! counted twice, no failed read is forgotten.

use time::OffsetDateTime;

pub use crate::document::outcomes::{BakeFigures, ProbeMinute, ProbeSummary};
use crate::ports::ProbeResult;

/// Minutes of probes kept one by one: more than any metrics delay, so that a
/// window's end always falls after the minutes summed up.
pub const KEPT_MINUTES: usize = 15;

/// The start of the minute `t` falls in, in seconds since the epoch.
pub fn minute_start(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(60) * 60
}

impl BakeFigures {
    /// Adds one probe round sent at `at`.
    pub fn add_probes(&mut self, at: OffsetDateTime, probes: &[ProbeResult]) {
        if probes.is_empty() {
            return;
        }
        self.rounds += 1;
        let sent = probes.len() as u64;
        let ok = probes
            .iter()
            .filter(|p| p.status.is_some_and(|s| s < 500))
            .count() as u64;
        let new_version = probes.iter().filter(|p| p.has_marker).count() as u64;
        let summary = self.probes.get_or_insert_with(ProbeSummary::default);
        summary.sent += sent;
        summary.ok += ok;
        summary.new_version += new_version;
        summary.max_latency_ms = probes
            .iter()
            .map(|p| p.latency_ms)
            .fold(summary.max_latency_ms, u64::max);
        self.version_seen |= new_version > 0;

        let minute = minute_start(at);
        let on_new = new_version + (sent - ok);
        match self.probe_minutes.last_mut() {
            Some(last) if last.minute == minute => {
                last.sent += sent;
                last.on_new += on_new;
            }
            _ => self.probe_minutes.push(ProbeMinute {
                minute,
                sent,
                on_new,
            }),
        }
        while self.probe_minutes.len() > KEPT_MINUTES {
            let oldest = self.probe_minutes.remove(0);
            let earlier = self.earlier_probes.get_or_insert(ProbeMinute {
                minute: oldest.minute,
                sent: 0,
                on_new: 0,
            });
            // `minute`: the last minute summed.
            earlier.minute = oldest.minute;
            earlier.sent += oldest.sent;
            earlier.on_new += oldest.on_new;
        }
    }

    /// Our probes that the request count up to `until` may include: they went
    /// through the production listener, but they are not users. Once a probe
    /// has seen the new version, those that saw the old one are known to have
    /// gone elsewhere; before that (an app whose answers do not name their
    /// version), every probe is assumed to have reached the new color.
    pub fn probes_counted_before(&self, until: OffsetDateTime) -> u64 {
        let until = until.unix_timestamp();
        self.earlier_probes
            .iter()
            .chain(&self.probe_minutes)
            .filter(|m| m.minute < until)
            .map(|m| if self.version_seen { m.on_new } else { m.sent })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(status: Option<u16>, marker: bool) -> ProbeResult {
        ProbeResult {
            status,
            latency_ms: 10,
            has_marker: marker,
            error: None,
        }
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_020 + secs).unwrap()
    }

    #[test]
    fn probes_count_only_in_the_minutes_metrics_cover_and_only_where_they_went() {
        let mut f = BakeFigures::default();
        // 20 s into a minute.
        f.add_probes(at(0), &[probe(Some(200), false), probe(Some(200), false)]);
        // Before any probe saw the release, every probe may be the new color's.
        assert_eq!(f.probes_counted_before(at(40)), 2);
        f.add_probes(at(45), &[probe(Some(200), true), probe(Some(502), false)]);
        assert_eq!(f.probe_minutes.len(), 2);
        // Now only those that saw it or failed.
        assert_eq!(f.probes_counted_before(at(40)), 0);
        assert_eq!(f.probes_counted_before(at(100)), 2);
        let s = f.probes.as_ref().unwrap();
        assert_eq!((s.sent, s.ok, s.new_version), (4, 3, 1));
        assert_eq!(f.rounds, 2);
    }
}
