//! The error a failing suite ends the invocation with.

use bluegreen_core::Error;
use bluegreen_smoke::SmokeReport;
use bluegreen_smoke::mask::shorten;
use tracing::error;

pub use bluegreen_smoke::report::REPORT_MARKER;

// Step Functions keeps at most 32 768 characters of an error's cause; these
// leave room for the rest of it.
const MAX_SUMMARY_CHARS: usize = 4_000;
const MAX_REPORT_CHARS: usize = 24_000;

/// `SmokeTestFailed` with the summary and the report (both already masked).
/// A report too large to attach is left to the log.
pub(crate) fn smoke_test_failed(app: &str, report: &SmokeReport) -> Error {
    let json = serde_json::to_string(report).expect("a report serialises");
    error!(app, report = %json, "smoke tests failed");
    let attached = if json.chars().count() <= MAX_REPORT_CHARS {
        json
    } else {
        format!(
            "(too large to attach: {} bytes; the function's log has it)",
            json.len()
        )
    };
    Error::SmokeTestFailed {
        app: app.to_string(),
        summary: format!(
            "{}{REPORT_MARKER}{attached}",
            shorten(&report.summary(), MAX_SUMMARY_CHARS)
        ),
    }
}
