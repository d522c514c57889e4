//! What the steps answer, as the execution document carries it (each under
//! its own key: `$.deploy`, `$.switch`, …) and the next steps read it back:
//! the document's types, apart from the steps that make them, so that the
//! document and the requests built from it name no step.

use crate::records::migrations::MigrationReport;
use serde::{Deserialize, Serialize};

use time::OffsetDateTime;

use crate::color::Color;
use crate::ports::MetricWindow;
use crate::records::gates::OnTimeout;
use crate::world::split::Split;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployOutcome {
    pub app: String,
    pub version: String,
    /// The color the release was deployed to; production is still on the other.
    pub idle_color: Color,
    /// The ECS service of `idle_color`.
    pub service: String,
    /// The task definition the idle service now runs.
    pub task_definition_arn: String,
    /// The idle service's desired count (the active service's).
    pub desired_count: i32,
    /// The task definition production ran when the release was deployed: a
    /// rollback goes to the color that runs it, as ECS says.
    #[serde(default)]
    pub serving_task_definition: Option<String>,
    /// False when a rerun found the work already done.
    pub changed: bool,
    /// True when this version already serves all production traffic: there is
    /// nothing to deploy, and the state machine ends here.
    #[serde(default)]
    pub already_live: bool,
    /// When the idle service was (first) updated for this release; the health
    /// check's deadline counts from here.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
    /// How long the state machine waits after a completed release before it
    /// scales the previous color down (the config's warm window).
    pub warm_window_seconds: u64,
    /// The expand migration still runs: the state machine waits and calls
    /// deploy-idle again; the idle color is not updated yet.
    #[serde(default)]
    pub migrating: bool,
    /// The release's expand migration, when the app has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<MigrationReport>,
    /// Should the release fail (abort, or roll back), how long its color
    /// keeps its tasks before the state machine scales it back (the
    /// config's `failed_color_grace_seconds`); absent when there is nothing
    /// to scale back (the release was already live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_grace_seconds: Option<u64>,
}

/// What one switch call did; the state machine stores it under `$.switch` and
/// hands it back to the next call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchOutcome {
    pub app: String,
    pub version: String,
    /// The color traffic moves to.
    pub target_color: Color,
    /// Index into `steps` of the step now applied.
    pub step: usize,
    pub steps: Vec<u8>,
    /// Percent of production traffic now on `target_color`.
    pub weight: u8,
    pub split: Split,
    /// False when the listener already had this split (a rerun).
    pub changed: bool,
    /// True once all traffic is on `target_color`.
    pub done: bool,
    /// How long the monitor should bake this step.
    pub bake_seconds: u64,
    /// The execution that made this step: a console rerun of a copied
    /// document must not continue another execution's steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// `open`, or `approval` when the step (`step`, `weight`) waits for a
    /// person's decision and nothing moved: the state machine waits at the
    /// gate, then calls the switch again for the same step.
    #[serde(default)]
    pub gate: GateStatus,
    /// At an approval gate: how long it waits, what its timeout does, and
    /// whether this release already has production traffic (a refusal then
    /// rolls back instead of aborting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<OnTimeout>,
    #[serde(default)]
    pub traffic_moved: bool,
    /// Held for the release window (`gate: window`): when it opens, and how
    /// long the state machine waits before asking again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowWait>,
}

/// A release held outside its window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowWait {
    /// The window, for people: `mon,fri 22:00–06:00 Europe/Berlin`.
    pub hours: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opens_at: OffsetDateTime,
    /// Whole seconds from the switch's clock to `opens_at` (a Wait state's
    /// `SecondsPath`).
    pub wait_seconds: u64,
}

/// Whether a switch step went through or waits at a gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateStatus {
    #[default]
    Open,
    Approval,
    /// Outside the release window (`gates.window`).
    Window,
}

// The monitor's answer, with what its bake has seen (its rules are in
// `monitor`).

/// What one monitor call decided; stored by the state machine under
/// `$.monitor` and handed back to the next call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorOutcome {
    pub verdict: Verdict,
    /// Why it breached, or what it is still waiting for.
    pub reasons: Vec<String>,
    /// The switch step this bake belongs to.
    pub step: usize,
    pub weight: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub bake_started_at: OffsetDateTime,
    pub elapsed_seconds: u64,
    pub bake_seconds: u64,
    /// Monitor calls (slices) so far in this bake.
    pub slices: u32,
    /// When this call reached its verdict (or ended its slice).
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    /// Everything the bake has seen so far.
    #[serde(flatten)]
    pub figures: BakeFigures,
    /// The execution that made this call: a console rerun of a copied
    /// document must not continue another execution's bake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// The app's hooks this call delivered: `after-step` at a bake's first
    /// call, `after-promote` with the last step's promotion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookResult>,
    /// The chat notice of a promotion (never the webhooks' URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeSent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Continue,
    Promote,
    Breach,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BakeFigures {
    /// The new color's metrics from the bake's first minute to
    /// `metrics_until`, as last read.
    pub metrics: Option<MetricWindow>,
    /// The previous color's metrics from before the switch, read once.
    pub baseline: Option<MetricWindow>,
    /// The end of the last complete metric minute judged (metrics arrive
    /// late: younger minutes are not judged).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub metrics_until: Option<OffsetDateTime>,
    pub alarms_in_alarm: Vec<String>,
    /// What the last read could not read (metrics, alarms, a missing alarm);
    /// empty once a read succeeds.
    #[serde(default)]
    pub unread: Vec<String>,
    /// Consecutive reads with something unreadable.
    #[serde(default)]
    pub failed_reads: u32,
    /// Reads (metrics and alarms) made in this bake.
    #[serde(default)]
    pub reads: u32,
    /// Probe rounds made in this bake.
    #[serde(default)]
    pub rounds: u32,
    /// Every probe of the bake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeSummary>,
    /// The probes per minute, to take them off the request count of the
    /// minutes they fell in: the last `monitor::bake::KEPT_MINUTES` minutes only, older
    /// ones summed into `earlier_probes`, so that the execution document does
    /// not grow with the bake (Step Functions fails one over 256 KB, outside
    /// any Catch).
    #[serde(default)]
    pub probe_minutes: Vec<ProbeMinute>,
    /// The probes of the minutes before `probe_minutes`, summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_probes: Option<ProbeMinute>,
    /// Whether probes have seen the new version during this bake.
    pub version_seen: bool,
    /// The probes' latency percentiles over the last minutes of the
    /// latest call (a percentile appears once enough probes tell it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_latency: Option<Latency>,
    /// The app's metric checks as last judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// The checks' values before the switch (normalised), read once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_baselines: Option<Vec<Option<f64>>>,
}

/// The probes of one minute of the bake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeMinute {
    /// The minute's start, in seconds since the epoch.
    pub minute: i64,
    pub sent: u64,
    /// Probes that reached the new color: those that saw the new version,
    /// and those that failed (which color they reached is unknown).
    pub on_new: u64,
}

/// Every probe of the bake, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSummary {
    pub sent: u64,
    /// Answered below 500.
    pub ok: u64,
    /// Answered by the new version.
    pub new_version: u64,
    pub max_latency_ms: u64,
}

/// Latency percentiles of a set of probes, each only once the set is large
/// enough to tell it (a p99 of ten probes is their slowest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub samples: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    Ok,
    Breach,
    Waiting,
}

/// One check as last judged, for the verdict, the PR comment and the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub state: CheckState,
    /// The value judged (per minute for counts); `None` before any data.
    pub value: Option<f64>,
    /// The value before the switch, for checks that compare with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Why it breached or waits, or what it was held to.
    pub detail: String,
}

// What lifecycle hooks and chat notices came to, as the steps' results
// report them (see `steps::hooks`, `steps::notify`).

/// One hook's delivery, as the step's result reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookResult {
    pub at: crate::records::hooks::HookPoint,
    /// Its URL (without query or credentials) or function ARN.
    pub target: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub on_failure: crate::records::hooks::OnHookFailure,
}

/// Where a notice went, as a step's result reports it (never the URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeSent {
    /// `slack` or `webhook`.
    pub channel: String,
    pub event: crate::records::notifications::NoticeKind,
    pub sent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
