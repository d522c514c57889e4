//! The release window (`gates.window`): the hours, in a team's own time zone,
//! in which a release may start taking production traffic ("off-peak
//! releases"). Outside them the switch holds the release and says how long
//! until the window opens; the state machine waits that long and asks again.

use garde::Validate;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::records::validation::fail;

/// When releases may start moving traffic. `from` later than `to` crosses
/// midnight: a window that opens on an allowed day runs to `to` the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct WindowGate {
    /// An IANA time zone (`Europe/Berlin`, `America/New_York`, `UTC`); the
    /// hours follow its daylight-saving changes.
    #[garde(custom(known_time_zone))]
    #[schemars(pattern(TIME_ZONE))]
    pub time_zone: String,
    /// The days a window opens on; every day when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(skip)]
    pub days: Vec<Day>,
    /// Opening and closing times, `HH:MM` (24-hour clock, local time).
    #[garde(custom(clock_time))]
    #[schemars(pattern(CLOCK_TIME))]
    pub from: String,
    #[garde(custom(clock_time))]
    #[schemars(pattern(CLOCK_TIME))]
    pub to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    fn of(weekday: Weekday) -> Day {
        match weekday {
            Weekday::Monday => Day::Mon,
            Weekday::Tuesday => Day::Tue,
            Weekday::Wednesday => Day::Wed,
            Weekday::Thursday => Day::Thu,
            Weekday::Friday => Day::Fri,
            Weekday::Saturday => Day::Sat,
            Weekday::Sunday => Day::Sun,
        }
    }
}

/// `HH:MM`, 00:00 to 23:59. Schema: [`CLOCK_TIME`].
pub fn clock_time(value: &str, _: &()) -> garde::Result {
    match parse_clock(value) {
        Some(_) => Ok(()),
        None => fail("must be a time of day as HH:MM (00:00 to 23:59)"),
    }
}

pub const CLOCK_TIME: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

/// A zone of the bundled IANA database. The schema can only say its shape.
pub fn known_time_zone(value: &str, _: &()) -> garde::Result {
    match TimeZone::get(value) {
        Ok(_) => Ok(()),
        Err(_) => fail("must be an IANA time zone such as Europe/Berlin or UTC"),
    }
}

pub const TIME_ZONE: &str = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$";

fn parse_clock(value: &str) -> Option<Time> {
    let (h, m) = value.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    Time::new(h, m, 0, 0).ok()
}

/// Where `now` stands against the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    Open,
    /// Closed; it opens at this instant.
    OpensAt(OffsetDateTime),
}

impl WindowGate {
    /// Whether the window is open at `now`, and if not when it next opens.
    /// A window that never opens (validated configs cannot have one) is
    /// treated as open: a gate must not hold a release forever on a bug.
    pub fn at(&self, now: OffsetDateTime) -> WindowState {
        let (Ok(tz), Some(from), Some(to)) = (
            TimeZone::get(&self.time_zone),
            parse_clock(&self.from),
            parse_clock(&self.to),
        ) else {
            return WindowState::Open;
        };
        let Ok(now_ts) = Timestamp::from_second(now.unix_timestamp()) else {
            return WindowState::Open;
        };
        let local = now_ts.to_zoned(tz.clone());
        let today = local.date();
        // The window that opened yesterday may still run (across midnight).
        for days_back in [1, 0] {
            let Some((start, end)) = self.window_on(&tz, today, -days_back, from, to) else {
                continue;
            };
            if start.timestamp() <= now_ts && now_ts < end.timestamp() {
                return WindowState::Open;
            }
        }
        for days_ahead in 0..=7 {
            if let Some((start, _)) = self.window_on(&tz, today, days_ahead, from, to)
                && start.timestamp() > now_ts
            {
                return OffsetDateTime::from_unix_timestamp(start.timestamp().as_second())
                    .map_or(WindowState::Open, WindowState::OpensAt);
            }
        }
        WindowState::Open
    }

    /// The window opening on `today + offset` days, if that day allows one:
    /// its start and end as instants (a time that a daylight-saving change
    /// skips is taken as the instant after the gap).
    fn window_on(
        &self,
        tz: &TimeZone,
        today: Date,
        offset: i64,
        from: Time,
        to: Time,
    ) -> Option<(Zoned, Zoned)> {
        let day = today.checked_add(offset.days()).ok()?;
        if !self.days.is_empty() && !self.days.contains(&Day::of(day.weekday())) {
            return None;
        }
        let end_day = if to <= from {
            day.checked_add(1.days()).ok()?
        } else {
            day
        };
        let start = day.to_datetime(from).to_zoned(tz.clone()).ok()?;
        let end = end_day.to_datetime(to).to_zoned(tz.clone()).ok()?;
        Some((start, end))
    }

    /// `Mon–Fri 22:00–06:00 Europe/Berlin`, for the reports.
    pub fn describe(&self) -> String {
        let days = if self.days.is_empty() {
            "every day".to_string()
        } else {
            self.days
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!("{days} {}–{} {}", self.from, self.to, self.time_zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn window(zone: &str, days: &[Day], from: &str, to: &str) -> WindowGate {
        WindowGate {
            time_zone: zone.into(),
            days: days.to_vec(),
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn inside_the_hours_of_an_allowed_day_it_is_open() {
        let w = window("Europe/Berlin", &[Day::Mon, Day::Tue], "09:00", "17:00");
        // Monday 7 Dec 2026, 10:00 in Berlin (UTC+1).
        assert_eq!(w.at(datetime!(2026-12-07 09:00 UTC)), WindowState::Open);
        // 17:00 Berlin is closed: the end is not in the window.
        assert_eq!(
            w.at(datetime!(2026-12-07 16:00 UTC)),
            WindowState::OpensAt(datetime!(2026-12-08 08:00 UTC))
        );
        // Tuesday evening: the next opening is the next Monday.
        assert_eq!(
            w.at(datetime!(2026-12-08 18:00 UTC)),
            WindowState::OpensAt(datetime!(2026-12-14 08:00 UTC))
        );
    }

    #[test]
    fn a_window_across_midnight_runs_into_the_next_day() {
        let w = window("UTC", &[Day::Fri], "22:00", "06:00");
        // Friday 11 Dec 2026 23:00, and Saturday 05:59: open.
        assert_eq!(w.at(datetime!(2026-12-11 23:00 UTC)), WindowState::Open);
        assert_eq!(w.at(datetime!(2026-12-12 05:59 UTC)), WindowState::Open);
        // Saturday 06:00: closed until the next Friday 22:00.
        assert_eq!(
            w.at(datetime!(2026-12-12 06:00 UTC)),
            WindowState::OpensAt(datetime!(2026-12-18 22:00 UTC))
        );
        // Friday 05:00 belongs to Thursday's window, which is not allowed.
        assert_eq!(
            w.at(datetime!(2026-12-11 05:00 UTC)),
            WindowState::OpensAt(datetime!(2026-12-11 22:00 UTC))
        );
    }

    #[test]
    fn the_hours_follow_daylight_saving_time() {
        // New York: UTC-4 in summer, UTC-5 in winter; 02:00 local each day.
        let w = window("America/New_York", &[], "02:00", "04:00");
        assert_eq!(
            w.at(datetime!(2026-07-01 12:00 UTC)),
            WindowState::OpensAt(datetime!(2026-07-02 06:00 UTC))
        );
        assert_eq!(
            w.at(datetime!(2026-12-01 12:00 UTC)),
            WindowState::OpensAt(datetime!(2026-12-02 07:00 UTC))
        );
        // 8 Mar 2026: 02:00 does not exist (clocks jump to 03:00); the window
        // opens at the first instant after the gap.
        assert_eq!(
            w.at(datetime!(2026-03-08 05:00 UTC)),
            WindowState::OpensAt(datetime!(2026-03-08 07:00 UTC))
        );
    }

    #[test]
    fn bad_zones_and_times_are_refused() {
        assert!(known_time_zone("Europe/Berlin", &()).is_ok());
        assert!(known_time_zone("UTC", &()).is_ok());
        assert!(known_time_zone("Mars/Olympus", &()).is_err());
        assert!(clock_time("06:30", &()).is_ok());
        for bad in ["6:30", "24:00", "12:60", "noon", "12:00:00", ""] {
            assert!(clock_time(bad, &()).is_err(), "{bad}");
        }
        let re = regex::Regex::new(CLOCK_TIME).unwrap();
        for sample in ["06:30", "23:59", "24:00", "6:30", "12:60", ""] {
            assert_eq!(
                re.is_match(sample),
                clock_time(sample, &()).is_ok(),
                "{sample}"
            );
        }
    }

    #[test]
    fn described_for_people() {
        let w = window("Europe/Berlin", &[Day::Mon, Day::Fri], "22:00", "06:00");
        assert_eq!(w.describe(), "mon,fri 22:00–06:00 Europe/Berlin");
    }
}
