//! The warm-up burst: `requests` GETs, `concurrency` at a time, before the
//! counted tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::Url;
use tokio::task::JoinSet;
use tracing::info;

use crate::attempt;
use crate::report::WarmupReport;
use crate::request::{self, Request};
use crate::sources::{EnvSource, SecretSource};
use crate::spec::{Method, Warmup};
use crate::template::Var;
use crate::vars::Variables;

#[derive(Default)]
struct Tally {
    responded: u32,
    ok: u32,
    failed: u32,
    max_latency: Option<Duration>,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.responded += other.responded;
        self.ok += other.ok;
        self.failed += other.failed;
        self.max_latency = self.max_latency.max(other.max_latency);
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

pub(crate) async fn run<S: SecretSource, E: EnvSource>(
    http: &reqwest::Client,
    warmup: &Warmup,
    vars: &mut Variables<'_, S, E>,
    base: &Result<Url, String>,
) -> WarmupReport {
    let mut report = WarmupReport {
        requests: warmup.requests,
        concurrency: warmup.concurrency,
        responded: 0,
        ok: 0,
        failed: 0,
        max_latency_ms: None,
        passed: false,
        reason: None,
    };
    let request = match prepare(warmup, vars, base).await {
        Ok(r) => Arc::new(r),
        Err(reason) => {
            report.failed = warmup.requests;
            report.reason = Some(format!("no request sent: {reason}"));
            return report;
        }
    };

    let next = Arc::new(AtomicU32::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..warmup.concurrency {
        let (http, request, next) = (http.clone(), request.clone(), next.clone());
        let (requests, timeout) = (warmup.requests, warmup.timeout);
        workers.spawn(async move {
            let mut tally = Tally::default();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                match attempt::send(&http, &request, timeout).await {
                    Ok(response) => {
                        tally.responded += 1;
                        if (200..300).contains(&response.status) {
                            tally.ok += 1;
                        }
                        tally.max_latency = tally.max_latency.max(Some(response.latency));
                    }
                    Err(reason) => {
                        tally.failed += 1;
                        tally.first_error.get_or_insert(reason);
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(tally) => total.add(tally),
            Err(e) => total.add(Tally {
                first_error: Some(format!("a warm-up worker stopped: {e}")),
                ..Tally::default()
            }),
        }
    }

    report.responded = total.responded;
    report.ok = total.ok;
    report.failed = total.failed;
    report.max_latency_ms = total.max_latency.map(|d| d.as_millis() as u64);
    report.passed = total.responded > 0;
    if let Some(first) = total.first_error {
        report.reason = Some(format!(
            "{} of {} requests got no response; first: {first}",
            total.failed, warmup.requests
        ));
    }
    info!(
        requests = report.requests,
        responded = report.responded,
        ok = report.ok,
        failed = report.failed,
        "warm-up finished"
    );
    report
}

async fn prepare<S: SecretSource, E: EnvSource>(
    warmup: &Warmup,
    vars: &mut Variables<'_, S, E>,
    base: &Result<Url, String>,
) -> Result<Request, String> {
    let needed: Vec<&Var> = warmup
        .url
        .vars()
        .chain(warmup.headers.iter().flat_map(|h| h.value.vars()))
        .collect();
    vars.prepare(&needed).await?;
    let url = request::render(&warmup.url, vars)?;
    request::build(Method::Get, &url, &warmup.headers, None, vars, base)
}
