//! Where the sticky comment goes on a push run: the pull requests the pushed
//! commit came from, found with "List pull requests associated with a commit".

use serde::Deserialize;

use super::client::{GitHub, Replay};
use super::error::{Method, Result};

/// The pull requests a push run comments on, at most. A commit usually
/// belongs to one (the one merged); a few more are a branch shared by stacked
/// pull requests. Past that the commit is in many open pull requests (a
/// long-lived branch merged into others), and a comment on each of them would
/// be noise and would spend GitHub's limit on content-creating requests.
pub const MAX_PULLS: usize = 3;

/// What started the workflow run, as far as the comment is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// A push of commit `sha`: the comment goes to the pull requests the
    /// commit came from (merged ones included), unless one is named.
    Push { sha: String },
    /// Anything else: the comment goes to the pull request named, if any.
    Other,
}

impl RunEvent {
    /// From `GITHUB_EVENT_NAME` and `GITHUB_SHA`.
    pub fn from_env() -> RunEvent {
        RunEvent::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`RunEvent::from_env`], reading variables through `var`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> RunEvent {
        let sha = var("GITHUB_SHA")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        match (var("GITHUB_EVENT_NAME").as_deref().map(str::trim), sha) {
            (Some("push"), Some(sha)) => RunEvent::Push { sha },
            _ => RunEvent::Other,
        }
    }
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    #[serde(default)]
    state: String,
    #[serde(default)]
    merged_at: Option<String>,
}

impl Pull {
    /// Closed without being merged: nobody follows it any more.
    fn abandoned(&self) -> bool {
        self.state == "closed" && self.merged_at.is_none()
    }
}

impl GitHub {
    /// The open and merged pull requests commit `sha` belongs to, in GitHub's
    /// order, and how many more there were past [`MAX_PULLS`].
    pub async fn pulls_of_commit(&self, sha: &str) -> Result<(Vec<u64>, usize)> {
        // One page: a commit in more than a hundred pull requests gets a
        // comment on the first three either way.
        let path = self.repo_path(&format!("/commits/{sha}/pulls?per_page=100"));
        let pulls: Vec<Pull> = self.call(Method::Get, &path, None, Replay::Always).await?;
        let mut numbers: Vec<u64> = Vec::new();
        for pull in pulls.iter().filter(|p| !p.abandoned()) {
            if !numbers.contains(&pull.number) {
                numbers.push(pull.number);
            }
        }
        let more = numbers.len().saturating_sub(MAX_PULLS);
        numbers.truncate(MAX_PULLS);
        Ok((numbers, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(vars: &[(&str, &str)]) -> RunEvent {
        RunEvent::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_push_needs_the_commit() {
        assert_eq!(
            event(&[("GITHUB_EVENT_NAME", "push"), ("GITHUB_SHA", "3f2c1ab\n")]),
            RunEvent::Push {
                sha: "3f2c1ab".into()
            }
        );
        assert_eq!(event(&[("GITHUB_EVENT_NAME", "push")]), RunEvent::Other);
        assert_eq!(
            event(&[("GITHUB_EVENT_NAME", "push"), ("GITHUB_SHA", " ")]),
            RunEvent::Other
        );
        assert_eq!(
            event(&[
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_SHA", "3f2c1ab")
            ]),
            RunEvent::Other
        );
        assert_eq!(event(&[]), RunEvent::Other);
    }
}
