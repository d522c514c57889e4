//! `bluegreen smoke`: run a smoke-test spec from this machine against any
//! URL, with the runner, secret masking and report of the smoke-test Lambda.
//!
//! `{{env.NAME}}` comes from this process's environment, as the Lambda's from
//! its own. `{{ssm:/name}}` values are read before any request: from
//! `--ssm /name=VALUE` when given, else from SSM when an AWS region is
//! configured (the usual AWS environment or profile), else the run is refused
//! naming the placeholder. Without an app there is no route check: the tests
//! run against the base URL as given.

use std::collections::HashMap;
use std::path::PathBuf;

use bluegreen_core::ports::ParameterStore;
use bluegreen_smoke::{ProcessEnv, Runner, SecretError, SecretSource, SmokeReport, Spec};

#[derive(Debug, Clone)]
pub struct SmokeArgs {
    pub spec: PathBuf,
    pub base_url: String,
    /// What `{{version}}` stands for.
    pub version: Option<String>,
    /// `--ssm NAME=VALUE`, as given.
    pub ssm: Vec<String>,
}

/// Reads and parses the spec file; the error names the file, then the field
/// and line as the spec parser reports them.
pub fn read_spec(path: &std::path::Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the smoke-test spec {}: {e}", path.display()))?;
    bluegreen_smoke::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the spec. `Err` is bad input (exit 2), found before any request is
/// sent; a failing test is in the report (exit 1).
pub async fn run(args: &SmokeArgs) -> Result<SmokeReport, String> {
    let spec = read_spec(&args.spec)?;
    match reqwest::Url::parse(&args.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => {
            return Err(format!(
                "--base-url `{}` is not an http(s) URL, e.g. http://localhost:8080",
                args.base_url
            ));
        }
    }
    let secrets = LocalSecrets::resolve(&spec, &args.spec, &args.ssm).await?;
    let http = bluegreen_smoke::http_client().map_err(|e| format!("HTTP client: {e}"))?;
    let mut runner = Runner::new(&http, &secrets, &ProcessEnv);
    if let Some(v) = &args.version {
        runner = runner.with_version(v);
    }
    Ok(runner.run(&spec, &args.base_url).await)
}

/// `{{ssm:*}}` values, all read before the run.
struct LocalSecrets {
    values: HashMap<String, String>,
}

impl LocalSecrets {
    async fn resolve(
        spec: &Spec,
        file: &std::path::Path,
        given: &[String],
    ) -> Result<LocalSecrets, String> {
        let mut values = HashMap::new();
        for pair in given {
            let Some((name, value)) = pair.split_once('=').filter(|(n, _)| !n.is_empty()) else {
                // Not echoed: what was given may be the secret itself.
                return Err(
                    "--ssm takes NAME=VALUE, e.g. --ssm /bluegreen/checkout/smoke-token=VALUE"
                        .to_string(),
                );
            };
            values.insert(name.to_string(), value.to_string());
        }
        let mut missing: Vec<(String, &str)> = Vec::new();
        for (field, name) in spec.parameters() {
            if !values.contains_key(name) && !missing.iter().any(|(_, n)| *n == name) {
                missing.push((field, name));
            }
        }
        if missing.is_empty() {
            return Ok(LocalSecrets { values });
        }
        let how = |name: &str| format!("give its value with --ssm {name}=VALUE");
        let sdk = bluegreen_aws::sdk_config().await;
        let Some(region) = sdk.region().map(ToString::to_string) else {
            let problems: Vec<String> = missing
                .iter()
                .map(|(field, name)| {
                    format!(
                        "{}: `{{{{ssm:{name}}}}}` at `{field}` cannot be read without AWS (no region is configured): {}, or configure AWS (AWS_REGION and credentials) to read it from SSM",
                        file.display(),
                        how(name)
                    )
                })
                .collect();
            return Err(problems.join("\n"));
        };
        let params = bluegreen_aws::ssm(&sdk);
        for (field, name) in missing {
            let problem = match params.get(name).await {
                Ok(Some(p)) => {
                    values.insert(name.to_string(), p.value);
                    continue;
                }
                Ok(None) => format!("SSM parameter {name} does not exist in {region}"),
                Err(e) => format!("could not read SSM parameter {name} in {region}: {e}"),
            };
            return Err(format!(
                "{}: `{{{{ssm:{name}}}}}` at `{field}`: {problem}; {}",
                file.display(),
                how(name)
            ));
        }
        Ok(LocalSecrets { values })
    }
}

impl SecretSource for LocalSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        Ok(self.values.get(name).cloned())
    }
}

/// One line per check (name, request, status, result, time, why it did not
/// pass), then the warm-up and the totals. Every string is already masked.
pub fn render(report: &SmokeReport) -> String {
    let rows: Vec<[String; 6]> = report
        .tests
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                format!("{} {}", t.method, path_of(&t.url, &report.base_url)),
                t.status.map_or_else(|| "-".to_string(), |s| s.to_string()),
                match (t.passed, t.skipped) {
                    (true, _) => "pass",
                    (false, true) => "skip",
                    (false, false) => "FAIL",
                }
                .to_string(),
                t.latency_ms
                    .map_or_else(|| "-".to_string(), |ms| format!("{ms} ms")),
                t.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["CHECK", "REQUEST", "STATUS", "RESULT", "TIME", "WHY"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (w, cell) in widths.iter().zip(row) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        line.push_str(&row[5]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if let Some(w) = &report.warmup {
        out.push_str(&format!(
            "warm-up: {} requests, {} answered ({} 2xx), {} without an answer{}\n",
            w.requests,
            w.responded,
            w.ok,
            w.failed,
            w.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    let t = &report.totals;
    out.push_str(&format!(
        "{}: {} passed, {} failed, {} skipped against {}\n",
        if report.passed { "passed" } else { "FAILED" },
        t.passed,
        t.failed,
        t.skipped,
        report.base_url
    ));
    out
}

/// The path and query of `url`, which the table shows after the method; the
/// URL as it is when it is not one (a spec's URL that could not be filled in).
fn path_of(url: &str, base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix(base)
        && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    {
        return if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        };
    }
    match reqwest::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_relative_to_the_base_url() {
        assert_eq!(
            path_of("http://h:1/health?x=***", "http://h:1/"),
            "/health?x=***"
        );
        assert_eq!(path_of("http://h:1", "http://h:1"), "/");
        assert_eq!(path_of("http://h:1/a/b", "http://other"), "/a/b");
        assert_eq!(
            path_of("{{base_url}}/x/{{tok}}", "http://h"),
            "{{base_url}}/x/{{tok}}"
        );
    }
}
