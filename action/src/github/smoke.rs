//! The smoke-test table. The report is the `SmokeTest` state's result
//! (`$.smoke`) when the tests passed; when they failed it travels in the
//! caught error's cause (`$.error.Cause`), after the summary and a marker.

use bluegreen_smoke::SmokeReport;
use bluegreen_smoke::report::REPORT_MARKER;
use serde_json::Value;

use super::markdown::{cell, inline};
use crate::results::{Results, readable};

/// The smoke report in an execution document, wherever it is.
pub(crate) fn smoke_report(doc: &Value) -> Option<SmokeReport> {
    if let Some(report) = readable(Results::of(doc).smoke()) {
        return Some(report);
    }
    let message = error_message(doc["error"]["Cause"].as_str()?);
    let (_, json) = message.split_once(REPORT_MARKER)?;
    serde_json::from_str(json).ok()
}

/// A caught Lambda error's cause is the Lambda's JSON answer; its
/// `errorMessage` is what the function said. Other causes are plain text.
pub(crate) fn error_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

/// The message without the attached report.
pub(crate) fn without_report(message: &str) -> &str {
    message.split(REPORT_MARKER).next().unwrap_or_default()
}

pub(crate) fn section(report: &SmokeReport) -> String {
    let t = &report.totals;
    let mut out = format!(
        "#### Smoke tests: {} passed, {} failed{}\n\nagainst {}\n\n",
        t.passed,
        t.failed,
        if t.skipped > 0 {
            format!(", {} skipped", t.skipped)
        } else {
            String::new()
        },
        inline(&report.base_url),
    );
    if let Some(route) = &report.route {
        out.push_str(&if route.verified {
            format!(
                "Reached the release: {} answered with {} after {} request(s), {:.1} s\n\n",
                inline(&route.url),
                inline(&route.marker),
                route.requests,
                route.waited_ms as f64 / 1000.0
            )
        } else {
            format!(
                "Never reached the release: {} did not answer with {} in {} request(s) (last: {}); no test ran\n\n",
                inline(&route.url),
                inline(&route.marker),
                route.requests,
                inline(route.last_miss.as_deref().unwrap_or("no answer"))
            )
        });
    }
    if let Some(w) = &report.warmup {
        out.push_str(&format!(
            "Warm-up: {} of {} requests answered, {} with 2xx{}\n\n",
            w.responded,
            w.requests,
            w.ok,
            w.reason
                .as_deref()
                .map(|r| format!(": {}", inline(r)))
                .unwrap_or_default()
        ));
    }
    out.push_str("| test | result | status | latency | reason |\n|---|---|---:|---:|---|\n");
    for test in &report.tests {
        let result = match (test.passed, test.skipped) {
            (true, _) => "✅ passed",
            (false, true) => "⏭️ skipped",
            (false, false) => "❌ failed",
        };
        out.push_str(&format!(
            "| {} | {result} | {} | {} | {} |\n",
            cell(&test.name),
            test.status.map(|s| s.to_string()).unwrap_or_default(),
            test.latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default(),
            cell(test.reason.as_deref().unwrap_or_default()),
        ));
    }
    out
}
