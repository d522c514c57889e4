//! `bluegreen deploy`: start the release's execution (or find the one this CI
//! run already started), follow it step by step, and say how it ended.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use aws_sdk_sfn::Client;
use bluegreen_core::document::input::ExecutionInput;
use serde_json::{Value, json};

use crate::ci;
use crate::github::Reporter;
use crate::timeline::{Ending, Step, Until, follow_until};

#[derive(Debug, Clone)]
pub struct DeployArgs {
    pub app: String,
    pub version: String,
    /// What the release ships: `release`'s `image`, `images` or
    /// `task_definition` (an ARN or a document), as one JSON object.
    pub shipped: serde_json::Map<String, Value>,
    /// Deploy even when this version already serves (fresh tasks).
    pub redeploy: bool,
    pub state_machine_arn: String,
    /// Inline smoke-test spec (the file's content).
    pub smoke_tests: Option<String>,
    /// `overrides` as JSON text (`{"strategy": ..., "monitor": ...}`).
    pub overrides: Option<String>,
    pub github: Option<Value>,
    /// Identifies the CI run, for a deterministic execution name.
    pub run: String,
    pub wait: bool,
    /// Follow past an approval gate (false: stop there, the release waits).
    pub wait_for_approval: bool,
    pub timeout: Duration,
    /// The log hears from a follow at least this often (a heartbeat while
    /// a long step runs).
    pub heartbeat: Duration,
    /// Stdout holds one JSON document at the end; the story goes to stderr.
    pub json: bool,
    /// Where the app is reachable, for the successful deployment status.
    pub environment_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Deployed {
    pub execution_arn: String,
    /// Whether this call started the execution (false: it was already running
    /// or done, and was followed instead).
    pub started: bool,
    pub steps: Vec<Step>,
    pub ending: Option<Ending>,
}

impl Deployed {
    pub fn succeeded(&self) -> bool {
        self.ending.as_ref().is_none_or(Ending::succeeded)
    }
}

/// The pull request's comment is brought up to date at most this often while
/// the execution runs: often enough to watch, rarely enough for GitHub's
/// limits on content-creating requests.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Collects the steps `follow` sends and, with a reporter, updates the comment
/// when there is something new and `interval` has passed since the last
/// update. Returns every step once the sender is gone. A GitHub failure is
/// one warning; the release goes on regardless.
pub async fn report_progress(
    reporter: Option<&Reporter>,
    mut rx: mpsc::UnboundedReceiver<(Step, Option<Value>)>,
    interval: Duration,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut doc: Option<Value> = None;
    let mut last_update: Option<Instant> = None;
    let mut pending = false;
    let mut warned = false;
    loop {
        let due = last_update.map_or_else(Instant::now, |t| t + interval);
        tokio::select! {
            received = rx.recv() => match received {
                Some((step, d)) => {
                    steps.push(step);
                    doc = d.or(doc);
                    pending = true;
                }
                // The final comment comes with the result.
                None => return steps,
            },
            _ = tokio::time::sleep_until(due), if pending => {}
        }
        let Some(reporter) = reporter else { continue };
        if !pending || Instant::now() < due {
            continue;
        }
        pending = false;
        last_update = Some(Instant::now());
        if let Err(e) = reporter.progress(&steps, doc.as_ref()).await
            && !warned
        {
            warned = true;
            ci::warning(&format!("could not update the pull request comment: {e}"));
        }
    }
}

/// The execution input for `args`, validated as the Lambdas will validate it,
/// so that a typo fails here, before anything starts.
pub fn input(args: &DeployArgs) -> Result<Value, String> {
    let mut release = args.shipped.clone();
    release.insert("version".into(), json!(args.version));
    if args.redeploy {
        release.insert("redeploy".into(), json!(true));
    }
    let mut doc = json!({"app": args.app, "release": release});
    if let Some(text) = &args.overrides {
        let overrides: Value =
            serde_json::from_str(text).map_err(|e| format!("--overrides is not JSON: {e}"))?;
        doc["overrides"] = overrides;
    }
    if let Some(spec) = &args.smoke_tests {
        doc["smoke_tests"] = json!(spec);
    }
    if let Some(github) = &args.github {
        doc["github"] = github.clone();
    }
    ExecutionInput::from_value(doc.clone())
        .and_then(|i| i.validate_overrides())
        .map_err(|e| e.to_string())?;
    Ok(doc)
}

/// What `--image`, `--images` or `--task-definition` ship, as the
/// execution input's `release` holds it. `images` is YAML or JSON (`{app:
/// image}`); a task definition that is not an ARN is a JSON file, checked
/// here as deploy-idle will check it and named by its path.
pub fn shipped(
    image: Option<String>,
    images: Option<&str>,
    task_definition: Option<&str>,
) -> Result<serde_json::Map<String, Value>, String> {
    let mut release = serde_json::Map::new();
    if let Some(image) = image {
        release.insert("image".into(), json!(image));
    }
    if let Some(text) = images {
        let images: std::collections::BTreeMap<String, String> = serde_yaml_ng::from_str(text)
            .map_err(|e| {
                format!("--images is not a map of container to image (YAML or JSON): {e}")
            })?;
        release.insert("images".into(), json!(images));
    }
    match task_definition {
        Some(arn) if arn.starts_with("arn:") => {
            release.insert("task_definition".into(), json!(arn));
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading the task definition {path}: {e}"))?;
            let value: Value =
                serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))?;
            let document =
                bluegreen_core::document::task_definition::TaskDefinitionDocument::parse(
                    path, "", &value,
                )
                .map_err(|e| e.to_string())?;
            release.insert(
                "task_definition".into(),
                Value::Object(document.into_request()),
            );
        }
        None => {}
    }
    if release.is_empty() {
        return Err("give --image, --images or --task-definition".to_string());
    }
    Ok(release)
}

/// Starts (or finds) the execution and follows it until the release is live
/// or has failed; the warm window that follows is not waited for. With a
/// reporter, GitHub hears about the start and the end; a GitHub failure is a
/// warning, never the release's result.
pub async fn run(
    sfn: &Client,
    args: &DeployArgs,
    mut reporter: Option<&mut Reporter>,
) -> Result<Deployed, String> {
    let mut doc = input(args)?;
    if let Some(r) = reporter.as_deref() {
        doc["github"]["deployment_id"] = json!(r.deployment_id());
    }
    let name = super::execution_name(&args.app, &args.version, &args.run);
    // The name is deterministic per CI run: if this run already started the
    // execution (a retried job step), follow that one instead of starting
    // another. Asking first also covers emulators that do not enforce names.
    let existing_arn = format!(
        "{}:{name}",
        args.state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1)
    );
    let exists = sfn
        .describe_execution()
        .execution_arn(&existing_arn)
        .send()
        .await
        .is_ok();
    let (execution_arn, started) = if exists {
        (existing_arn, false)
    } else {
        match sfn
            .start_execution()
            .state_machine_arn(&args.state_machine_arn)
            .name(&name)
            .input(doc.to_string())
            .send()
            .await
        {
            Ok(out) => (out.execution_arn, true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                (existing_arn, false)
            }
            Err(e) => {
                return Err(format!(
                    "could not start the release: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ));
            }
        }
    };
    if let Some(r) = reporter.as_deref_mut()
        && let Err(e) = r.started(&execution_arn).await
    {
        ci::warning(&format!("could not report the start to GitHub: {e}"));
    }
    let say = move |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    say(format!(
        "{} {} of {}: {execution_arn}",
        if started {
            "started"
        } else {
            "following the already started"
        },
        args.version,
        args.app
    ));
    if !args.wait {
        return Ok(Deployed {
            execution_arn,
            started,
            steps: vec![],
            ending: None,
        });
    }
    if !args.json {
        ci::group(&format!(
            "bluegreen: {} {} step by step",
            args.app, args.version
        ));
    }
    // Steps go to the log as they happen and, through a channel, to the pull
    // request's comment, which is updated alongside without holding them up.
    let (tx, rx) = mpsc::unbounded_channel();
    let until = Until {
        live: true,
        gate: !args.wait_for_approval,
        limit_is_an_ending: true,
    };
    // The last line the log got, and what it was about: a long step's
    // silence is broken by a heartbeat.
    let last = std::sync::Arc::new(std::sync::Mutex::new((
        Instant::now(),
        Instant::now(),
        None::<(Step, Option<Value>)>,
    )));
    let told = last.clone();
    let following = follow_until(sfn, &execution_arn, args.timeout, until, move |s, doc| {
        say(format!(
            "  {:>7.1}s  {:<24} {}",
            s.at_seconds, s.state, s.text
        ));
        let now = Instant::now();
        *told.lock().expect("the last step") = (now, now, Some((s.clone(), doc.cloned())));
        let _ = tx.send((s.clone(), doc.cloned()));
    });
    let beating = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut last = last.lock().expect("the last step");
            let (stepped_at, said_at, step) = &mut *last;
            if said_at.elapsed() < args.heartbeat {
                continue;
            }
            if let Some((step, doc)) = step {
                let line = super::heartbeat::heartbeat(step, doc.as_ref(), stepped_at.elapsed());
                say(format!("  {:>7}   {:<24} {line}", "", "…"));
            }
            *said_at = Instant::now();
        }
    };
    let following = async {
        tokio::select! {
            ending = following => ending,
            () = beating => unreachable!("the heartbeat never ends"),
        }
    };
    let (ending, steps) = tokio::join!(
        following,
        report_progress(reporter.as_deref(), rx, PROGRESS_INTERVAL)
    );
    if !args.json {
        ci::end_group();
    }
    let ending = ending?;
    if let Some(r) = reporter.as_deref()
        && let Err(e) = r
            .finished(
                &steps,
                Some(&ending),
                ending.document.as_ref(),
                args.environment_url.as_deref(),
            )
            .await
    {
        ci::warning(&format!("could not report the result to GitHub: {e}"));
    }
    Ok(Deployed {
        execution_arn,
        started,
        steps,
        ending: Some(ending),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> DeployArgs {
        DeployArgs {
            app: "checkout".into(),
            version: "v2".into(),
            shipped: shipped(Some("repo/checkout:v2".into()), None, None).unwrap(),
            redeploy: false,
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen"
                .into(),
            smoke_tests: None,
            overrides: None,
            github: None,
            run: "1-1".into(),
            wait: true,
            wait_for_approval: true,
            timeout: Duration::from_secs(1),
            heartbeat: Duration::from_secs(30),
            json: false,
            environment_url: None,
        }
    }

    #[test]
    fn bad_input_is_refused_before_anything_starts() {
        let mut a = args();
        a.overrides = Some(r#"{"strategy": {"type": "weighted", "steps": [50]}}"#.into());
        let e = input(&a).unwrap_err();
        assert!(e.contains("`overrides.strategy.steps`"), "{e}");
        // Monitor overrides get the config's range checks here, before any
        // execution starts.
        let mut a = args();
        a.overrides = Some(r#"{"monitor": {"max_5xx_rate": 5}}"#.into());
        let e = input(&a).unwrap_err();
        assert!(e.contains("`overrides.monitor.max_5xx_rate`"), "{e}");
        let mut a = args();
        a.overrides = Some(r#"{"monitor": {"probe_timeout_ms": 60000}}"#.into());
        let e = input(&a).unwrap_err();
        assert!(e.contains("`overrides.monitor.probe_timeout_ms`"), "{e}");
        // Gates too: a Step Functions wait the state machine cannot start,
        // or a window that never reads, is refused before anything starts.
        let mut a = args();
        a.overrides = Some(r#"{"gates": {"approval": {"timeout_seconds": 0}}}"#.into());
        let e = input(&a).unwrap_err();
        assert!(
            e.contains("`overrides.gates.approval.timeout_seconds`"),
            "{e}"
        );
        let mut a = args();
        a.overrides = Some(
            r#"{"gates": {"window": {"time_zone": "Mars/Olympus", "from": "22:00", "to": "06:00"}}}"#
                .into(),
        );
        let e = input(&a).unwrap_err();
        assert!(e.contains("`overrides.gates.window.time_zone`"), "{e}");
        assert!(e.contains("IANA time zone"), "{e}");
        let mut a = args();
        a.overrides = Some(
            r#"{"gates": {"window": {"time_zone": "UTC", "from": "6:00", "to": "07:00"}}}"#.into(),
        );
        let e = input(&a).unwrap_err();
        assert!(e.contains("`overrides.gates.window.from`"), "{e}");
        let mut a = args();
        a.shipped.clear();
        assert!(input(&a).unwrap_err().contains("needs `image`"));
        let mut a = args();
        a.overrides = Some("{".into());
        assert!(input(&a).unwrap_err().contains("--overrides is not JSON"));
        assert_eq!(
            input(&args()).unwrap()["release"]["image"],
            "repo/checkout:v2"
        );
    }

    #[test]
    fn images_are_a_yaml_or_json_map() {
        for text in [
            "{app: a:1, envoy: e:2}",
            "app: a:1\nenvoy: e:2\n",
            r#"{"app": "a:1", "envoy": "e:2"}"#,
        ] {
            assert_eq!(
                Value::Object(shipped(None, Some(text), None).unwrap()),
                json!({"images": {"app": "a:1", "envoy": "e:2"}}),
                "{text}"
            );
        }
        let e = shipped(None, Some("[a, b]"), None).unwrap_err();
        assert!(e.starts_with("--images is not a map"), "{e}");
    }

    #[test]
    fn a_task_definition_file_is_read_checked_and_named_by_its_path() {
        let dir = std::env::temp_dir().join(format!("bluegreen-td-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("td.json");
        std::fs::write(
            &good,
            r#"{"taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/checkout:3", "revision": 3,
                "family": "checkout", "containerDefinitions": [{"name": "app", "image": "checkout:v2"}]}"#,
        )
        .unwrap();
        let release = shipped(None, None, Some(good.to_str().unwrap())).unwrap();
        assert_eq!(
            release["task_definition"],
            json!({"family": "checkout", "containerDefinitions": [{"name": "app", "image": "checkout:v2"}]}),
            "what only describes a registered revision is left out"
        );
        let bad = dir.join("bad.json");
        std::fs::write(
            &bad,
            r#"{"family": "checkout", "containerDefinitions": [{"name": "app"}]}"#,
        )
        .unwrap();
        let e = shipped(None, None, Some(bad.to_str().unwrap())).unwrap_err();
        assert!(
            e.contains("bad.json is invalid at `containerDefinitions[0].image`"),
            "{e}"
        );
        let e = shipped(None, None, Some(dir.join("none.json").to_str().unwrap())).unwrap_err();
        assert!(e.starts_with("reading the task definition"), "{e}");
        std::fs::write(&bad, "{").unwrap();
        assert!(
            shipped(None, None, Some(bad.to_str().unwrap()))
                .unwrap_err()
                .contains("is not JSON")
        );
        assert_eq!(
            shipped(
                None,
                None,
                Some("arn:aws:ecs:us-east-1:1:task-definition/checkout:3")
            )
            .unwrap()["task_definition"],
            "arn:aws:ecs:us-east-1:1:task-definition/checkout:3"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
