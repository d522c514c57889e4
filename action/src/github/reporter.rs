//! One deployment's reporting from start to end, in the order the CLI meets
//! it: the GitHub deployment before the execution (its id goes into the
//! execution input), `in_progress` once the execution exists, comment updates
//! while it runs, and the final status, comment and job summary.
//!
//! The comment goes to the pull request named (`BLUEGREEN_PR`, set on
//! `pull_request` runs) or, on a push run, to the pull requests the pushed
//! commit came from: most teams deploy on push to the default branch, after
//! the merge, and that is where the pull request's readers look.

use std::path::PathBuf;

use serde_json::Value;

use crate::timeline::{Ending, Step};

use super::client::GitHub;
use super::console::console_url;
use super::deployments::DeploymentState;
use super::error::Result;
use super::outcome::Outcome;
use super::pulls::{MAX_PULLS, RunEvent};
use super::render::render_report;
use super::summary::write_summary;

/// What is deployed, and where it is reported.
#[derive(Debug, Clone)]
pub struct Release {
    pub app: String,
    pub version: String,
    /// The commit the GitHub deployment is for.
    pub sha: String,
    pub environment: String,
    /// `production_environment` of the deployment; see [`super::production_like`].
    pub production: bool,
    /// The pull request that gets the sticky comment, if any. Without one,
    /// a push run finds the pull requests of its commit (see [`RunEvent`]).
    pub pr: Option<u64>,
    /// The job summary file (`$GITHUB_STEP_SUMMARY`), if there is one.
    pub summary_path: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Reporter {
    github: GitHub,
    release: Release,
    deployment_id: u64,
    console_url: Option<String>,
    /// Where the sticky comment goes.
    pulls: Vec<u64>,
}

impl Reporter {
    /// Creates the GitHub deployment — or, when `payload` names the execution
    /// (`execution_name`) and an earlier try of this CI step already created
    /// its deployment, reports on that one, so a retried step does not leave
    /// a second deployment of the same release behind.
    ///
    /// The run's event is read from `GITHUB_EVENT_NAME` and `GITHUB_SHA`; see
    /// [`Reporter::create_for`].
    pub async fn create(github: GitHub, release: Release, payload: Value) -> Result<Reporter> {
        Reporter::create_for(github, release, payload, &RunEvent::from_env()).await
    }

    /// Like [`Reporter::create`], for a run started by `event`. On a push
    /// with no pull request named, the comment goes to the pull requests the
    /// commit came from; when they cannot be found, there is a warning and no
    /// comment, never an error: reporting does not stop a deployment.
    pub async fn create_for(
        github: GitHub,
        release: Release,
        payload: Value,
        event: &RunEvent,
    ) -> Result<Reporter> {
        let existing = match payload["execution_name"].as_str() {
            Some(name) => {
                github
                    .find_deployment(&release.sha, &release.environment, name)
                    .await?
            }
            None => None,
        };
        let deployment_id = match existing {
            Some(id) => id,
            None => {
                github
                    .create_deployment(
                        &release.sha,
                        &release.environment,
                        &format!("{} {}", release.app, release.version),
                        payload,
                        release.production,
                    )
                    .await?
            }
        };
        let pulls = match (release.pr, event) {
            (Some(pr), _) => vec![pr],
            (None, RunEvent::Push { sha }) => pulls_to_comment_on(&github, sha).await,
            (None, RunEvent::Other) => vec![],
        };
        Ok(Reporter {
            github,
            release,
            deployment_id,
            console_url: None,
            pulls,
        })
    }

    /// For the execution input's `github.deployment_id`.
    pub fn deployment_id(&self) -> u64 {
        self.deployment_id
    }

    /// The execution has started: `in_progress` with a link to it, and the
    /// comment says so.
    pub async fn started(&mut self, execution_arn: &str) -> Result<()> {
        self.console_url = console_url(execution_arn);
        self.github
            .set_status(
                self.deployment_id,
                DeploymentState::InProgress,
                self.console_url.as_deref(),
                None,
                &format!("deploying {}", self.release.version),
            )
            .await?;
        self.comment(&self.report(&[], None, None)).await
    }

    /// Names the execution for the statuses' link, without posting anything
    /// (`bluegreen report`: the deployment may be past `in_progress`).
    pub fn set_execution(&mut self, execution_arn: &str) {
        self.console_url = console_url(execution_arn);
    }

    /// Brings the comment up to date while the execution runs.
    pub async fn progress(&self, steps: &[Step], doc: Option<&Value>) -> Result<()> {
        self.comment(&self.report(steps, None, doc)).await
    }

    /// The final status (and, after a success, retiring the deployments this
    /// one replaced), the comment and the job summary. Each is attempted even
    /// if one before it failed; the first error is returned.
    pub async fn finished(
        &self,
        steps: &[Step],
        ending: Option<&Ending>,
        doc: Option<&Value>,
        environment_url: Option<&str>,
    ) -> Result<Outcome> {
        let outcome = Outcome::of(steps, ending);
        let report = self.report(steps, ending, doc);
        let mut results = Vec::new();
        if outcome != Outcome::InProgress {
            let live = outcome == Outcome::Succeeded;
            results.push(
                self.github
                    .set_status(
                        self.deployment_id,
                        outcome.deployment_state(),
                        self.console_url.as_deref(),
                        environment_url.filter(|_| live),
                        &self.describe(outcome, ending),
                    )
                    .await,
            );
            // Only a release that went live replaces the others: after a
            // rollback the previous deployment serves production again.
            if live {
                results.push(
                    self.github
                        .mark_previous_inactive(
                            &self.release.environment,
                            &self.release.app,
                            self.deployment_id,
                        )
                        .await
                        .map(drop),
                );
            }
        }
        results.push(self.comment(&report).await);
        if let Some(path) = &self.release.summary_path {
            results.push(write_summary(path, &report));
        }
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(outcome)
    }

    fn report(&self, steps: &[Step], ending: Option<&Ending>, doc: Option<&Value>) -> String {
        render_report(
            &self.release.app,
            &self.release.version,
            steps,
            ending,
            doc,
            self.console_url.as_deref(),
        )
    }

    /// The same comment on each pull request; each is attempted, and the
    /// first error is returned.
    async fn comment(&self, report: &str) -> Result<()> {
        let mut first_error = None;
        for &pr in &self.pulls {
            if let Err(e) = self
                .github
                .upsert_comment(pr, &self.release.app, report)
                .await
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn describe(&self, outcome: Outcome, ending: Option<&Ending>) -> String {
        let version = &self.release.version;
        match outcome {
            Outcome::InProgress => format!("deploying {version}"),
            Outcome::WaitingApproval => format!("{version} waits for approval"),
            Outcome::WaitingWindow => format!("{version} waits for its release window"),
            Outcome::FollowingTimedOut => {
                format!("{version}: no longer followed; the execution goes on (see its link)")
            }
            Outcome::Succeeded => format!("{version} is live"),
            Outcome::RolledBack => format!("{version} was rolled back"),
            // A rollback stops the execution with its reason as the cause.
            Outcome::Aborted => match ending.and_then(|e| e.cause.as_deref()) {
                Some(cause) => format!("{version} was stopped: {cause}"),
                None => format!("{version}: the execution was stopped"),
            },
            Outcome::Failed => match ending.and_then(|e| e.error.as_deref()) {
                Some(error) => format!("{version} failed: {error}"),
                None => format!("{version} failed"),
            },
        }
    }
}

/// The pull requests commit `sha` came from, or none (with a warning) when
/// GitHub cannot say.
async fn pulls_to_comment_on(github: &GitHub, sha: &str) -> Vec<u64> {
    match github.pulls_of_commit(sha).await {
        Ok((pulls, more)) => {
            if more > 0 {
                println!(
                    "commit {sha} belongs to {} open or merged pull requests; commenting on the first {MAX_PULLS}: {pulls:?}",
                    pulls.len() + more
                );
            }
            pulls
        }
        Err(e) => {
            crate::ci::warning(&format!(
                "could not find the pull requests of commit {sha}, so none gets the deployment comment (the deployment goes on): {e}"
            ));
            Vec::new()
        }
    }
}
