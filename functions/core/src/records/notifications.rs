//! Chat notifications (`notifications` in the app's config): which of a
//! release's events go to the app's chat webhooks. The webhooks' URLs are
//! credentials, so they live in SecureStrings beside the config, never in it.

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a Slack-compatible incoming webhook's URL lives:
/// `<prefix>/<app>/slack-webhook-url` (a SecureString).
pub const SLACK_URL_LEAF: &str = "slack-webhook-url";
/// Where a generic JSON webhook's URL lives: `<prefix>/<app>/webhook-url`.
pub const WEBHOOK_URL_LEAF: &str = "webhook-url";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Post to the Slack-compatible incoming webhook whose URL is the
    /// SecureString `<prefix>/<app>/slack-webhook-url`.
    #[serde(default)]
    #[garde(skip)]
    pub slack: bool,
    /// Post JSON to the webhook whose URL is the SecureString
    /// `<prefix>/<app>/webhook-url` (signed like the hooks when the app has
    /// a hooks secret).
    #[serde(default)]
    #[garde(skip)]
    pub webhook: bool,
    /// The events that go to the webhooks; all of them when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(skip)]
    pub events: Vec<NoticeKind>,
}

impl Notifications {
    pub fn wants(&self, kind: NoticeKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

/// The events people hear of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// A release took the lock and goes to the idle color.
    Started,
    /// A release waits at an approval gate.
    Waiting,
    /// A release serves all production traffic.
    Promoted,
    /// A release stopped before traffic moved (why).
    Aborted,
    /// Traffic went back (why, by whom, what serves now).
    RolledBack,
    /// A rollback failed, was refused or waits: production may still serve
    /// the release.
    RollbackFailed,
    /// Something a person must look at that is none of the above (a release
    /// live without a verdict, drift at scale-down).
    Attention,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Started => "started",
            NoticeKind::Waiting => "waiting",
            NoticeKind::Promoted => "promoted",
            NoticeKind::Aborted => "aborted",
            NoticeKind::RolledBack => "rolled-back",
            NoticeKind::RollbackFailed => "rollback-failed",
            NoticeKind::Attention => "attention",
        }
    }
}
