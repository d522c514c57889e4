//! The sticky pull-request comment: one per app and pull request, found again
//! by a hidden marker and edited in place on every update.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{GitHub, Replay, shorten};
use super::error::{Method, Result};

/// GitHub rejects comment bodies longer than this.
const MAX_BODY_CHARS: usize = 65_536;

const PER_PAGE: usize = 100;

/// The hidden first line that identifies an app's comment.
pub fn marker(app: &str) -> String {
    format!("<!-- bluegreen:{app} -->")
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

impl GitHub {
    /// Puts `body` in the app's comment on pull request `pr`: edits the
    /// comment if there is one, else creates it. Returns the comment's id.
    pub async fn upsert_comment(&self, pr: u64, app: &str, body: &str) -> Result<u64> {
        let marker = marker(app);
        let body = json!({ "body": shorten(&format!("{marker}\n{body}"), MAX_BODY_CHARS) });
        let mut attempt = 1;
        loop {
            if let Some(id) = self.find_comment(pr, &marker).await? {
                let path = self.repo_path(&format!("/issues/comments/{id}"));
                let _: Value = self
                    .call(Method::Patch, &path, Some(&body), Replay::Always)
                    .await?;
                return Ok(id);
            }
            let path = self.repo_path(&format!("/issues/{pr}/comments"));
            // Posting again blindly after a lost answer could leave two
            // comments: look for the first one before trying again.
            match self
                .call::<Comment>(Method::Post, &path, Some(&body), Replay::IfUnprocessed)
                .await
            {
                Ok(created) => return Ok(created.id),
                Err(e) if e.may_have_landed() && attempt < self.retry_policy().attempts => {
                    tracing::warn!(pr, app, error = %e, "posting the comment failed; checking whether it landed");
                    let wait = self.retry_policy().backoff(attempt);
                    self.retry_policy().sleeper.sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The oldest comment on `pr` that starts with `marker`. Starting with it,
    /// not merely containing it: a reply quoting the comment is not ours.
    async fn find_comment(&self, pr: u64, marker: &str) -> Result<Option<u64>> {
        for page in 1.. {
            let path = self.repo_path(&format!(
                "/issues/{pr}/comments?per_page={PER_PAGE}&page={page}"
            ));
            let comments: Vec<Comment> =
                self.call(Method::Get, &path, None, Replay::Always).await?;
            let found = comments.iter().find(|c| {
                c.body
                    .as_deref()
                    .is_some_and(|b| b.trim_start().starts_with(marker))
            });
            if let Some(c) = found {
                return Ok(Some(c.id));
            }
            if comments.len() < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }
}
