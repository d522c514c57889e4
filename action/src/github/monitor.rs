//! The monitor's verdicts, one row per switch step. The execution document
//! keeps only the latest monitor result (`$.monitor`); the steps before the
//! current one were promoted, or the state machine would not have gone on.

use serde_json::Value;

use super::markdown::cell;

pub(crate) fn section(doc: &Value) -> Option<String> {
    let switch = &doc["switch"];
    let weights: Vec<u64> = switch["steps"]
        .as_array()?
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let current = switch["step"].as_u64()? as usize;
    let monitor = &doc["monitor"];
    let mut out = String::from(
        "#### Monitor\n\n| step | weight | verdict | bake | reasons |\n|---:|---:|---|---|---|\n",
    );
    for (i, weight) in weights.iter().enumerate().take(current + 1) {
        let (verdict, bake, reasons) = if i < current {
            ("✅ promote".to_string(), "done".to_string(), String::new())
        } else if monitor["step"].as_u64() == Some(i as u64) {
            let reasons: Vec<&str> = monitor["reasons"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (
                verdict(monitor["verdict"].as_str().unwrap_or_default()),
                format!(
                    "{} s of {} s",
                    monitor["elapsed_seconds"], monitor["bake_seconds"]
                ),
                cell(&reasons.join("; ")),
            )
        } else {
            ("⏳ waiting".to_string(), String::new(), String::new())
        };
        out.push_str(&format!(
            "| {} of {} | {weight}% | {verdict} | {bake} | {reasons} |\n",
            i + 1,
            weights.len()
        ));
    }
    Some(out)
}

fn verdict(v: &str) -> String {
    match v {
        "promote" => "✅ promote".to_string(),
        "continue" => "⏳ baking".to_string(),
        "breach" => "🔥 breach".to_string(),
        other => cell(other),
    }
}
