//! The database section of the report: the release's expand and contract
//! migrations (each task, how it ended, its log) and the previous color's
//! size through the warm window (both colors hold connections meanwhile).

use bluegreen_core::records::migrations::{MigrationReport, RunStatus};
use bluegreen_core::steps::migrate::ContractOutcome;
use bluegreen_core::steps::scale_down::warm::WarmCapacity;
use serde_json::Value;

use super::markdown::{cell, code};

/// The section, when the release has anything of it.
pub(crate) fn section(doc: &Value) -> Option<String> {
    let expand: Option<MigrationReport> =
        serde_json::from_value(doc["deploy"]["expand"].clone()).ok();
    let contract: Option<ContractOutcome> = serde_json::from_value(doc["contract"].clone()).ok();
    let warm: Option<WarmCapacity> =
        serde_json::from_value(doc["release_lock"]["warm_capacity"].clone()).ok();
    let contract = contract.filter(|c| c.task_arn.is_some() || c.contracted);
    if expand.is_none() && contract.is_none() && warm.is_none() {
        return None;
    }
    let mut out = String::from("#### Database\n\n");
    if expand.is_some() || contract.is_some() {
        out.push_str("| migration | task | result | log |\n|---|---|---|---|\n");
        if let Some(e) = &expand {
            out.push_str(&row("expand", &e.task_arn, status(e), e.log_url.as_deref()));
        }
        if let Some(c) = &contract {
            let result = match (c.migrating, c.contracted) {
                (true, _) => "running".to_string(),
                (_, true) => {
                    "schema contracted: a rollback to the release before is refused".to_string()
                }
                _ => c.skipped.clone().unwrap_or_default(),
            };
            out.push_str(&row(
                "contract",
                c.task_arn.as_deref().unwrap_or("-"),
                result,
                c.log_url.as_deref(),
            ));
        }
        out.push('\n');
    }
    if let Some(w) = warm {
        out.push_str(&format!(
            "Through the warm window the previous color ({}) keeps {} task(s).\n\n",
            w.color, w.desired
        ));
    }
    Some(out)
}

fn status(report: &MigrationReport) -> String {
    match (report.status, report.exit_code) {
        (RunStatus::Running, _) => "running".into(),
        (RunStatus::Succeeded, _) => "succeeded".into(),
        (RunStatus::TimedOut, _) => "timed out (stopped)".into(),
        (RunStatus::Failed, Some(code)) => format!("failed: exit code {code}"),
        (RunStatus::Failed, None) => "failed".into(),
    }
}

fn row(name: &str, task: &str, result: String, log: Option<&str>) -> String {
    let id = task.rsplit('/').next().unwrap_or(task);
    let log = log.map_or("-".to_string(), |url| format!("[log]({url})"));
    format!("| {name} | {} | {} | {log} |\n", code(id), cell(&result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_each_migration_with_its_log_and_the_warm_size() {
        let doc = json!({
            "deploy": {"expand": {"task_arn": "arn:aws:ecs:us-east-1:1:task/c/abc", "status": "succeeded",
                                  "exit_code": 0, "log_url": "https://console/x", "wait_seconds": 0}},
            "contract": {"migrating": false, "wait_seconds": 0, "contracted": true,
                         "task_arn": "arn:aws:ecs:us-east-1:1:task/c/def"},
            "release_lock": {"holder": "x", "released": true, "warm_capacity": {"color": "blue", "desired": 1}},
        });
        let text = section(&doc).unwrap();
        assert!(
            text.contains("| expand | `abc` | succeeded | [log](https://console/x) |"),
            "{text}"
        );
        assert!(
            text.contains("| contract | `def` | schema contracted"),
            "{text}"
        );
        assert!(
            text.contains("the previous color (blue) keeps 1 task(s)"),
            "{text}"
        );
        assert_eq!(section(&json!({"deploy": {"app": "a"}})), None);
    }
}
