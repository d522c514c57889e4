//! While a long step runs (a bake of minutes), the follow says so at least
//! every `--heartbeat-seconds`: where the release is, how far into its bake,
//! and the latest figures the monitor reported, so a 10-minute bake is not
//! 10 silent minutes in the Actions log.

use std::time::Duration;

use serde_json::Value;

use crate::results::{Results, readable};
use crate::timeline::Step;

/// The line for a follow that has told nothing new for `silent`: the last
/// step told, and the execution document as it last saw it.
pub fn heartbeat(last: &Step, doc: Option<&Value>, since_step: Duration) -> String {
    let null = Value::Null;
    let results = Results::of(doc.unwrap_or(&null));
    let waited = since_step.as_secs();
    if let Some(switch) = readable(results.switch())
        && matches!(last.state.as_str(), "Switch" | "Monitor" | "Gate?")
    {
        let mut line = format!(
            "still baking step {} of {} ({}% on {}): {waited} s of {} s",
            switch.step + 1,
            switch.steps.len(),
            switch.weight,
            switch.target_color,
            switch.bake_seconds
        );
        if let Some(monitor) = readable(results.monitor()).filter(|m| m.step == switch.step) {
            let figures: Vec<String> = monitor
                .figures
                .checks
                .iter()
                .filter_map(|c| Some(format!("{} {:.3}", c.name, c.value?)))
                .collect();
            if !figures.is_empty() {
                line.push_str(&format!("; latest: {}", figures.join(", ")));
            }
        }
        return line;
    }
    let after = if last.state.is_empty() {
        "the last step"
    } else {
        last.state.as_str()
    };
    format!("still running: {waited} s since {after}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(state: &str) -> Step {
        Step {
            at_seconds: 3.0,
            state: state.into(),
            text: String::new(),
            chart: None,
        }
    }

    #[test]
    fn a_bake_says_how_far_it_is() {
        let doc = json!({"switch": {
            "app": "web", "version": "v2", "target_color": "green", "step": 0, "steps": [50, 100],
            "weight": 50, "split": {"blue": 50, "green": 50}, "changed": true, "done": false,
            "bake_seconds": 600}});
        assert_eq!(
            heartbeat(&step("Switch"), Some(&doc), Duration::from_secs(45)),
            "still baking step 1 of 2 (50% on green): 45 s of 600 s"
        );
        assert_eq!(
            heartbeat(&step("CheckIdle"), None, Duration::from_secs(31)),
            "still running: 31 s since CheckIdle"
        );
    }
}
