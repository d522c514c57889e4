//! The report: one Markdown document for the pull-request comment and the job
//! summary. Pure, so every shape of execution can be checked without GitHub.

use serde_json::Value;

use crate::results::{Results, readable};
use crate::timeline::{Ending, Step};

use super::markdown::{cell, code, inline};
use super::outcome::Outcome;
use super::{chart, database, gate, monitor, smoke};

/// The timeline keeps its last rows; a long bake polls many times, and
/// GitHub caps a comment at 65 536 characters.
const MAX_TIMELINE_ROWS: usize = 200;

/// The errors the state machine catches, each under its own key.
const CAUGHT_ERRORS: [&str; 5] = [
    "error",
    "rollback_error",
    "release_lock_error",
    "scale_down_error",
    "contract_error",
];

/// The report on a deployment of `version` of `app`, so far (`ending` is
/// `None` while it runs). `doc` is the latest execution document known.
pub fn render_report(
    app: &str,
    version: &str,
    steps: &[Step],
    ending: Option<&Ending>,
    doc: Option<&Value>,
    console_url: Option<&str>,
) -> String {
    let outcome = Outcome::of(steps, ending);
    let null = Value::Null;
    let doc = doc.unwrap_or(&null);
    let mut out = format!(
        "### {} {} {}: {}\n\n",
        outcome.emoji(),
        inline(app),
        code(version),
        outcome.word()
    );
    let mut facts = Vec::new();
    if let Some(production) = production(doc, outcome) {
        facts.push(format!("**Production:** {production}"));
    }
    if let Some(task_definition) = task_definition(doc) {
        facts.push(format!("**Task definition:** {task_definition}"));
    }
    if let Some(url) = console_url {
        facts.push(format!("[Step Functions execution]({url})"));
    }
    if let Some(decision) = gate::decision(doc) {
        facts.push(decision);
    }
    if !facts.is_empty() {
        out.push_str(&format!("{}\n\n", facts.join(" · ")));
    }
    if let Some(waiting) = gate::waiting(doc, ending) {
        out.push_str(&waiting);
        out.push('\n');
    }
    let problems = problems(ending, doc);
    for problem in &problems {
        out.push_str(&format!("> {problem}\n"));
    }
    if !problems.is_empty() {
        out.push('\n');
    }
    if let Some(report) = smoke::smoke_report(doc) {
        out.push_str(&smoke::section(&report));
        out.push('\n');
    }
    if let Some(section) = monitor::section(doc) {
        out.push_str(&section);
        out.push('\n');
    }
    if let Some(section) = chart::section(steps) {
        out.push_str(&section);
    }
    if let Some(section) = database::section(doc) {
        out.push_str(&section);
    }
    out.push_str(&timeline(steps));
    out
}

/// The release's task definition as `family:revision` (registered by
/// bluegreen, or given), and whether it was a redeploy.
fn task_definition(doc: &Value) -> Option<String> {
    let deploy = readable(Results::of(doc).deploy())?;
    if deploy.already_live {
        return None;
    }
    let arn = &deploy.task_definition_arn;
    let short = arn
        .rsplit_once("task-definition/")
        .map_or(arn.as_str(), |(_, t)| t);
    let redeploy = if doc["release"]["redeploy"] == true {
        " (a redeploy, on fresh tasks)"
    } else {
        ""
    };
    Some(format!("{}{redeploy}", code(short)))
}

/// Which color serves production, and what.
fn production(doc: &Value, outcome: Outcome) -> Option<String> {
    let results = Results::of(doc);
    if let Some(rollback) = readable(results.rollback()) {
        let version = rollback.to.version.map_or_else(String::new, |v| code(&v));
        return Some(format!("**{}** {version} (rolled back)", rollback.to.color));
    }
    if let Some(switch) = readable(results.switch()) {
        let target = switch.target_color;
        let other = target.other();
        // An emergency rollback stops the execution from outside: the
        // document still shows the last switch, but traffic went back.
        if outcome == Outcome::RolledBack {
            return Some(format!("**{other}** (the previous release; rolled back)"));
        }
        let version = code(&switch.version);
        // A step held at a gate moved nothing: the split is the listener's.
        let weight = switch.split.weight(target);
        if weight == 0 {
            return Some(format!(
                "**{other}** (unchanged; {version} waits on {target} with no traffic)"
            ));
        }
        return Some(if weight >= 100 {
            format!("**{target}** {version} (100%)")
        } else {
            format!("{target} {version} {weight}% / {other} {}%", 100 - weight)
        });
    }
    let deploy = readable(results.deploy())?;
    let idle = deploy.idle_color;
    let active = idle.other();
    Some(if deploy.already_live {
        format!("**{active}** {} (already live)", code(&deploy.version))
    } else {
        format!("**{active}** (unchanged; the release went to {idle}, which gets no traffic)")
    })
}

/// What went wrong, one line each: how the execution ended, then each
/// error the state machine caught on the way.
fn problems(ending: Option<&Ending>, doc: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(ending) = ending
        && let Some(error) = &ending.error
    {
        let cause = ending.cause.as_deref().unwrap_or_default();
        lines.push(format!("**{}**: {}", inline(error), inline(cause)));
    }
    for key in CAUGHT_ERRORS {
        let caught = &doc[key];
        let Some(error) = caught["Error"].as_str() else {
            continue;
        };
        let message = smoke::error_message(caught["Cause"].as_str().unwrap_or_default());
        let message = smoke::without_report(&message);
        lines.push(format!(
            "**{}** (`{key}`): {}",
            inline(error),
            inline(message)
        ));
    }
    lines
}

fn timeline(steps: &[Step]) -> String {
    if steps.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "<details><summary>Timeline ({} steps)</summary>\n\n| time | state | what happened |\n|---:|---|---|\n",
        steps.len()
    );
    let hidden = steps.len().saturating_sub(MAX_TIMELINE_ROWS);
    if hidden > 0 {
        out.push_str(&format!("| | | … {hidden} earlier steps not shown |\n"));
    }
    for step in &steps[hidden..] {
        out.push_str(&format!(
            "| {:.1} s | {} | {} |\n",
            step.at_seconds,
            cell(&step.state),
            cell(&step.text)
        ));
    }
    out.push_str("\n</details>\n");
    out
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
