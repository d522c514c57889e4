//! The report's words on gates: that the release waits (for a person, and
//! how to decide, or for its release window), and who decided.

use serde_json::Value;

use crate::results::{Results, readable};
use crate::timeline::{Ending, duration};

use super::markdown::inline;

/// While the release waits at a gate (and the execution has not ended
/// there): what it waits for, for how long, and the commands that decide.
pub fn waiting(doc: &Value, ending: Option<&Ending>) -> Option<String> {
    if ending.is_some_and(|e| !e.at_gate) {
        return None;
    }
    let held = Results::of(doc).held_at_gate()?;
    if let Some(window) = &held.window {
        return Some(format!(
            "> 🕙 **Waiting for the release window** ({}) before production traffic moves to {}: \
it opens at {} (in {}), and the release goes on by itself then. \
To call it off, stop the execution; the next release takes the lock.\n",
            inline(&window.hours),
            held.target_color,
            window
                .opens_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration(window.wait_seconds)
        ));
    }
    let app = inline(&held.app);
    let timeout = duration(held.approval_timeout_seconds.unwrap_or_default());
    let afterwards = match held.on_timeout {
        Some(bluegreen_core::records::gates::OnTimeout::Promote) => {
            "then it goes on as if approved (`on_timeout: promote`)"
        }
        _ if held.traffic_moved => "then it rolls back",
        _ => "then it aborts with traffic untouched",
    };
    Some(format!(
        "> ✋ **Waiting for approval** before {weight}% of production traffic moves to {target} \
(step {step} of {steps}). It waits up to {timeout}; {afterwards}.\n>\n\
> Approve: `bluegreen approve --app {app}` · reject: `bluegreen reject --app {app} --reason \"…\"`, \
or comment `/bluegreen approve` / `/bluegreen reject <reason>` where the approval workflow is set up \
(docs/config.md, \"Gates\").\n",
        weight = held.weight,
        target = held.target_color,
        step = held.step + 1,
        steps = held.steps.len(),
    ))
}

/// The last decision at a gate, as a fact: who approved and when, or that
/// the gate timed out and promoted.
pub fn decision(doc: &Value) -> Option<String> {
    let decision = readable(Results::of(doc).approval())?;
    Some(match decision.decision.as_str() {
        "timed-out" => "**Gate:** no decision in time; promoted (`on_timeout: promote`)".into(),
        word => {
            let mut fact = format!(
                "**{}** by {}",
                capitalised(word),
                inline(decision.by.as_deref().unwrap_or("someone"))
            );
            if let Some(identity) = &decision.identity {
                fact.push_str(&format!(" ({})", inline(identity)));
            }
            if let Some(at) = decision.at.map(|at| at.to_offset(time::UtcOffset::UTC)) {
                fact.push_str(&format!(
                    " at {:02}:{:02} UTC {}",
                    at.hour(),
                    at.minute(),
                    at.date()
                ));
            }
            fact
        }
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
