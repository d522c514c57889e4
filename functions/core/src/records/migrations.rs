//! Database migrations the expand/contract way (`migrations` in the app's
//! config), and their record at `<prefix>/<app>/migrations`.
//!
//! Both colors run against one schema. A release first *expands* it (adds,
//! never drops or renames: the old release keeps serving meanwhile), and
//! *contracts* it (drops what only the old release used) only once the old
//! release can no longer come back: at the end of the warm window, or when a
//! team says so (`bluegreen migrate contract`). From then on a rollback to a
//! release older than the contracted one is refused (`SchemaContracted`).

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The app's migrations: each runs as a one-off ECS task of the release's
/// task definition (same image, the service's network configuration); exit
/// code 0 is success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Migrations {
    /// Runs once the lock is taken and the release's task definition is
    /// registered, before the idle color is updated. Must only add to the
    /// schema. A failure aborts the release, traffic untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub expand: Option<ExpandMigration>,
    /// Runs once no rollback to the previous release remains. Removes what
    /// only the previous release needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub contract: Option<ContractMigration>,
    /// How long one migration task may run (10 s to 6 h; 15 min by
    /// default): then it is stopped and counts as failed.
    #[serde(default = "default_timeout")]
    #[garde(range(min = 10, max = 21_600))]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    900
}

/// The expand step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExpandMigration {
    /// The command the release's container runs instead of its own.
    #[garde(length(min = 1), inner(length(min = 1)))]
    pub command: Vec<String>,
    /// The SQL files this step applies, relative to the repository:
    /// `bluegreen migrations lint --config` checks them for what breaks the
    /// running release (drops, renames, type changes, NOT NULL without a
    /// default), so CI catches it before a release does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(inner(length(min = 1)))]
    pub sql_files: Vec<String>,
}

/// The contract step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ContractMigration {
    /// The command the release's container runs instead of its own.
    #[garde(length(min = 1), inner(length(min = 1)))]
    pub command: Vec<String>,
    /// When it runs: `warm-window-end` (the default: at the end of the
    /// warm window, before the previous color is scaled down) or `manual`
    /// (`bluegreen migrate contract --app <app>`, for a team that keeps the
    /// old release as a rollback target longer).
    #[serde(default)]
    #[garde(skip)]
    pub when: ContractWhen,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ContractWhen {
    #[default]
    WarmWindowEnd,
    Manual,
}

/// Which migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationPhase {
    Expand,
    Contract,
}

impl MigrationPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationPhase::Expand => "expand",
            MigrationPhase::Contract => "contract",
        }
    }
}

impl std::fmt::Display for MigrationPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a migration task ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
}

/// Where a task's output went (its container's `awslogs` configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogStream {
    pub group: String,
    pub stream: String,
    pub region: String,
}

impl LogStream {
    /// The CloudWatch console page of the stream. The console wants the
    /// names percent-encoded, then each `%` written `$25`.
    pub fn url(&self) -> String {
        let console = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace('%', "$25")
        };
        format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
            console(&self.group),
            console(&self.stream),
            region = self.region,
        )
    }
}

/// One migration task of one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRun {
    pub phase: MigrationPhase,
    /// The release: its version and the task definition the task ran.
    pub version: String,
    pub task_definition: String,
    /// Who ran it: the execution ARN, or `cli:<who>` for `bluegreen migrate`.
    pub by: String,
    /// The `startedBy` tag that finds the task again after a lost answer.
    pub started_by: String,
    pub task_arn: String,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogStream>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ended_at: Option<OffsetDateTime>,
}

impl MigrationRun {
    /// The task ended, for good or ill.
    pub fn ended(&self) -> bool {
        self.status != RunStatus::Running
    }
}

/// A migration run as a step's result shows it (the report links its log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    pub task_arn: String,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    /// While it runs: how long the state machine waits before it looks
    /// again (`WaitForExpand`'s and `WaitForContract`'s seconds).
    #[serde(default)]
    pub wait_seconds: u64,
}

impl MigrationReport {
    /// The report of `run` as seen at `now`.
    pub fn of(run: &MigrationRun, now: OffsetDateTime) -> MigrationReport {
        MigrationReport {
            task_arn: run.task_arn.clone(),
            status: run.status,
            exit_code: run.exit_code,
            log_url: run.log.as_ref().map(LogStream::url),
            wait_seconds: next_look(run, now),
        }
    }
}

/// How long the state machine waits before it looks at a running task
/// again: soon at first (a short migration, an emulator's task, is over in
/// seconds), then less often (a Fargate task takes a minute to start, a long
/// migration many), so that a long one costs few state transitions.
pub fn next_look(run: &MigrationRun, now: OffsetDateTime) -> u64 {
    if run.ended() {
        return 0;
    }
    match (now - run.started_at).whole_seconds() {
        ..10 => 3,
        10..60 => 10,
        _ => 20,
    }
}

/// Where the schema stands: the release whose contract ran last, and the
/// task definition the previous color ran then (which can no longer run on
/// the schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contracted {
    pub version: String,
    pub task_definition: String,
    /// What the other color ran when the contract ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_task_definition: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Contracted {
    /// Whether a color running `task_definition` can no longer run on the
    /// schema: the one retired by the contract, or an older revision of the
    /// contracted release's family (ECS numbers a family's revisions in
    /// order of registration).
    pub fn forbids(&self, task_definition: &str) -> bool {
        if self.retired_task_definition.as_deref() == Some(task_definition) {
            return true;
        }
        match (
            family_revision(task_definition),
            family_revision(&self.task_definition),
        ) {
            (Some((family, revision)), Some((contracted, at))) => {
                family == contracted && revision < at
            }
            _ => false,
        }
    }
}

/// `arn:…:task-definition/<family>:<revision>` → (family, revision).
fn family_revision(arn: &str) -> Option<(&str, u64)> {
    let (_, name) = arn.rsplit_once("task-definition/")?;
    let (family, revision) = name.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

/// A contract about to run: written before its task starts, so that a
/// rollback from then on is refused; the task starts only once any rollback
/// that read the records before it can have finished (`settle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractIntent {
    pub by: String,
    pub version: String,
    pub task_definition: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The record: the latest runs (newest last, a few kept) and the schema's
/// position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    #[serde(default)]
    pub runs: Vec<MigrationRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracted: Option<Contracted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_intent: Option<ContractIntent>,
}

/// How many runs the record keeps: enough to read what happened to the last
/// few releases, small enough for a standard parameter (4 KB).
const KEPT_RUNS: usize = 6;

impl MigrationRecord {
    /// The latest run of `phase` for the release running `task_definition`.
    pub fn latest(&self, phase: MigrationPhase, task_definition: &str) -> Option<&MigrationRun> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.phase == phase && r.task_definition == task_definition)
    }

    /// Records `run`, in place of an earlier record of the same task.
    pub fn put(&mut self, run: MigrationRun) {
        self.runs.retain(|r| r.task_arn != run.task_arn);
        self.runs.push(run);
        let extra = self.runs.len().saturating_sub(KEPT_RUNS);
        self.runs.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contracted(td: &str, retired: Option<&str>) -> Contracted {
        Contracted {
            version: "v3".into(),
            task_definition: td.into(),
            retired_version: retired.map(|_| "v2".into()),
            retired_task_definition: retired.map(str::to_string),
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_contract_forbids_the_retired_release_and_older_revisions_of_its_family() {
        let arn = |rev: u32| format!("arn:aws:ecs:us-east-1:1:task-definition/shop:{rev}");
        let c = contracted(&arn(7), Some(&arn(6)));
        assert!(c.forbids(&arn(6)));
        assert!(c.forbids(&arn(3)));
        assert!(!c.forbids(&arn(7)));
        assert!(!c.forbids(&arn(8)));
        assert!(!c.forbids("arn:aws:ecs:us-east-1:1:task-definition/other:1"));
        let other_family = contracted(&arn(7), Some("arn:aws:ecs:us-east-1:1:task-definition/x:9"));
        assert!(other_family.forbids("arn:aws:ecs:us-east-1:1:task-definition/x:9"));
    }

    #[test]
    fn the_record_keeps_the_latest_runs_and_replaces_a_tasks_own() {
        let run = |n: usize, status| MigrationRun {
            phase: MigrationPhase::Expand,
            version: format!("v{n}"),
            task_definition: format!("td:{n}"),
            by: "x".into(),
            started_by: "s".into(),
            task_arn: format!("task/{n}"),
            status,
            exit_code: None,
            reason: None,
            log: None,
            started_at: OffsetDateTime::UNIX_EPOCH,
            ended_at: None,
        };
        let mut record = MigrationRecord::default();
        for n in 0..10 {
            record.put(run(n, RunStatus::Running));
        }
        assert_eq!(record.runs.len(), KEPT_RUNS);
        record.put(run(9, RunStatus::Succeeded));
        assert_eq!(record.runs.len(), KEPT_RUNS);
        let latest = record.latest(MigrationPhase::Expand, "td:9").unwrap();
        assert_eq!(latest.status, RunStatus::Succeeded);
        assert!(record.latest(MigrationPhase::Contract, "td:9").is_none());
    }

    #[test]
    fn the_log_link_is_the_consoles() {
        let log = LogStream {
            group: "/ecs/shop".into(),
            stream: "shop/app/abc".into(),
            region: "eu-west-1".into(),
        };
        assert_eq!(
            log.url(),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fshop/log-events/shop$252Fapp$252Fabc"
        );
    }
}
