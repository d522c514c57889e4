//! The execution input: what the action sends, what a console rerun replays.
//! Each step's result is added under its own key by the state machine; the
//! parts a step does not know are passed through untouched.

use serde::{Deserialize, Serialize};

use crate::document::outcomes::DeployOutcome;
use crate::document::outcomes::MonitorOutcome;
use crate::document::outcomes::SwitchOutcome;
use std::collections::BTreeMap;

use crate::document::requests::{Artifact, Caller, DeployRequest, DeployedRequest, SwitchRequest};
use crate::document::task_definition::TaskDefinitionDocument;
use crate::error::{Error, Result};
use crate::parse;
use crate::records::config::{MonitorConfig, Strategy, validate_app_name};
use crate::records::gates::{ApprovalDecision, Gates};
use crate::records::validation;

pub const SOURCE: &str = "execution input";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInput {
    pub app: String,
    pub release: Release,
    #[serde(default)]
    pub overrides: Overrides,
    /// Inline smoke-test spec (YAML or JSON).
    #[serde(default)]
    pub smoke_tests: Option<String>,
    #[serde(default)]
    pub github: Option<GithubRef>,
    /// Added by the state machine's first state from `$$.Execution`.
    #[serde(default)]
    pub execution: Option<ExecutionContext>,
    /// What deploy-idle did, once it has run.
    #[serde(default)]
    pub deploy: Option<DeployOutcome>,
    /// The previous monitor call's result, when there was one.
    #[serde(default)]
    pub monitor: Option<MonitorOutcome>,
    /// The previous switch step's result, when there was one.
    #[serde(default)]
    pub switch: Option<SwitchOutcome>,
    /// The last decision at an approval gate, when there was one.
    #[serde(default)]
    pub approval: Option<ApprovalDecision>,
}

/// What a release ships: exactly one of `image`, `images` and
/// `task_definition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// What the release is called in state, reports and probes (a commit SHA, a tag).
    pub version: String,
    /// The release container's new image (the config's `container`, or the
    /// only one), on a revision of what production runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Several containers' new images at once (container name → image), on a
    /// revision of what production runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<BTreeMap<String, String>>,
    /// A task-definition ARN to run as is, or a task definition to register
    /// (RegisterTaskDefinition's JSON, as a rendered file holds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<TaskDefinitionSource>,
    /// Deploy even when this version already serves: the same release on a
    /// fresh revision and fresh tasks, through every step of a release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redeploy: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskDefinitionSource {
    Arn(String),
    Document(serde_json::Map<String, serde_json::Value>),
}

impl Release {
    /// What to ship, checked; errors name their field of the execution input.
    pub fn artifact(&self) -> Result<Artifact> {
        let given = [
            self.image.is_some(),
            self.images.is_some(),
            self.task_definition.is_some(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => {
                return Err(Error::bad_input(
                    SOURCE,
                    "release",
                    "needs `image` (a container image), `images` (container → image) or `task_definition` (an ARN or a task definition)",
                ));
            }
            1 => {}
            _ => {
                return Err(Error::bad_input(
                    SOURCE,
                    "release",
                    "give one of `image`, `images` and `task_definition`",
                ));
            }
        }
        if let Some(image) = &self.image {
            check_image("release.image", image)?;
            return Ok(Artifact::Image(image.clone()));
        }
        if let Some(images) = &self.images {
            if images.is_empty() {
                return Err(Error::bad_input(
                    SOURCE,
                    "release.images",
                    "names no container: give `container: image` pairs",
                ));
            }
            for (container, image) in images {
                if container.trim().is_empty() {
                    return Err(Error::bad_input(
                        SOURCE,
                        "release.images",
                        "has an empty container name",
                    ));
                }
                check_image(&format!("release.images.{container}"), image)?;
            }
            return Ok(Artifact::Images(images.clone()));
        }
        match &self.task_definition {
            Some(TaskDefinitionSource::Arn(td)) => {
                if !(td.starts_with("arn:") && td.contains(":task-definition/")) {
                    return Err(Error::bad_input(
                        SOURCE,
                        "release.task_definition",
                        format!("`{td}` is not a task-definition ARN"),
                    ));
                }
                Ok(Artifact::TaskDefinitionArn(td.clone()))
            }
            Some(TaskDefinitionSource::Document(doc)) => {
                Ok(Artifact::Document(TaskDefinitionDocument::parse(
                    SOURCE,
                    "release.task_definition",
                    &serde_json::Value::Object(doc.clone()),
                )?))
            }
            None => unreachable!("one of the three is given"),
        }
    }
}

fn check_image(field: &str, image: &str) -> Result<()> {
    if image.is_empty() || image.len() > 1024 || image.chars().any(char::is_whitespace) {
        return Err(Error::bad_input(
            SOURCE,
            field,
            format!("`{image}` is not a container image reference"),
        ));
    }
    Ok(())
}

/// One release's changes to the app's config (`overrides` in the execution
/// input, `overrides` of the action, `--overrides` of the CLI).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// How traffic moves in this release, instead of the config's.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Monitor thresholds for this execution only, merged over the config's:
    /// any of the config's `monitor` fields.
    #[serde(default)]
    #[schemars(with = "Option<MonitorConfig>")]
    pub monitor: Option<serde_json::Map<String, serde_json::Value>>,
    /// The gates of this release, instead of the config's (`{}`: none).
    #[serde(default)]
    pub gates: Option<Gates>,
    /// The migrations of this release, instead of the config's (`{}`:
    /// none): its expand, and the contract at the end of its warm window.
    #[serde(default)]
    pub migrations: Option<crate::records::migrations::Migrations>,
}

impl Overrides {
    /// The rules of the strategy and the gates, with errors under
    /// `overrides.` as in the execution input. The monitor's thresholds are
    /// checked merged over a config (see [`ExecutionInput::validate_overrides`]).
    pub fn validate(&self, source: &str) -> Result<()> {
        if let Some(strategy) = &self.strategy {
            strategy.validate(source, "overrides.strategy")?;
        }
        if let Some(gates) = &self.gates {
            validation::check(source, "overrides.gates", gates)?;
        }
        if let Some(migrations) = &self.migrations {
            validation::check(source, "overrides.migrations", migrations)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubRef {
    pub repository: String,
    #[serde(default)]
    pub deployment_id: Option<u64>,
    #[serde(default)]
    pub pr: Option<u64>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub run_id: Option<u64>,
    #[serde(default)]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionContext {
    pub arn: String,
}

impl ExecutionInput {
    pub fn from_value(value: serde_json::Value) -> Result<ExecutionInput> {
        if !value.is_object() {
            return Err(Error::bad_input(
                SOURCE,
                "(document)",
                "must be a JSON object",
            ));
        }
        let input: ExecutionInput = parse::value(SOURCE, value)?;
        input.validate()?;
        Ok(input)
    }

    fn validate(&self) -> Result<()> {
        validate_app_name(SOURCE, "app", &self.app)?;
        let v = &self.release.version;
        if v.is_empty() || v.len() > 128 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::bad_input(
                SOURCE,
                "release.version",
                format!("`{v}` is not a version: 1 to 128 characters, no spaces"),
            ));
        }
        self.release.artifact()?;
        self.overrides.validate(SOURCE)?;
        if let Some(prev) = &self.switch
            && (prev.app != self.app || prev.version != self.release.version)
        {
            return Err(Error::bad_input(
                SOURCE,
                "switch",
                format!(
                    "is the result of switching {} to {}, not this release ({} {})",
                    prev.app, prev.version, self.app, self.release.version
                ),
            ));
        }
        Ok(())
    }

    /// Range-checks `overrides.monitor` with the config's own rules, merged
    /// over the defaults. The CLI calls it before it starts an execution and
    /// deploy-idle before it changes anything; the monitor checks the merge
    /// over the app's config on every call. Not part of [`Self::validate`]:
    /// a rollback must never be refused for a monitor threshold.
    pub fn validate_overrides(&self) -> Result<()> {
        if let Some(overrides) = &self.overrides.monitor {
            MonitorConfig::default().with_overrides(SOURCE, overrides)?;
        }
        Ok(())
    }

    pub fn execution_arn(&self) -> Option<&str> {
        self.execution.as_ref().map(|e| e.arn.as_str())
    }

    pub fn caller(&self) -> Caller {
        Caller {
            app: self.app.clone(),
            version: self.release.version.clone(),
            execution_arn: self.execution_arn().map(str::to_string),
        }
    }

    /// The lock holder this document's steps act as.
    pub fn lock_holder(&self) -> String {
        self.caller().holder()
    }

    /// What deploy-idle is asked; fails only on a document that was not
    /// read through [`Self::from_value`].
    pub fn deploy_request(&self) -> Result<DeployRequest> {
        Ok(DeployRequest {
            caller: self.caller(),
            artifact: self.release.artifact()?,
            redeploy: self.release.redeploy,
            strategy: self.overrides.strategy.clone(),
            migrations: self.overrides.migrations.clone(),
        })
    }

    pub fn switch_request(&self) -> SwitchRequest {
        SwitchRequest {
            caller: self.caller(),
            strategy: self.overrides.strategy.clone(),
            gates: self.overrides.gates.clone(),
            approval: self.approval.clone(),
            previous: self
                .switch
                .clone()
                .filter(|s| s.execution_arn.as_deref() == self.execution_arn()),
            deployed: self
                .deploy
                .as_ref()
                .map(|d| (d.idle_color, d.task_definition_arn.clone())),
        }
    }

    /// For the steps that need deploy-idle's result (`what` names the step).
    pub fn deployed_request(&self, what: &str) -> Result<DeployedRequest> {
        let deployed = self.deploy.clone().ok_or_else(|| {
            Error::bad_input(
                SOURCE,
                "deploy",
                format!("{what} needs deploy-idle's result here"),
            )
        })?;
        Ok(DeployedRequest {
            caller: self.caller(),
            deployed,
        })
    }
}

/// deploy-idle's phases: the state machine calls it with the execution
/// document itself (`deploy`) or wrapped as `{"phase": "...", "input": <document>}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployIdlePhase {
    Deploy,
    Check,
    Release,
    Abort,
    /// The contract migration at the end of the warm window. The state
    /// machine says how long any rollback may take (the rollback
    /// function's timeout): the contract waits that long after it said it
    /// would run before it starts (see `steps::migrate::contract`).
    Contract {
        settle_seconds: u64,
    },
    ScaleDown,
    /// A failed release's color back to the idle capacity, after its grace.
    ScaleBack,
}

/// The rollback function's timeout (3 minutes, cdk/lib/switcher.ts) and a
/// margin: what a `contract` event without `settle_seconds` waits.
pub const DEFAULT_CONTRACT_SETTLE_SECONDS: u64 = 200;

impl DeployIdlePhase {
    /// Splits an event into its phase and the execution document.
    pub fn split(event: serde_json::Value) -> Result<(DeployIdlePhase, serde_json::Value)> {
        let (phase, mut object) = phase_of(event)?;
        let Some(phase) = phase else {
            return Ok((DeployIdlePhase::Deploy, serde_json::Value::Object(object)));
        };
        let phase = match phase.as_str() {
            Some("deploy") => DeployIdlePhase::Deploy,
            Some("check") => DeployIdlePhase::Check,
            Some("release") => DeployIdlePhase::Release,
            Some("abort") => DeployIdlePhase::Abort,
            Some("scale-down") => DeployIdlePhase::ScaleDown,
            Some("scale-back") => DeployIdlePhase::ScaleBack,
            Some("contract") => DeployIdlePhase::Contract {
                settle_seconds: match object.remove("settle_seconds") {
                    None => DEFAULT_CONTRACT_SETTLE_SECONDS,
                    Some(v) => v.as_u64().ok_or_else(|| {
                        Error::bad_input(
                            "deploy-idle event",
                            "settle_seconds",
                            format!("{v} is not a whole number of seconds"),
                        )
                    })?,
                },
            },
            _ => {
                return Err(Error::bad_input(
                    "deploy-idle event",
                    "phase",
                    format!(
                        "{phase} is not a phase: use \"deploy\", \"check\", \"release\", \"abort\", \"contract\", \"scale-down\" or \"scale-back\""
                    ),
                ));
            }
        };
        let input = object.remove("input").ok_or_else(|| {
            Error::bad_input(
                "deploy-idle event",
                "input",
                "a phase goes with the execution document under `input`",
            )
        })?;
        no_other_fields(
            &object,
            "deploy-idle event",
            "`phase` and `input` (and `settle_seconds` for `contract`)",
        )?;
        Ok((phase, input))
    }
}

/// An event's `phase`, if it has one, and its other fields.
fn phase_of(
    event: serde_json::Value,
) -> Result<(
    Option<serde_json::Value>,
    serde_json::Map<String, serde_json::Value>,
)> {
    let serde_json::Value::Object(mut object) = event else {
        return Err(Error::bad_input(
            SOURCE,
            "(document)",
            "must be a JSON object",
        ));
    };
    Ok((object.remove("phase"), object))
}

/// Refuses the first field left over once an event's known ones are taken.
fn no_other_fields(
    object: &serde_json::Map<String, serde_json::Value>,
    event: &str,
    expected: &str,
) -> Result<()> {
    match object.keys().next() {
        Some(extra) => Err(Error::bad_input(
            event,
            extra.as_str(),
            format!("unknown field: expected only {expected}"),
        )),
        None => Ok(()),
    }
}

/// The switch's calls: the execution document itself (one switch step), or
/// `{"phase": "await-approval", "token": <task token>, "input": <document>}`
/// when the state machine waits at an approval gate.
#[derive(Debug, Clone, PartialEq)]
pub enum SwitchCall {
    Step(serde_json::Value),
    AwaitApproval {
        token: String,
        input: serde_json::Value,
    },
}

impl SwitchCall {
    pub fn parse(event: serde_json::Value) -> Result<SwitchCall> {
        const EVENT: &str = "switch event";
        let (phase, mut object) = phase_of(event)?;
        let Some(phase) = phase else {
            return Ok(SwitchCall::Step(serde_json::Value::Object(object)));
        };
        if phase.as_str() != Some("await-approval") {
            return Err(Error::bad_input(
                EVENT,
                "phase",
                format!(
                    "{phase} is not a phase: use \"await-approval\", or send the document itself"
                ),
            ));
        }
        let token = match object.remove("token") {
            Some(serde_json::Value::String(t)) if !t.trim().is_empty() => t,
            _ => return Err(Error::bad_input(EVENT, "token", "must be the task token")),
        };
        let input = object.remove("input").ok_or_else(|| {
            Error::bad_input(
                EVENT,
                "input",
                "a phase goes with the execution document under `input`",
            )
        })?;
        no_other_fields(&object, EVENT, "`phase`, `token` and `input`")?;
        Ok(SwitchCall::AwaitApproval { token, input })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: serde_json::Value) -> String {
        ExecutionInput::from_value(v)
            .and_then(|i| i.validate_overrides())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn accepts_the_brief_example_with_extra_step_results() {
        let i = ExecutionInput::from_value(json!({
            "app": "checkout",
            "release": {"version": "3f2c1ab", "image": "123.dkr.ecr.us-east-1.amazonaws.com/checkout:3f2c1ab"},
            "overrides": {"strategy": {"type": "all-at-once"}, "monitor": {}},
            "smoke_tests": "tests: []",
            "github": {"repository": "o/r", "deployment_id": 123, "pr": 45},
            "smoke": {"anything": "a later step wrote"}
        }))
        .unwrap();
        assert_eq!(i.release.version, "3f2c1ab");
        assert!(i.execution_arn().is_none());
    }

    #[test]
    fn rejects_what_is_wrong_and_says_where() {
        let m = err(json!({"app": "checkout"}));
        assert!(m.contains("missing field `release`"), "{m}");
        let m = err(json!({"app": "a/b", "release": {"version": "1", "image": "i"}}));
        assert!(m.contains("`app`"), "{m}");
        let m = err(json!({"app": "a", "release": {"version": "1"}}));
        assert!(
            m.contains("`release`") && m.contains("needs `image`"),
            "{m}"
        );
        let m = err(json!({"app": "a", "release": {"version": "1", "image": "i", "imgae": "j"}}));
        assert!(m.contains("`release.imgae`: unknown field `imgae`"), "{m}");
        let m = err(json!({"app": "a", "release": {"version": "two words", "image": "i"}}));
        assert!(m.contains("`release.version`"), "{m}");
        let m = err(
            json!({"app": "a", "release": {"version": "1", "image": "i"},
            "overrides": {"strategy": {"type": "weighted", "steps": [50]}}}),
        );
        assert!(m.contains("`overrides.strategy.steps`"), "{m}");
        let m = err(
            json!({"app": "a", "release": {"version": "1", "image": "i"},
            "overrides": {"monitor": {"max_5xx_rat": 0.5}}}),
        );
        assert!(
            m.contains("`overrides.monitor.max_5xx_rat`") && m.contains("unknown field"),
            "{m}"
        );
        let m = err(json!([1, 2]));
        assert!(m.contains("must be a JSON object"), "{m}");
    }

    /// Overrides get the config's own range checks, named by their path in
    /// the input: the issue's examples, each refused.
    #[test]
    fn monitor_overrides_are_range_checked() {
        let with = |monitor: serde_json::Value| {
            json!({"app": "a", "release": {"version": "1", "image": "i"},
                   "overrides": {"monitor": monitor}})
        };
        for (monitor, field, says) in [
            (
                json!({"max_5xx_rate": 5}),
                "max_5xx_rate",
                "5 is greater than 1",
            ),
            (
                json!({"min_requests": 0}),
                "min_requests",
                "without any traffic",
            ),
            (
                json!({"probe_timeout_ms": 60000}),
                "probe_timeout_ms",
                "60000 is greater than 10000",
            ),
            (
                json!({"slice_seconds": 900}),
                "slice_seconds",
                "900 is greater than 840",
            ),
            (
                json!({"probe_interval_seconds": 0}),
                "probe_interval_seconds",
                "0 is lower than 1",
            ),
            (
                json!({"probe_requests": 0}),
                "probe_requests",
                "0 is lower than 1",
            ),
            (
                json!({"max_failed_reads": 0}),
                "max_failed_reads",
                "0 is lower than 1",
            ),
            (
                json!({"version_header": "X Version"}),
                "version_header",
                "header name",
            ),
            (
                json!({"version_json_path": "a..b"}),
                "version_json_path",
                "dotted",
            ),
            (json!({"probe_url": "ftp://x"}), "probe_url", "http(s)"),
            (
                json!({"alarm_names": ["ok", ""]}),
                "alarm_names[1]",
                "must not be empty",
            ),
            (json!({"max_p99_ms": "fast"}), "max_p99_ms", "invalid type"),
        ] {
            let m = err(with(monitor.clone()));
            assert!(
                m.contains(&format!("`overrides.monitor.{field}`")) && m.contains(says),
                "{monitor}: {m}"
            );
        }
        let fine =
            with(json!({"max_5xx_rate": 0.05, "min_requests": 10, "probe_timeout_ms": 5000}));
        assert!(
            ExecutionInput::from_value(fine)
                .unwrap()
                .validate_overrides()
                .is_ok()
        );
        // Any other step (a rollback above all) reads such a document.
        let bad = with(json!({"probe_timeout_ms": 60000}));
        assert!(ExecutionInput::from_value(bad).is_ok());
    }

    #[test]
    fn a_switch_call_is_the_document_or_an_approval_wait_with_its_token() {
        let doc = json!({"app": "a"});
        assert_eq!(
            SwitchCall::parse(doc.clone()).unwrap(),
            SwitchCall::Step(doc.clone())
        );
        let wait = json!({"phase": "await-approval", "token": "t", "input": doc});
        assert_eq!(
            SwitchCall::parse(wait).unwrap(),
            SwitchCall::AwaitApproval {
                token: "t".into(),
                input: json!({"app": "a"})
            }
        );
        for (bad, field) in [
            (
                json!({"phase": "wait", "token": "t", "input": {}}),
                "`phase`",
            ),
            (
                json!({"phase": "await-approval", "token": " ", "input": {}}),
                "`token`",
            ),
            (json!({"phase": "await-approval", "token": "t"}), "`input`"),
            (
                json!({"phase": "await-approval", "token": "t", "input": {}, "x": 1}),
                "`x`",
            ),
        ] {
            let m = SwitchCall::parse(bad).unwrap_err().to_string();
            assert!(m.contains(field), "{m}");
        }
    }
}
