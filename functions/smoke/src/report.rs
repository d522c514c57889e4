//! What a run found: serialisable, every string masked, short enough to
//! travel in a Step Functions error.

use serde::{Deserialize, Serialize};

use crate::mask::{Masker, shorten};
use crate::route::RouteReport;

/// Separates the summary from the report JSON in the smoke-test Lambda's
/// error message (the CLI splits it off to show the report).
pub const REPORT_MARKER: &str = "\nreport: ";

/// How much of a failing response's body the report keeps.
pub const MAX_SNIPPET_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmokeReport {
    /// True only when every test passed and the warm-up (if any) reached
    /// the service at least once.
    pub passed: bool,
    pub base_url: String,
    /// Whether the base URL served the release before the tests ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteReport>,
    pub totals: Totals,
    pub warmup: Option<WarmupReport>,
    pub tests: Vec<TestReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub name: String,
    pub method: String,
    /// The URL as requested, or as written in the spec when it could not be
    /// filled in.
    pub url: String,
    pub passed: bool,
    /// Not run, because a test it needs a capture from did not pass.
    pub skipped: bool,
    /// The last attempt's status, if it got a response.
    pub status: Option<u16>,
    /// The last attempt's time to the end of the body, if it got a response.
    pub latency_ms: Option<u64>,
    pub attempts: u32,
    /// Why it did not pass; `None` when it passed.
    pub reason: Option<String>,
    /// The start of the last response's body when the test failed.
    pub response_snippet: Option<String>,
}

/// The warm-up burst. It fails the suite only when no request got any HTTP
/// response: slow or erroring answers while warming up are what a warm-up is
/// for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmupReport {
    pub requests: u32,
    pub concurrency: u32,
    /// Requests that got an HTTP response, whatever its status.
    pub responded: u32,
    /// Of those, the ones with a 2xx status.
    pub ok: u32,
    /// Requests that got no response (refused, reset, timed out).
    pub failed: u32,
    pub max_latency_ms: Option<u64>,
    pub passed: bool,
    /// What went wrong, when something did.
    pub reason: Option<String>,
}

impl TestReport {
    pub(crate) fn new(name: &str, method: &str, url: &str) -> TestReport {
        TestReport {
            name: name.to_string(),
            method: method.to_string(),
            url: url.to_string(),
            passed: false,
            skipped: false,
            status: None,
            latency_ms: None,
            attempts: 0,
            reason: None,
            response_snippet: None,
        }
    }

    fn mask(&mut self, masker: &Masker) {
        self.name = masker.mask(&self.name);
        self.url = masker.mask(&self.url);
        mask_opt(&mut self.reason, masker);
        mask_opt(&mut self.response_snippet, masker);
    }
}

impl SmokeReport {
    /// Totals and the verdict from the parts, every string masked.
    pub(crate) fn new(
        base_url: &str,
        route: Option<RouteReport>,
        warmup: Option<WarmupReport>,
        tests: Vec<TestReport>,
        masker: &Masker,
    ) -> SmokeReport {
        let passed = tests.iter().filter(|t| t.passed).count();
        let skipped = tests.iter().filter(|t| t.skipped).count();
        let totals = Totals {
            tests: tests.len(),
            passed,
            failed: tests.len() - passed - skipped,
            skipped,
        };
        let mut report = SmokeReport {
            passed: passed == tests.len()
                && warmup.as_ref().is_none_or(|w| w.passed)
                && route.as_ref().is_none_or(|r| r.verified),
            base_url: base_url.to_string(),
            route,
            totals,
            warmup,
            tests,
        };
        // Again at the end: a secret learnt late (a capture) may appear in
        // what an earlier test reported.
        report.base_url = masker.mask(&report.base_url);
        if let Some(w) = &mut report.warmup {
            mask_opt(&mut w.reason, masker);
        }
        for t in &mut report.tests {
            t.mask(masker);
        }
        report
    }

    /// One paragraph: what passed, or which tests did not and why.
    pub fn summary(&self) -> String {
        let mut problems = Vec::new();
        if let Some(problem) = self.route.as_ref().and_then(RouteReport::problem) {
            problems.push(problem);
        }
        if let Some(w) = &self.warmup
            && !w.passed
        {
            problems.push(format!(
                "warm-up: {}",
                w.reason.as_deref().unwrap_or("no request got a response")
            ));
        }
        for t in self.tests.iter().filter(|t| !t.passed) {
            let how = if t.skipped { " (skipped)" } else { "" };
            let why = t.reason.as_deref().unwrap_or("did not pass");
            problems.push(format!("{}{how}: {why}", t.name));
        }
        let n = self.totals.tests;
        if problems.is_empty() {
            format!("all {n} smoke tests passed against {}", self.base_url)
        } else {
            format!(
                "{} of {n} smoke tests did not pass against {}: {}",
                self.totals.failed + self.totals.skipped,
                self.base_url,
                problems.join("; ")
            )
        }
    }
}

fn mask_opt(text: &mut Option<String>, masker: &Masker) {
    if let Some(t) = text {
        *t = masker.mask(t);
    }
}

/// The start of a body for the report: masked, then shortened (in that
/// order, so a cut cannot leave part of a secret unrecognised).
pub(crate) fn snippet(body: &[u8], masker: &Masker) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    Some(shorten(
        &masker.mask(&String::from_utf8_lossy(body)),
        MAX_SNIPPET_CHARS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str, passed: bool, skipped: bool, reason: Option<&str>) -> TestReport {
        TestReport {
            passed,
            skipped,
            reason: reason.map(str::to_string),
            ..TestReport::new(name, "GET", "http://idle/x")
        }
    }

    #[test]
    fn totals_verdict_and_summary() {
        let r = SmokeReport::new(
            "http://idle",
            None,
            None,
            vec![test("a", true, false, None), test("b", true, false, None)],
            &Masker::new(),
        );
        assert!(r.passed);
        assert_eq!(r.summary(), "all 2 smoke tests passed against http://idle");

        let r = SmokeReport::new(
            "http://idle",
            None,
            None,
            vec![
                test("Login", false, false, Some("expected status 200, got 500")),
                test(
                    "Me",
                    false,
                    true,
                    Some("needs capture `token` from failed test Login"),
                ),
                test("Health", true, false, None),
            ],
            &Masker::new(),
        );
        assert!(!r.passed);
        assert_eq!(
            r.totals,
            Totals {
                tests: 3,
                passed: 1,
                failed: 1,
                skipped: 1
            }
        );
        assert_eq!(
            r.summary(),
            "2 of 3 smoke tests did not pass against http://idle: Login: expected status 200, got 500; \
             Me (skipped): needs capture `token` from failed test Login"
        );
    }

    #[test]
    fn a_warmup_that_reached_nothing_fails_the_suite() {
        let warmup = WarmupReport {
            requests: 5,
            concurrency: 2,
            responded: 0,
            ok: 0,
            failed: 5,
            max_latency_ms: None,
            passed: false,
            reason: Some("5 of 5 requests got no response; first: refused".into()),
        };
        let r = SmokeReport::new(
            "http://idle",
            None,
            Some(warmup),
            vec![test("a", true, false, None)],
            &Masker::new(),
        );
        assert!(!r.passed);
        assert!(
            r.summary()
                .contains("warm-up: 5 of 5 requests got no response"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn every_string_is_masked_and_snippets_are_short() {
        let mut m = Masker::new();
        m.add("s3cr3t");
        let mut t = test("a", false, false, Some("bad s3cr3t"));
        t.url = "http://idle/?k=s3cr3t".into();
        t.response_snippet = snippet(format!("{}s3cr3t", "x".repeat(196)).as_bytes(), &m);
        let r = SmokeReport::new("http://idle", None, None, vec![t], &m);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("s3cr3t"), "{json}");
        let t = &r.tests[0];
        assert_eq!(t.url, "http://idle/?k=***");
        // Masked before cut: the 196 x's and "***" fit, nothing of the secret is left.
        assert_eq!(
            t.response_snippet.as_deref(),
            Some(&*format!("{}***", "x".repeat(196)))
        );
        assert_eq!(snippet(&[], &m), None);
        assert_eq!(
            snippet(&vec![b'y'; 500], &m).unwrap().chars().count(),
            MAX_SNIPPET_CHARS
        );
    }
}
