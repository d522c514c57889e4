//! Running a spec: the warm-up, then every test in order, one at a time, so
//! that captures flow forward.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Url;
use tracing::{debug, info, warn};

use crate::attempt;
use crate::checks;
use crate::mask::Masker;
use crate::report::{SmokeReport, TestReport, snippet};
use crate::request;
use crate::route::{RouteCheck, RouteReport, check_route};
use crate::sources::{EnvSource, SecretSource};
use crate::spec::{Spec, TestCase};
use crate::vars::Variables;
use crate::warmup;

/// Runs specs with one HTTP client and the sources of secret values.
pub struct Runner<'a, S, E> {
    http: &'a reqwest::Client,
    ssm: &'a S,
    env: &'a E,
    version: Option<&'a str>,
    route_check: Option<RouteCheck>,
}

/// How a test that declares captures ended, for the tests that need them.
#[derive(Clone, Copy)]
enum Ended {
    Passed,
    Failed,
    Skipped,
}

impl<'a, S: SecretSource, E: EnvSource> Runner<'a, S, E> {
    pub fn new(http: &'a reqwest::Client, ssm: &'a S, env: &'a E) -> Self {
        Runner {
            http,
            ssm,
            env,
            version: None,
            route_check: None,
        }
    }

    /// Before anything else, wait until the base URL serves the release (see
    /// [`crate::route`]); if it never does, no test runs and the run fails.
    pub fn with_route_check(mut self, check: RouteCheck) -> Self {
        self.route_check = Some(check);
        self
    }

    /// The release under test: what `{{version}}` stands for.
    pub fn with_version(mut self, version: &'a str) -> Self {
        self.version = Some(version);
        self
    }

    /// Runs `spec` against `base_url` (what `{{base_url}}` stands for).
    /// Never fails: whatever goes wrong is in the report, which passes only
    /// when every test passed.
    pub async fn run(&self, spec: &Spec, base_url: &str) -> SmokeReport {
        let mut vars = Variables::new(base_url, self.ssm, self.env).with_version(self.version);
        let base = Url::parse(base_url).map_err(|e| format!("the base URL is not a URL: {e}"));

        let route = match &self.route_check {
            Some(check) => Some(check_route(self.http, check).await),
            None => None,
        };
        if let Some(problem) = route.as_ref().and_then(RouteReport::problem) {
            let tests = spec
                .tests
                .iter()
                .map(|test| TestReport {
                    skipped: true,
                    reason: Some(format!("not run: {problem}")),
                    ..TestReport::new(&test.name, test.method.as_str(), test.url.source())
                })
                .collect();
            warn!(problem, "smoke tests not run");
            return SmokeReport::new(base_url, route, None, tests, vars.masker());
        }

        let warmup = match &spec.warmup {
            Some(w) => Some(warmup::run(self.http, w, &mut vars, &base).await),
            None => None,
        };

        // Capture name -> the last test before this one that declares it.
        let mut producers: HashMap<&str, (&str, Ended)> = HashMap::new();
        let mut tests = Vec::with_capacity(spec.tests.len());
        for test in &spec.tests {
            let report = match blocked(test, &producers) {
                Some(reason) => TestReport {
                    skipped: true,
                    reason: Some(reason),
                    ..TestReport::new(&test.name, test.method.as_str(), test.url.source())
                },
                None => self.run_test(test, &mut vars, &base).await,
            };
            let ended = match (report.passed, report.skipped) {
                (true, _) => Ended::Passed,
                (false, true) => Ended::Skipped,
                (false, false) => Ended::Failed,
            };
            for c in &test.captures {
                producers.insert(&c.name, (&test.name, ended));
            }
            log(&report, vars.masker());
            tests.push(report);
        }

        let report = SmokeReport::new(base_url, route, warmup, tests, vars.masker());
        info!(
            passed = report.passed,
            tests = report.totals.tests,
            failed = report.totals.failed,
            skipped = report.totals.skipped,
            "smoke tests finished"
        );
        report
    }

    async fn run_test(
        &self,
        test: &TestCase,
        vars: &mut Variables<'_, S, E>,
        base: &Result<Url, String>,
    ) -> TestReport {
        let mut report = TestReport::new(&test.name, test.method.as_str(), test.url.source());
        let prepared = async {
            vars.prepare(&test.vars()).await?;
            let url = request::render(&test.url, vars)?;
            report.url = url.clone();
            request::build(
                test.method,
                &url,
                &test.headers,
                test.body.as_ref(),
                vars,
                base,
            )
        };
        let request = match prepared.await {
            Ok(r) => r,
            Err(reason) => {
                report.reason = Some(reason);
                return report;
            }
        };

        loop {
            report.attempts += 1;
            let response = attempt::send(self.http, &request, test.timeout).await;
            report.status = response.as_ref().ok().map(|r| r.status);
            report.latency_ms = response.as_ref().ok().map(|r| millis(r.latency));
            let verdict = match &response {
                Ok(r) => checks::check(test, r, vars.masker_mut(), self.version),
                Err(reason) => Err(reason.clone()),
            };
            match verdict {
                Ok(captured) => {
                    for (name, value) in captured {
                        vars.capture(&name, value);
                    }
                    report.passed = true;
                    report.reason = None;
                    report.response_snippet = None;
                    return report;
                }
                Err(reason) => {
                    report.response_snippet =
                        response.ok().and_then(|r| snippet(&r.body, vars.masker()));
                    if report.attempts > test.retries {
                        report.reason = Some(reason);
                        return report;
                    }
                    debug!(
                        test = %vars.masker().mask(&test.name),
                        attempt = report.attempts,
                        reason = %vars.masker().mask(&reason),
                        "attempt failed; retrying"
                    );
                    tokio::time::sleep(test.retry_delay).await;
                }
            }
        }
    }
}

/// Why `test` cannot run: a capture it needs comes from a test that did not
/// pass. A capture no earlier test declares is left to fail the test itself,
/// naming the unknown variable.
fn blocked(test: &TestCase, producers: &HashMap<&str, (&str, Ended)>) -> Option<String> {
    test.needed_captures().into_iter().find_map(|name| {
        let (producer, ended) = producers.get(name)?;
        let how = match ended {
            Ended::Passed => return None,
            Ended::Failed => "failed",
            Ended::Skipped => "skipped",
        };
        Some(format!("needs capture `{name}` from {how} test {producer}"))
    })
}

/// One line per test: no request headers or bodies, every string masked.
fn log(report: &TestReport, masker: &Masker) {
    let name = masker.mask(&report.name);
    let url = masker.mask(&report.url);
    if report.passed {
        info!(test = %name, method = %report.method, url = %url, status = report.status,
              latency_ms = report.latency_ms, attempts = report.attempts, "smoke test passed");
    } else {
        let reason = masker.mask(report.reason.as_deref().unwrap_or_default());
        warn!(test = %name, method = %report.method, url = %url, status = report.status,
              latency_ms = report.latency_ms, attempts = report.attempts, skipped = report.skipped,
              reason = %reason, "smoke test did not pass");
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
