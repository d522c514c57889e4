//! One migration of one release as a one-off ECS task: started once, then
//! looked at on each call (the state machine waits between calls, no Lambda
//! waits), until it ends. What was started is recorded, and found again by
//! its `startedBy` tag when the answer that started it was lost: a migration
//! never runs twice for the same release.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::ports::{OneOffTask, ParameterStore, Services, TaskStatus};
use crate::records::migrations::{MigrationPhase, MigrationRecord, MigrationRun, RunStatus};
use crate::records::store::AppStore;

/// The migration to run or look at.
#[derive(Debug, Clone)]
pub struct MigrationTask<'a> {
    pub app: &'a str,
    pub cluster: &'a str,
    /// The service whose tasks' placement the migration copies.
    pub service: &'a str,
    pub container: &'a str,
    pub phase: MigrationPhase,
    pub command: &'a [String],
    pub version: &'a str,
    pub task_definition: &'a str,
    /// Who runs it (an execution ARN, `cli:<who>`): a failure is final for
    /// them; someone else (a new execution) starts a new attempt.
    pub by: &'a str,
    pub timeout_seconds: u64,
}

/// Where the migration stands after this call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Running(MigrationRun),
    Succeeded(MigrationRun),
}

impl Progress {
    pub fn run(&self) -> &MigrationRun {
        match self {
            Progress::Running(run) | Progress::Succeeded(run) => run,
        }
    }
}

/// What to do, from the record and (for a started task) what ECS says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// Nothing of ours yet: start the task (or find the one whose start
    /// answer was lost).
    Start,
    /// Ours runs: look at it.
    Look(MigrationRun),
    /// Ended: answer from the record.
    Ended(MigrationRun),
}

fn next(record: &MigrationRecord, task: &MigrationTask<'_>) -> Next {
    match record.latest(task.phase, task.task_definition) {
        Some(run) if run.status == RunStatus::Succeeded => Next::Ended(run.clone()),
        Some(run) if run.status == RunStatus::Running => Next::Look(run.clone()),
        // A failure is final for whoever met it: a retried or repeated call
        // of the same execution reports it again; a new execution (a rerun)
        // tries anew.
        Some(run) if run.by == task.by => Next::Ended(run.clone()),
        _ => Next::Start,
    }
}

/// Starts the migration, or looks at it, or reports how it ended, from
/// `record` as the caller's look at the records read it (the world's). Errors
/// with [`Error::MigrationFailed`] once it has failed or run out of time.
pub async fn migrate<W: ParameterStore + Services>(
    aws: &W,
    store: &AppStore<'_, W>,
    mut record: MigrationRecord,
    task: &MigrationTask<'_>,
    now: OffsetDateTime,
) -> Result<Progress> {
    let run = match next(&record, task) {
        Next::Ended(run) => return answer(task, run),
        Next::Start => start(aws, task, now).await?,
        Next::Look(run) => look(aws, task, run, now).await?,
    };
    if record.latest(task.phase, task.task_definition) != Some(&run) {
        record.put(run.clone());
        store.save_migrations(task.app, &record).await?;
    }
    answer(task, run)
}

fn answer(task: &MigrationTask<'_>, run: MigrationRun) -> Result<Progress> {
    match run.status {
        RunStatus::Running => Ok(Progress::Running(run)),
        RunStatus::Succeeded => Ok(Progress::Succeeded(run)),
        RunStatus::Failed | RunStatus::TimedOut => Err(failure(task.app, &run)),
    }
}

/// The error a failed run is reported with: how it ended and its log.
pub fn failure(app: &str, run: &MigrationRun) -> Error {
    let how = match (run.status, run.exit_code) {
        (RunStatus::TimedOut, _) => format!(
            "ran longer than allowed and was stopped (task {})",
            run.task_arn
        ),
        (_, Some(code)) => format!("exited with code {code} (task {})", run.task_arn),
        (_, None) => format!(
            "stopped without an exit code: {} (task {})",
            run.reason.as_deref().unwrap_or("no reason given"),
            run.task_arn
        ),
    };
    Error::MigrationFailed {
        app: app.to_string(),
        phase: run.phase.to_string(),
        version: run.version.clone(),
        how,
        log: run
            .log
            .as_ref()
            .map(|l| format!("; its log: {}", l.url()))
            .unwrap_or_default(),
    }
}

/// The tag and idempotency token of one attempt: the same for a retried call
/// of the same attempt, another for another caller.
fn started_by(task: &MigrationTask<'_>) -> String {
    let digest =
        Sha256::digest([task.app, task.phase.as_str(), task.task_definition, task.by].join("\n"));
    // ECS's `startedBy` takes up to 36 characters.
    format!("bg-{}-{}", task.phase, &hex::encode(digest)[..24])
}

async fn start<W: Services>(
    aws: &W,
    task: &MigrationTask<'_>,
    now: OffsetDateTime,
) -> Result<MigrationRun> {
    let tag = started_by(task);
    // A start whose answer was lost left a task with our tag: that one is
    // ours, and no second one starts. (The client token guards the same
    // within ECS's own window, for a retried RunTask.)
    let task_arn = match aws.find_task(task.cluster, &tag).await? {
        Some(arn) => {
            warn!(app = task.app, phase = %task.phase, %arn, "found the migration task a lost answer started");
            arn
        }
        None => {
            let arn = aws
                .run_task(&OneOffTask {
                    cluster: task.cluster.to_string(),
                    service: task.service.to_string(),
                    task_definition: task.task_definition.to_string(),
                    container: task.container.to_string(),
                    command: task.command.to_vec(),
                    started_by: tag.clone(),
                    client_token: tag.clone(),
                })
                .await?;
            info!(app = task.app, phase = %task.phase, version = task.version, %arn, "started the migration task");
            arn
        }
    };
    Ok(MigrationRun {
        phase: task.phase,
        version: task.version.to_string(),
        task_definition: task.task_definition.to_string(),
        by: task.by.to_string(),
        started_by: tag,
        task_arn,
        status: RunStatus::Running,
        exit_code: None,
        reason: None,
        log: None,
        started_at: now,
        ended_at: None,
    })
}

async fn look<W: Services>(
    aws: &W,
    task: &MigrationTask<'_>,
    mut run: MigrationRun,
    now: OffsetDateTime,
) -> Result<MigrationRun> {
    let status = aws.describe_task(task.cluster, &run.task_arn).await?;
    match status {
        None => {
            run.status = RunStatus::Failed;
            run.reason = Some("ECS no longer knows the task".to_string());
            run.ended_at = Some(now);
        }
        Some(TaskStatus {
            stopped: true,
            exit_code,
            stopped_reason,
            log,
            ..
        }) => {
            run.status = if exit_code == Some(0) {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            run.exit_code = exit_code;
            run.reason = stopped_reason;
            run.log = log;
            run.ended_at = Some(now);
            info!(app = task.app, phase = %task.phase, arn = %run.task_arn, ?exit_code, "the migration task ended");
        }
        Some(running) => {
            run.log = running.log;
            let deadline = run.started_at + std::time::Duration::from_secs(task.timeout_seconds);
            if now >= deadline {
                aws.stop_task(
                    task.cluster,
                    &run.task_arn,
                    &format!(
                        "bluegreen: the {} migration ran longer than {} s",
                        task.phase, task.timeout_seconds
                    ),
                )
                .await?;
                run.status = RunStatus::TimedOut;
                run.reason = Some(format!("ran longer than {} s", task.timeout_seconds));
                run.ended_at = Some(now);
                warn!(app = task.app, phase = %task.phase, arn = %run.task_arn, "stopped the migration task: out of time");
            }
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task<'a>(by: &'a str) -> MigrationTask<'a> {
        MigrationTask {
            app: "shop",
            cluster: "c",
            service: "shop-green",
            container: "app",
            phase: MigrationPhase::Expand,
            command: &[],
            version: "v2",
            task_definition: "td:2",
            by,
            timeout_seconds: 60,
        }
    }

    fn run(by: &str, status: RunStatus) -> MigrationRun {
        MigrationRun {
            phase: MigrationPhase::Expand,
            version: "v2".into(),
            task_definition: "td:2".into(),
            by: by.into(),
            started_by: "t".into(),
            task_arn: "task/1".into(),
            status,
            exit_code: None,
            reason: None,
            log: None,
            started_at: OffsetDateTime::UNIX_EPOCH,
            ended_at: None,
        }
    }

    #[test]
    fn a_success_is_never_repeated_and_a_failure_only_by_someone_else() {
        let mut record = MigrationRecord::default();
        assert_eq!(next(&record, &task("e1")), Next::Start);
        record.put(run("e1", RunStatus::Running));
        assert!(matches!(next(&record, &task("e2")), Next::Look(_)));
        record.put(run("e1", RunStatus::Failed));
        assert!(matches!(next(&record, &task("e1")), Next::Ended(_)));
        assert_eq!(next(&record, &task("e2")), Next::Start);
        record.put(run("e2", RunStatus::Succeeded));
        assert!(matches!(next(&record, &task("e3")), Next::Ended(_)));
    }

    /// ECS and the parameter store in memory: a one-off task ends after
    /// `runs_for` looks, with `exit_code`; the next RunTask's answer can be
    /// lost after its effect (a timeout after the fact).
    #[derive(Default)]
    struct Fake {
        params: std::sync::Mutex<std::collections::HashMap<String, String>>,
        tasks: std::sync::Mutex<Vec<(String, String, usize)>>,
        lose_next_run_answer: std::sync::atomic::AtomicBool,
        runs_for: usize,
        exit_code: i32,
    }

    impl ParameterStore for Fake {
        async fn get(
            &self,
            name: &str,
        ) -> crate::ports::PortResult<Option<crate::ports::Parameter>> {
            Ok(self
                .params
                .lock()
                .unwrap()
                .get(name)
                .map(|v| crate::ports::Parameter {
                    value: v.clone(),
                    version: 1,
                }))
        }
        async fn put(
            &self,
            name: &str,
            value: &str,
            _mode: crate::ports::PutMode,
        ) -> crate::ports::PortResult<crate::ports::PutOutcome> {
            self.params
                .lock()
                .unwrap()
                .insert(name.into(), value.into());
            Ok(crate::ports::PutOutcome::Written)
        }
        async fn delete(&self, name: &str) -> crate::ports::PortResult<()> {
            self.params.lock().unwrap().remove(name);
            Ok(())
        }
    }

    impl Services for Fake {
        async fn describe(
            &self,
            _: &str,
            _: &str,
        ) -> crate::ports::PortResult<crate::ports::ServiceInfo> {
            unreachable!("not a migration's call")
        }
        async fn images(
            &self,
            _: &str,
        ) -> crate::ports::PortResult<Vec<crate::ports::ContainerImage>> {
            unreachable!("not a migration's call")
        }
        async fn register_with_images(
            &self,
            _: &str,
            _: &[crate::ports::ContainerImage],
            _: Option<&crate::ports::RevisionTag>,
        ) -> crate::ports::PortResult<String> {
            unreachable!("not a migration's call")
        }
        async fn update(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: Option<i32>,
        ) -> crate::ports::PortResult<()> {
            unreachable!("not a migration's call")
        }
        async fn run_task(&self, task: &OneOffTask) -> crate::ports::PortResult<String> {
            let mut tasks = self.tasks.lock().unwrap();
            let arn = format!("task/{}", tasks.len() + 1);
            tasks.push((arn.clone(), task.started_by.clone(), 0));
            if self
                .lose_next_run_answer
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                return Err(crate::ports::PortError {
                    operation: "ecs:RunTask",
                    kind: crate::ports::PortErrorKind::Transient,
                    message: "timed out after the effect".into(),
                });
            }
            Ok(arn)
        }
        async fn find_task(
            &self,
            _: &str,
            started_by: &str,
        ) -> crate::ports::PortResult<Option<String>> {
            let tasks = self.tasks.lock().unwrap();
            Ok(tasks
                .iter()
                .rev()
                .find(|t| t.1 == started_by)
                .map(|t| t.0.clone()))
        }
        async fn describe_task(
            &self,
            _: &str,
            arn: &str,
        ) -> crate::ports::PortResult<Option<TaskStatus>> {
            let mut tasks = self.tasks.lock().unwrap();
            let Some(task) = tasks.iter_mut().find(|t| t.0 == arn) else {
                return Ok(None);
            };
            task.2 += 1;
            let stopped = task.2 >= self.runs_for;
            Ok(Some(TaskStatus {
                task_arn: arn.into(),
                stopped,
                exit_code: stopped.then_some(self.exit_code),
                stopped_reason: None,
                log: None,
            }))
        }
        async fn stop_task(&self, _: &str, _: &str, _: &str) -> crate::ports::PortResult<()> {
            Ok(())
        }
    }

    /// One call of the step, as deploy-idle makes it: the record read, then
    /// the migration looked at.
    async fn look(
        fake: &Fake,
        store: &AppStore<'_, Fake>,
        task: &MigrationTask<'_>,
        now: OffsetDateTime,
    ) -> Result<Progress> {
        let record = store.migrations(task.app).await?;
        migrate(fake, store, record, task, now).await
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_start_whose_answer_was_lost_is_found_again_and_nothing_runs_twice() {
        let fake = Fake {
            runs_for: 2,
            ..Fake::default()
        };
        fake.lose_next_run_answer
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let store = AppStore::new(&fake, "/bluegreen").unwrap();
        let now = OffsetDateTime::UNIX_EPOCH;
        let first = block_on(look(&fake, &store, &task("e1"), now));
        assert!(first.is_err(), "the lost answer is a transient error");
        // The state machine's retry: the task the lost answer started is
        // found by its tag, and looked at until it ends.
        let mut answers = vec![];
        for _ in 0..4 {
            answers.push(block_on(look(&fake, &store, &task("e1"), now)).unwrap());
        }
        assert_eq!(fake.tasks.lock().unwrap().len(), 1, "one task, ever");
        assert!(matches!(answers[0], Progress::Running(_)));
        assert!(matches!(answers.last(), Some(Progress::Succeeded(_))));
        // A rerun by another execution: already succeeded, nothing starts.
        let rerun = block_on(look(&fake, &store, &task("e2"), now)).unwrap();
        assert!(matches!(rerun, Progress::Succeeded(_)));
        assert_eq!(fake.tasks.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_failure_is_final_for_its_execution_and_tried_anew_by_the_next() {
        let fake = Fake {
            runs_for: 1,
            exit_code: 3,
            ..Fake::default()
        };
        let store = AppStore::new(&fake, "/bluegreen").unwrap();
        let now = OffsetDateTime::UNIX_EPOCH;
        block_on(look(&fake, &store, &task("e1"), now)).unwrap();
        let failed = block_on(look(&fake, &store, &task("e1"), now)).unwrap_err();
        assert!(
            failed.to_string().contains("exited with code 3"),
            "{failed}"
        );
        // Asked again (a retry of the failed call): the same answer, no task.
        block_on(look(&fake, &store, &task("e1"), now)).unwrap_err();
        assert_eq!(fake.tasks.lock().unwrap().len(), 1);
        // A new execution tries anew.
        block_on(look(&fake, &store, &task("e2"), now)).unwrap();
        assert_eq!(fake.tasks.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_task_past_its_time_is_stopped_and_fails() {
        let fake = Fake {
            runs_for: 1000,
            ..Fake::default()
        };
        let store = AppStore::new(&fake, "/bluegreen").unwrap();
        let start = OffsetDateTime::UNIX_EPOCH;
        block_on(look(&fake, &store, &task("e1"), start)).unwrap();
        let later = start + std::time::Duration::from_secs(61);
        let e = block_on(look(&fake, &store, &task("e1"), later)).unwrap_err();
        assert!(e.to_string().contains("ran longer than allowed"), "{e}");
    }

    #[test]
    fn each_caller_has_its_own_tag_within_ecs_limits() {
        let (a, b) = (started_by(&task("e1")), started_by(&task("e2")));
        assert_ne!(a, b);
        assert_eq!(a, started_by(&task("e1")));
        assert!(a.len() <= 36, "{a}");
    }
}
