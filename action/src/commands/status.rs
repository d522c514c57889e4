//! `bluegreen status`: what is live for an app, read from the same places the
//! Lambdas read: the stored state, the listener, the lock; or one line for
//! every app under the prefix.

use bluegreen_aws::AwsPorts;
use bluegreen_core::ports::{ExecutionStatus, Executions};
use bluegreen_core::routing::read_weights;
use bluegreen_core::store::AppStore;
use serde_json::{Value, json};

pub async fn status(ports: &AwsPorts, app: &str) -> Result<Value, String> {
    let store = AppStore::new(&ports.params, &ports.prefix).map_err(|e| e.to_string())?;
    let config = store.config(app).await.map_err(|e| e.to_string())?;
    let state = store.state(app).await.map_err(|e| e.to_string())?;
    let weights = read_weights(&ports.lb, &config)
        .await
        .map_err(|e| e.to_string())?;
    // Exact weights: 1/999 is shown as such, never rounded to 0/100.
    let split = bluegreen_core::Split::from_weights(weights.blue, weights.green);
    let listener = match split {
        Some(split) => serde_json::to_value(split).unwrap_or(Value::Null),
        None => json!({"blue_weight": weights.blue, "green_weight": weights.green}),
    };
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
    // The last deployment a rollback stopped, and why.
    let stopped = store.fence(app).await.map_err(|e| e.to_string())?.map(|f| {
        // The fence's own serialisation writes `at` as RFC 3339.
        let at = serde_json::to_value(&f).map_or(Value::Null, |v| v["at"].clone());
        json!({"execution": f.holder, "reason": f.reason, "at": at})
    });
    // The previous color stays at full size this long after the switch:
    // the window in which a rollback is instant.
    let warm_window_left = state.as_ref().and_then(|s| {
        let elapsed = (time::OffsetDateTime::now_utc() - s.switched_at?).whole_seconds();
        Some((config.warm_window_seconds as i64 - elapsed).max(0))
    });
    Ok(json!({
        "app": app,
        "warm_window_left_seconds": warm_window_left,
        "state": state,
        "listener": listener,
        "state_matches_listener": state.as_ref().is_none_or(|s| weights.matches(s.weights)),
        "lock": lock,
        "last_stopped_by_rollback": stopped,
    }))
}

/// The apps under `prefix`: those with a config document.
pub async fn apps(ssm: &aws_sdk_ssm::Client, prefix: &str) -> Result<Vec<String>, String> {
    let root = format!("{}/", prefix.trim_end_matches('/'));
    let mut names = vec![];
    let mut pages = ssm
        .get_parameters_by_path()
        .path(&root)
        .recursive(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("list parameters under {root}: {e:?}"))?;
        for p in page.parameters() {
            let rest = p.name().unwrap_or_default().strip_prefix(&root);
            if let Some(app) = rest.and_then(|r| r.strip_suffix("/config"))
                && !app.contains('/')
            {
                names.push(app.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Every app's status, in name order; an app that cannot be read is a
/// document with its `error`, not the end of the list.
pub async fn status_all(ports: &AwsPorts, apps: &[String]) -> Vec<Value> {
    let mut out = Vec::with_capacity(apps.len());
    for app in apps {
        out.push(match status(ports, app).await {
            Ok(s) => s,
            Err(e) => json!({"app": app, "error": e}),
        });
    }
    out
}

/// One line per app: active color and version, weights, phase, lock, and
/// how long the instant rollback stays instant.
pub fn render_all(statuses: &[Value]) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut rows = vec![[
        "APP".to_string(),
        "ACTIVE".into(),
        "VERSION".into(),
        "BLUE/GREEN".into(),
        "PHASE".into(),
        "LOCK".into(),
        "WARM".into(),
    ]];
    for st in statuses {
        if let Some(e) = st["error"].as_str() {
            rows.push([
                s(&st["app"]),
                "?".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("unreadable: {e}"),
            ]);
            continue;
        }
        let state = &st["state"];
        let l = &st["listener"];
        let weights = if l.get("blue").is_some() {
            format!("{}/{}", l["blue"], l["green"])
        } else {
            format!("{}/{} (weights)", l["blue_weight"], l["green_weight"])
        };
        let lock = match st["lock"].as_object() {
            None => "free".to_string(),
            Some(lock) => {
                let holder = s(&lock["holder"]);
                let short = holder.rsplit(':').next().unwrap_or(&holder).to_string();
                if lock["holder_running"] == true {
                    short
                } else {
                    format!("{short} (stale)")
                }
            }
        };
        let warm =
            st["warm_window_left_seconds"]
                .as_i64()
                .map_or("-".to_string(), |secs| match secs {
                    0 => "over".to_string(),
                    s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
                    s => format!("{}m{:02}s", s / 60, s % 60),
                });
        let mut phase = s(&state["phase"]);
        if st["state_matches_listener"] == false {
            phase.push_str(" (DRIFT)");
        }
        rows.push([
            s(&st["app"]),
            s(&state["active_color"]),
            s(&state["active_version"]),
            weights,
            phase,
            lock,
            warm,
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
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
    let shares = if l.get("blue").is_some() {
        format!("blue {}% / green {}%", l["blue"], l["green"])
    } else {
        format!(
            "blue weight {} / green weight {}",
            l["blue_weight"], l["green_weight"]
        )
    };
    out.push_str(&format!(
        "listener  {shares}{}\n",
        if status["state_matches_listener"] == true {
            ""
        } else {
            "  (DIFFERS from the stored state)"
        }
    ));
    if let Some(stopped) = status["last_stopped_by_rollback"].as_object() {
        out.push_str(&format!(
            "stopped   {} at {} by a rollback: {}\n",
            stopped["execution"].as_str().unwrap_or("-"),
            stopped["at"].as_str().unwrap_or("-"),
            stopped["reason"].as_str().unwrap_or("-"),
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_serves_what_is_no_target_and_what_a_rollback_stopped() {
        let status = json!({
            "app": "checkout",
            "state": {"active_color": "green", "active_version": "v2", "phase": "stable",
                      "previous_color": "blue", "previous_version": "v1",
                      "previous_color_replaced_by": "v3"},
            "listener": {"blue": 0, "green": 100},
            "state_matches_listener": true,
            "lock": null,
            "last_stopped_by_rollback": {"execution": "arn:aws:states:…:execution:sm:checkout-v3",
                                         "reason": "5xx", "at": "2026-11-22T10:00:00Z"},
        });
        let text = render(&status);
        assert!(text.contains("active    green v2 (stable)"), "{text}");
        assert!(
            text.contains("blue now runs v3: no rollback target"),
            "{text}"
        );
        assert!(
            text.contains("stopped   arn:aws:states:…:execution:sm:checkout-v3 at 2026-11-22T10:00:00Z by a rollback: 5xx"),
            "{text}"
        );
        assert!(text.contains("lock      free"), "{text}");
    }
}
