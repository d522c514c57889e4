//! What people hear of a release in their chat: one [`Notice`] per event,
//! rendered three ways. The alert topic gets it in the AWS Chatbot (Amazon Q
//! Developer in chat applications) custom-notification format, so a team
//! that routes the topic to Slack, Teams or Chime reads it with no new
//! secret; a Slack-compatible incoming webhook gets Slack's `text`/`blocks`;
//! a generic webhook gets plain JSON (signed like the hooks when the app has
//! a hooks secret). Sending never fails a step: a failed send is logged and
//! reported in the step's result.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ports::{HookSender, HookTarget, ParameterStore};
use crate::records::config::AppConfig;
use crate::records::hooks::SECRET_LEAF;
use crate::records::notifications::{NoticeKind, SLACK_URL_LEAF, WEBHOOK_URL_LEAF};
use crate::records::store::AppStore;
use crate::steps::hooks::{DELIVERY_HEADER, SIGNATURE_HEADER, signature};

/// How long a chat webhook may take: a notice never holds up a step longer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(3);

/// One event, in words and facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub app: String,
    /// One line: `checkout rolled back to blue (v1)`.
    pub title: String,
    /// What happened and why, a few sentences.
    pub description: String,
    /// What a person can do now (commands, links).
    pub next_steps: Vec<String>,
    /// The execution the event belongs to (threads a release's notices).
    pub execution_arn: Option<String>,
    /// The facts behind the words, for machines (`additionalContext`; the
    /// generic webhook's `facts`).
    pub facts: BTreeMap<String, String>,
    pub at: OffsetDateTime,
}

impl Notice {
    pub fn new(
        kind: NoticeKind,
        app: &str,
        title: String,
        description: String,
        at: OffsetDateTime,
    ) -> Notice {
        Notice {
            kind,
            app: app.to_string(),
            title,
            description,
            next_steps: vec![],
            execution_arn: None,
            facts: BTreeMap::new(),
            at,
        }
    }

    /// Adds a fact when it has a value.
    pub fn fact(mut self, key: &str, value: Option<impl ToString>) -> Notice {
        if let Some(v) = value {
            self.facts.insert(key.to_string(), v.to_string());
        }
        self
    }

    pub fn next_step(mut self, step: impl Into<String>) -> Notice {
        self.next_steps.push(step.into());
        self
    }

    pub fn execution(mut self, arn: Option<&str>) -> Notice {
        self.execution_arn = arn.map(str::to_string);
        self
    }

    fn at_text(&self) -> String {
        self.at.format(&Rfc3339).unwrap_or_default()
    }

    /// The AWS Chatbot custom-notification event (its documented schema:
    /// `version` 1.0, `source` custom, `content` with the text, `metadata`
    /// with string-valued `additionalContext`).
    pub fn chatbot(&self) -> Value {
        let mut context: BTreeMap<String, String> = self.facts.clone();
        context.insert("app".into(), self.app.clone());
        context.insert("event".into(), self.kind.as_str().into());
        context.insert("at".into(), self.at_text());
        let mut metadata = json!({
            "threadId": self.execution_arn.clone().unwrap_or_else(|| format!("bluegreen-{}", self.app)),
            "summary": self.title,
            "eventType": self.kind.as_str(),
            "additionalContext": context,
        });
        if let Some(arn) = &self.execution_arn {
            metadata["relatedResources"] = json!([arn]);
        }
        let mut content = json!({
            "textType": "client-markdown",
            "title": self.title,
            "description": self.description,
            "keywords": ["bluegreen", self.app, self.kind.as_str()],
        });
        if !self.next_steps.is_empty() {
            content["nextSteps"] = json!(self.next_steps);
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": format!("{}/{}/{}", self.app, self.kind.as_str(), self.at.unix_timestamp()),
            "content": content,
            "metadata": metadata,
        })
    }

    /// A Slack incoming webhook's body (Mattermost and Rocket.Chat read the
    /// same `text`).
    pub fn slack(&self) -> Value {
        let mut text = format!("*{}*\n{}", self.title, self.description);
        for step in &self.next_steps {
            text.push_str(&format!("\n• {step}"));
        }
        let context: Vec<String> = std::iter::once(format!("`{}`", self.kind.as_str()))
            .chain(
                self.execution_arn
                    .iter()
                    .map(|a| format!("execution `{a}`")),
            )
            .collect();
        json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context.join(" · ")}]},
            ],
        })
    }

    /// The generic webhook's body.
    pub fn json(&self) -> Value {
        json!({
            "event": self.kind.as_str(),
            "app": self.app,
            "title": self.title,
            "description": self.description,
            "next_steps": self.next_steps,
            "execution_arn": self.execution_arn,
            "facts": self.facts,
            "at": self.at_text(),
        })
    }
}

/// What an alert on the topic says, as one object: its facts
/// (`additionalContext`) with its `title` and its `description` as
/// `summary`. For tests and tools that read the topic.
pub fn alert_facts(message: &Value) -> Value {
    let mut facts = message["metadata"]["additionalContext"].clone();
    if !facts.is_object() {
        return message.clone();
    }
    facts["summary"] = message["content"]["description"].clone();
    facts["title"] = message["content"]["title"].clone();
    facts
}

/// A step's result with the chat notices it sent (flattened: readers of
/// the result see its own fields, and `notices` beside them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notified<T> {
    #[serde(flatten)]
    pub result: T,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeSent>,
}

pub use crate::document::outcomes::NoticeSent;

/// Sends `notice` to the app's chat webhooks, when its config names them
/// and wants this kind of event. The URLs are read from their SecureStrings
/// and appear in no log, error or result. Never fails.
pub async fn send_to_chat<P, H>(
    params: &P,
    prefix: &str,
    sender: &H,
    config: &AppConfig,
    notice: &Notice,
) -> Vec<NoticeSent>
where
    P: ParameterStore,
    H: HookSender,
{
    let Some(wanted) = &config.notifications else {
        return vec![];
    };
    if !wanted.wants(notice.kind) {
        return vec![];
    }
    let Ok(store) = AppStore::new(params, prefix) else {
        return vec![];
    };
    let mut channels = vec![];
    if wanted.slack {
        channels.push(("slack", SLACK_URL_LEAF, notice.slack()));
    }
    if wanted.webhook {
        channels.push(("webhook", WEBHOOK_URL_LEAF, notice.json()));
    }
    let mut results = vec![];
    for (channel, leaf, body) in channels {
        let name = store.parameter(&notice.app, leaf);
        let result = match params.get(&name).await {
            Ok(Some(url)) if !url.value.is_empty() => {
                let body = body.to_string();
                let mut headers =
                    vec![("Content-Type".to_string(), "application/json".to_string())];
                if channel == "webhook"
                    && let Ok(Some(secret)) =
                        params.get(&store.parameter(&notice.app, SECRET_LEAF)).await
                {
                    headers.push((
                        SIGNATURE_HEADER.to_string(),
                        signature(&secret.value, notice.at.unix_timestamp(), &body),
                    ));
                    headers.push((
                        DELIVERY_HEADER.to_string(),
                        format!(
                            "{}/{}/{}",
                            notice.app,
                            notice.kind.as_str(),
                            notice.at.unix_timestamp()
                        ),
                    ));
                }
                let answer = sender
                    .deliver(&HookTarget::Url(url.value), &body, &headers, SEND_TIMEOUT)
                    .await;
                match answer.status {
                    Some(s) if (200..300).contains(&s) => Ok(()),
                    Some(s) => Err(format!("answered {s}")),
                    None => Err(answer.detail.unwrap_or_else(|| "no answer".into())),
                }
            }
            Ok(_) => Err(format!("no URL at {name}")),
            Err(e) => Err(format!("could not read {name}: {e}")),
        };
        if let Err(e) = &result {
            tracing::warn!(app = %notice.app, channel, event = notice.kind.as_str(), error = %e,
                           "a chat notice was not sent");
        }
        results.push(NoticeSent {
            channel: channel.to_string(),
            event: notice.kind,
            sent: result.is_ok(),
            error: result.err(),
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn notice() -> Notice {
        Notice::new(
            NoticeKind::RolledBack,
            "checkout",
            "checkout rolled back to blue (v1)".into(),
            "5xx rate 4% over 1%".into(),
            datetime!(2026-12-07 08:00 UTC),
        )
        .fact("to_color", Some("blue"))
        .fact("requested_by", None::<String>)
        .next_step("bluegreen status --app checkout")
        .execution(Some("arn:aws:states:us-east-1:1:execution:m:e"))
    }

    #[test]
    fn the_chatbot_event_has_the_documented_shape() {
        let v = notice().chatbot();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["source"], "custom");
        assert_eq!(v["content"]["title"], "checkout rolled back to blue (v1)");
        assert_eq!(v["metadata"]["additionalContext"]["to_color"], "blue");
        assert!(
            v["metadata"]["additionalContext"]
                .get("requested_by")
                .is_none()
        );
        assert_eq!(v["metadata"]["eventType"], "rolled-back");
    }

    #[test]
    fn slack_gets_text_and_blocks() {
        let v = notice().slack();
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .starts_with("*checkout rolled back")
        );
        assert!(v["text"].as_str().unwrap().contains("• bluegreen status"));
        assert_eq!(v["blocks"][0]["type"], "section");
    }
}
