//! GitHub Deployments: one per release, its statuses, and retiring the
//! deployments it replaced.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{GitHub, Replay, shorten};
use super::error::{Method, Result};

/// GitHub keeps at most this many characters of a status description.
pub const MAX_DESCRIPTION_CHARS: usize = 140;

/// Deployments and statuses asked for per page.
const PER_PAGE: usize = 100;

/// How many pages of an environment's deployments a rollback looks through
/// for the release it undid: the one it undid is recent, and a busy
/// environment's history is long.
const MAX_RELEASE_PAGES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    InProgress,
    Success,
    Failure,
    Error,
    Inactive,
}

impl DeploymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
            DeploymentState::Error => "error",
            DeploymentState::Inactive => "inactive",
        }
    }
}

/// Whether an environment name reads as production (`production`, `prod`,
/// `production-eu`, `prod/us`, …): the default for `production_environment`.
pub fn production_like(environment: &str) -> bool {
    let name = environment.to_ascii_lowercase();
    ["production", "prod"].iter().any(|p| {
        name.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_', '/', '.', ' ']))
    })
}

#[derive(Deserialize)]
struct Created {
    id: u64,
}

#[derive(Deserialize)]
struct Listed {
    id: u64,
    #[serde(default)]
    payload: Value,
}

#[derive(Deserialize)]
struct Status {
    state: String,
}

impl GitHub {
    /// Creates a deployment of `sha` to `environment` and returns its id.
    pub async fn create_deployment(
        &self,
        sha: &str,
        environment: &str,
        description: &str,
        payload: Value,
        production: bool,
    ) -> Result<u64> {
        let body = json!({
            "ref": sha,
            "task": "deploy",
            "environment": environment,
            "description": shorten(description, MAX_DESCRIPTION_CHARS),
            "payload": payload,
            // The commit was built and tested already; merging the default
            // branch in or waiting for checks is not this action's business.
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": false,
            "production_environment": production,
        });
        // A repeat after a lost answer may leave a second deployment for the
        // same commit; the next success marks it inactive like any older one.
        let created: Created = self
            .call(
                Method::Post,
                &self.repo_path("/deployments"),
                Some(&body),
                Replay::Always,
            )
            .await?;
        Ok(created.id)
    }

    /// The deployment of `sha` to `environment` whose payload names
    /// `execution_name`: the one an earlier try of the same CI step created.
    pub async fn find_deployment(
        &self,
        sha: &str,
        environment: &str,
        execution_name: &str,
    ) -> Result<Option<u64>> {
        let path = self.repo_path(&format!(
            "/deployments?sha={}&environment={}&per_page={PER_PAGE}",
            encode(sha),
            encode(environment)
        ));
        let listed: Vec<Listed> = self.call(Method::Get, &path, None, Replay::Always).await?;
        Ok(listed
            .into_iter()
            .find(|d| d.payload["execution_name"] == execution_name)
            .map(|d| d.id))
    }

    /// Adds a status to deployment `id`.
    pub async fn set_status(
        &self,
        id: u64,
        state: DeploymentState,
        log_url: Option<&str>,
        environment_url: Option<&str>,
        description: &str,
    ) -> Result<()> {
        let mut body = json!({
            "state": state.as_str(),
            "description": shorten(description, MAX_DESCRIPTION_CHARS),
            // Older deployments are retired by `mark_previous_inactive`, and
            // only after a success: after a rollback the previous deployment
            // is what serves production again.
            "auto_inactive": false,
        });
        if let Some(url) = log_url {
            body["log_url"] = url.into();
        }
        if let Some(url) = environment_url {
            body["environment_url"] = url.into();
        }
        let _: Value = self
            .call(
                Method::Post,
                &self.repo_path(&format!("/deployments/{id}/statuses")),
                Some(&body),
                Replay::Always,
            )
            .await?;
        Ok(())
    }

    /// Marks inactive `app`'s deployments to `environment` older than
    /// `keep_id` that are not inactive yet; returns their ids. Twice is the
    /// same as once. Other apps' deployments to the same environment (a
    /// monorepo), and deployments whose payload names no app of ours, are
    /// left alone: they may be what serves.
    ///
    /// GitHub lists newest first. The walk stops at the first older deployment
    /// of the app that is already inactive: everything older was retired
    /// before it, because retiring goes oldest first (so an interrupted run
    /// leaves no gap).
    pub async fn mark_previous_inactive(
        &self,
        environment: &str,
        app: &str,
        keep_id: u64,
    ) -> Result<Vec<u64>> {
        let mut active = Vec::new();
        'pages: for page in 1.. {
            let path = self.repo_path(&format!(
                "/deployments?environment={}&per_page={PER_PAGE}&page={page}",
                encode(environment)
            ));
            let deployments: Vec<Listed> =
                self.call(Method::Get, &path, None, Replay::Always).await?;
            let this_apps = |d: &&Listed| d.id < keep_id && d.payload["app"] == app;
            for d in deployments.iter().filter(this_apps) {
                if self.latest_state(d.id).await?.as_deref() == Some("inactive") {
                    break 'pages;
                }
                active.push(d.id);
            }
            if deployments.len() < PER_PAGE {
                break;
            }
        }
        for &id in active.iter().rev() {
            self.set_status(
                id,
                DeploymentState::Inactive,
                None,
                None,
                "replaced by a newer deployment",
            )
            .await?;
        }
        active.reverse();
        Ok(active)
    }

    /// Marks the deployment of `app` `version` to `environment` failed after
    /// a rollback took production away from it, with `reason` in the
    /// description; returns its id, or `None` when there is no such
    /// deployment. Without a version, the app's newest deployment there.
    ///
    /// `failure`, not `inactive`: `inactive` is what a deployment becomes
    /// when a newer one replaces it, which would read as routine; `failure`
    /// says the release did not hold, as the action says of a release the
    /// monitor rolled back. The other deployments are left as they are
    /// (`auto_inactive: false`): the one serving again stays `inactive`.
    ///
    /// The deployment is found by the payload the action gives it (`app`,
    /// `version`), newest first, so that another app's deployments to the same
    /// environment, or a newer release of this one that never went live, are
    /// not the ones marked.
    pub async fn mark_rolled_back(
        &self,
        environment: &str,
        app: &str,
        version: Option<&str>,
        reason: &str,
    ) -> Result<Option<u64>> {
        let Some(id) = self.find_release(environment, app, version).await? else {
            return Ok(None);
        };
        let description = match version {
            Some(version) => format!("{version} was rolled back: {reason}"),
            None => format!("rolled back: {reason}"),
        };
        self.set_status(id, DeploymentState::Failure, None, None, &description)
            .await?;
        Ok(Some(id))
    }

    /// The newest deployment to `environment` whose payload names `app` (and
    /// `version`, when given). Looks through [`MAX_RELEASE_PAGES`] pages.
    async fn find_release(
        &self,
        environment: &str,
        app: &str,
        version: Option<&str>,
    ) -> Result<Option<u64>> {
        for page in 1..=MAX_RELEASE_PAGES {
            let path = self.repo_path(&format!(
                "/deployments?environment={}&per_page={PER_PAGE}&page={page}",
                encode(environment)
            ));
            let listed: Vec<Listed> = self.call(Method::Get, &path, None, Replay::Always).await?;
            let found = listed.iter().find(|d| {
                d.payload["app"] == app && version.is_none_or(|v| d.payload["version"] == v)
            });
            if let Some(d) = found {
                return Ok(Some(d.id));
            }
            if listed.len() < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }

    /// The state of a deployment's newest status, if it has any.
    async fn latest_state(&self, id: u64) -> Result<Option<String>> {
        let statuses: Vec<Status> = self
            .call(
                Method::Get,
                &self.repo_path(&format!("/deployments/{id}/statuses?per_page=1")),
                None,
                Replay::Always,
            )
            .await?;
        Ok(statuses.into_iter().next().map(|s| s.state))
    }
}

/// Percent-encodes a query value (environment names may hold spaces or `&`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_like_names() {
        for name in ["production", "Prod", "production-eu", "prod/us", "prod_2"] {
            assert!(production_like(name), "{name}");
        }
        for name in [
            "staging",
            "preview",
            "products",
            "pre-prod",
            "productionish",
        ] {
            assert!(!production_like(name), "{name}");
        }
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("prod eu&x/y"), "prod%20eu%26x%2Fy");
        assert_eq!(encode("staging-1.a_b~"), "staging-1.a_b~");
    }
}
