//! What the monitor does with its ports (`crate::ports`: `Alarms`,
//! `VersionProber`, `Clock`): which alarms are missing, and how a probe
//! recognises the new version (a named header or JSON field, never any
//! substring of any header).

use crate::error::{Error, Result};
use crate::records::config::MonitorConfig;

/// The names among `names` with no alarm in `found`.
pub fn missing<'a>(names: &'a [String], found: &[AlarmState]) -> Vec<&'a str> {
    names
        .iter()
        .filter(|n| !found.iter().any(|a| &a.name == *n))
        .map(String::as_str)
        .collect()
}

/// Every alarm the thresholds name must exist: a misspelt name would
/// otherwise never fire. `at` is where the list sits (`monitor.alarm_names`
/// in the config, `overrides.monitor.alarm_names` in the input).
pub async fn check_alarms_exist<A: Alarms>(
    alarms: &A,
    source: &str,
    at: &str,
    limits: &MonitorConfig,
) -> Result<()> {
    if limits.alarm_names.is_empty() {
        return Ok(());
    }
    let found = alarms.alarm_states(&limits.alarm_names).await?;
    let missing = missing(&limits.alarm_names, &found);
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let i = limits
        .alarm_names
        .iter()
        .position(|n| n == first)
        .unwrap_or(0);
    Err(Error::bad_input(
        source,
        format!("{at}[{i}]"),
        format!(
            "no CloudWatch alarm named `{}` exists in this account and region{}",
            missing.join("`, `"),
            if missing.len() > 1 {
                " (all of these are missing)"
            } else {
                ""
            }
        ),
    ))
}

/// Without a configured place, the version is read from these.
pub const DEFAULT_VERSION_HEADER: &str = "X-Version";
pub const DEFAULT_VERSION_JSON_PATH: &str = "version";

impl VersionCheck {
    pub fn new(limits: &MonitorConfig, version: &str) -> VersionCheck {
        VersionCheck {
            expected: limits.version_marker(version),
            header: limits.version_header.clone(),
            json_path: limits.version_json_path.clone(),
        }
    }

    /// Whether a response with these headers and body names the release:
    /// the named header's whole value, or the named JSON field's value
    /// (a string, or a number as written), equals `expected`.
    pub fn matches<'h>(
        &self,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        body: &[u8],
    ) -> bool {
        let (header, path) = match (&self.header, &self.json_path) {
            (None, None) => (
                Some(DEFAULT_VERSION_HEADER),
                Some(DEFAULT_VERSION_JSON_PATH),
            ),
            (h, p) => (h.as_deref(), p.as_deref()),
        };
        let expected = self.expected.trim();
        if let Some(name) = header
            && headers
                .into_iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(name) && v.trim() == expected)
        {
            return true;
        }
        let Some(path) = path else { return false };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
            return false;
        };
        let mut at = &json;
        for key in path.split('.') {
            match at.get(key) {
                Some(v) => at = v,
                None => return false,
            }
        }
        match at {
            serde_json::Value::String(s) => s.trim() == expected,
            serde_json::Value::Number(n) => n.to_string() == expected,
            _ => false,
        }
    }
}

pub use crate::ports::{AlarmState, Alarms, Clock, VersionCheck, VersionProber};

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<&str>, path: Option<&str>) -> VersionCheck {
        VersionCheck {
            expected: "2".into(),
            header: header.map(str::to_string),
            json_path: path.map(str::to_string),
        }
    }

    #[test]
    fn version_2_is_not_found_in_the_date_header_or_any_substring() {
        let date = [("Date", "Wed, 02 Dec 2026 01:02:22 GMT")];
        assert!(!check(None, None).matches(date, br#"{"version": "12"}"#));
        assert!(!check(None, None).matches(date, b"version 2 is here"));
        assert!(check(None, None).matches(date, br#"{"version": "2"}"#));
        assert!(check(None, None).matches(date, br#"{"version": 2}"#));
        assert!(check(None, None).matches([("x-version", " 2 ")], b""));
    }

    #[test]
    fn a_named_header_or_path_is_the_only_place_looked_at() {
        let h = [("X-App-Version", "2"), ("X-Version", "1")];
        assert!(check(Some("x-app-version"), None).matches(h, b""));
        assert!(!check(Some("X-Build"), None).matches(h, br#"{"version": "2"}"#));
        let body = br#"{"build": {"version": "2"}, "version": "1"}"#;
        assert!(check(None, Some("build.version")).matches([], body));
        assert!(!check(None, Some("build.sha")).matches([], body));
    }

    #[test]
    fn missing_names_those_not_found() {
        let names = vec!["a".to_string(), "b".to_string()];
        let found = vec![AlarmState {
            name: "a".into(),
            in_alarm: false,
        }];
        assert_eq!(missing(&names, &found), vec!["b"]);
    }
}
