//! `bluegreen migrate contract`: the contract migration on a person's word,
//! for an app whose config says `when: manual` (or to run a failed one
//! again). The same step the state machine runs at the end of the warm
//! window, under the app's lock, looked at every few seconds until the task
//! ends; `bluegreen migrations lint --config`: the lint over the SQL files
//! an app's expand declares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bluegreen_aws::AwsPorts;
use bluegreen_core::Error;
use bluegreen_core::records::config::AppConfig;
use bluegreen_core::steps::migrate::{ContractOutcome, ContractRequest, contract};

/// How often the CLI looks at a running contract task.
const LOOK_EVERY: Duration = Duration::from_secs(3);

/// Runs the contract of the release serving `app` now and waits for its
/// task, at most `limit`. `by` names who asked (`cli:<who>`): the lock's
/// holder and the run's owner.
pub async fn run_contract(
    ports: &AwsPorts,
    app: &str,
    by: &str,
    settle_seconds: u64,
    limit: Duration,
    mut progress: impl FnMut(&ContractOutcome),
) -> Result<ContractOutcome, Error> {
    let deadline = tokio::time::Instant::now() + limit;
    let request = ContractRequest {
        app,
        by,
        scheduled: false,
        migrations: None,
        settle_seconds,
    };
    loop {
        let outcome = contract(ports, &request, time::OffsetDateTime::now_utc()).await?;
        if !outcome.migrating || tokio::time::Instant::now() >= deadline {
            return Ok(outcome);
        }
        progress(&outcome);
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Who runs the command, for the lock and the record: the GitHub actor in
/// a workflow, the login elsewhere; and when, so that each run of the
/// command is its own attempt (a failure is final only for the attempt that
/// met it).
pub fn who(by: Option<&str>) -> String {
    let name = by
        .map(str::to_string)
        .or_else(|| std::env::var("GITHUB_ACTOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "someone".to_string());
    format!(
        "cli:{name}:{}",
        time::OffsetDateTime::now_utc().unix_timestamp()
    )
}

/// The SQL files an app's config declares for its expand
/// (`migrations.expand.sql_files`), relative to the current directory (the
/// repository's root in CI).
pub fn declared_sql_files(config: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string(config)
        .map_err(|e| format!("{}: cannot read: {e}", config.display()))?;
    let source = config.display().to_string();
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{source}: not JSON: {e}"))?;
    let app = value["app"].as_str().unwrap_or_default().to_string();
    let parsed = AppConfig::parse(&app, &source, &text).map_err(|e| e.to_string())?;
    let files: Vec<PathBuf> = parsed
        .migrations
        .and_then(|m| m.expand)
        .map(|e| e.sql_files.into_iter().map(PathBuf::from).collect())
        .unwrap_or_default();
    if files.is_empty() {
        return Err(format!(
            "{source} declares no SQL files to lint: set migrations.expand.sql_files"
        ));
    }
    Ok(files)
}
