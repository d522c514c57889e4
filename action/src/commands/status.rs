//! `bluegreen status`: what is live for an app, read from the same places the
//! Lambdas read: the stored state, the listener, the lock.

use bluegreen_aws::AwsPorts;
use bluegreen_core::ports::{ExecutionStatus, Executions};
use bluegreen_core::routing::read_split;
use bluegreen_core::store::AppStore;
use serde_json::{Value, json};

pub async fn status(ports: &AwsPorts, app: &str) -> Result<Value, String> {
    let store = AppStore::new(&ports.params, &ports.prefix).map_err(|e| e.to_string())?;
    let config = store.config(app).await.map_err(|e| e.to_string())?;
    let state = store.state(app).await.map_err(|e| e.to_string())?;
    let split = read_split(&ports.lb, &config)
        .await
        .map_err(|e| e.to_string())?;
    let lock = store.lock(app).await.map_err(|e| e.to_string())?;
    let lock = match lock {
        Some(l) => {
            let running = ports
                .executions
                .status(&l.holder)
                .await
                .map_err(|e| e.to_string())?;
            json!({"holder": l.holder, "expires_at": l.expires_at.to_string(),
                   "holder_running": running == ExecutionStatus::Running})
        }
        None => Value::Null,
    };
    Ok(json!({
        "app": app,
        "state": state,
        "listener": split,
        "state_matches_listener": state.as_ref().is_none_or(|s| s.weights == split),
        "lock": lock,
    }))
}

/// The status as a few lines for people.
pub fn render(status: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let state = &status["state"];
    let mut out = format!("app       {}\n", s(&status["app"]));
    if state.is_null() {
        out.push_str("state     none recorded yet (bluegreen has not switched this app)\n");
    } else {
        out.push_str(&format!(
            "active    {} {} ({})\nprevious  {} {}\n",
            s(&state["active_color"]),
            s(&state["active_version"]),
            s(&state["phase"]),
            s(&state["previous_color"]),
            s(&state["previous_version"]),
        ));
        if let Some(release) = state["previous_color_replaced_by"].as_str() {
            out.push_str(&format!(
                "          {} now runs {release}: no rollback target\n",
                s(&state["previous_color"])
            ));
        }
    }
    let l = &status["listener"];
    out.push_str(&format!(
        "listener  blue {}% / green {}%{}\n",
        l["blue"],
        l["green"],
        if status["state_matches_listener"] == true {
            ""
        } else {
            "  (DIFFERS from the stored state)"
        }
    ));
    match status["lock"].as_object() {
        None => out.push_str("lock      free\n"),
        Some(lock) => out.push_str(&format!(
            "lock      held by {} until {}{}\n",
            lock["holder"].as_str().unwrap_or("-"),
            lock["expires_at"].as_str().unwrap_or("-"),
            if lock["holder_running"] == true {
                " (running)"
            } else {
                " (not running: reclaimable)"
            }
        )),
    }
    out
}
