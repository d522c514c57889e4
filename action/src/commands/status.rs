//! `bluegreen status`: what is live for an app, read from the same places the
//! Lambdas read: the stored state, the listener, the lock; or one line for
//! every app under the prefix.

use bluegreen_aws::AwsPorts;
use bluegreen_core::ports::{ExecutionStatus, Executions, Services};
use bluegreen_core::records::state::AppState;
use bluegreen_core::records::store::AppStore;
use bluegreen_core::world::routing::read_weights;
use bluegreen_core::{Color, Split};
use serde::Serialize;
use time::OffsetDateTime;

/// One app's status: what `--json` prints and the rendering reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppStatus {
    pub app: String,
    /// Seconds the previous color stays at full size (the window in which a
    /// rollback is instant); `None` before any switch.
    pub warm_window_left_seconds: Option<i64>,
    /// The stored record; `None` before bluegreen first switched the app.
    pub state: Option<AppState>,
    /// What the production listener really does.
    pub listener: Shares,
    pub state_matches_listener: bool,
    pub lock: Option<LockStatus>,
    /// The last deployment a rollback stopped, and why.
    pub last_stopped_by_rollback: Option<Stopped>,
    /// Each color's tasks, as ECS says (during the warm window both colors
    /// hold their connections to a shared database).
    pub tasks: Tasks,
    /// Where the database schema stands, for an app with migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TaskCount {
    pub desired: i32,
    pub running: i32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tasks {
    pub blue: TaskCount,
    pub green: TaskCount,
}

/// The schema's position: the release whose contract ran last (a rollback
/// to an older one is refused), and the latest migration runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schema {
    pub contracted: Option<bluegreen_core::records::migrations::Contracted>,
    pub runs: Vec<bluegreen_core::records::migrations::MigrationRun>,
}

impl AppStatus {
    /// The color serving production and its release: the color the listener
    /// sends all traffic to (the world), with the version the record gives
    /// that color; the record's active color while traffic is split.
    pub fn serving(&self) -> (String, String) {
        let whole = match self.listener {
            Shares::Percent(split) if split.blue == 100 => Some(Color::Blue),
            Shares::Percent(split) if split.green == 100 => Some(Color::Green),
            _ => None,
        };
        let state = self.state.as_ref();
        let Some(color) = whole.or(state.map(|s| s.active_color)) else {
            return Default::default();
        };
        let version = state.and_then(|s| {
            if s.active_color == color {
                s.active_version.clone()
            } else {
                // A release deployed onto the previous color replaced what
                // it ran before.
                s.previous_color_replaced_by
                    .clone()
                    .or_else(|| s.previous_version.clone())
            }
        });
        (color.to_string(), version.unwrap_or_default())
    }
}

/// The listener's split in percent, or its raw weights when they are not
/// percentages (1/999 is shown as such, never rounded to 0/100).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Shares {
    Percent(Split),
    Weights { blue_weight: u32, green_weight: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockStatus {
    pub holder: String,
    pub expires_at: String,
    pub holder_running: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stopped {
    pub execution: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// An app of `status` without `--app`: its status, or why it is unreadable
/// (one bad app is a line, not the end of the list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Listed {
    Read(Box<AppStatus>),
    Unreadable { app: String, error: String },
}

pub async fn status(ports: &AwsPorts, app: &str) -> Result<AppStatus, bluegreen_core::Error> {
    let store = AppStore::new(&ports.params, &ports.prefix)?;
    let config = store.config(app).await?;
    let state = store.state(app).await?;
    let weights = read_weights(&ports.lb, &config).await?;
    let listener = match Split::from_weights(weights.blue, weights.green) {
        Some(split) => Shares::Percent(split),
        None => Shares::Weights {
            blue_weight: weights.blue,
            green_weight: weights.green,
        },
    };
    let lock = match store.lock(app).await? {
        Some(l) => {
            let running = ports.executions.status(&l.holder).await?;
            Some(LockStatus {
                holder: l.holder,
                expires_at: l.expires_at.to_string(),
                holder_running: running == ExecutionStatus::Running,
            })
        }
        None => None,
    };
    let stopped = store.fence(app).await?.map(|f| Stopped {
        execution: f.holder,
        reason: f.reason,
        at: f.at,
    });
    let mut tasks = Tasks::default();
    for color in Color::BOTH {
        let info = ports
            .services
            .describe(&config.cluster, &config.color(color).service)
            .await?;
        let count = TaskCount {
            desired: info.desired,
            running: info.running,
        };
        match color {
            Color::Blue => tasks.blue = count,
            Color::Green => tasks.green = count,
        }
    }
    let schema = match &config.migrations {
        Some(_) => {
            let record = store.migrations(app).await?;
            Some(Schema {
                contracted: record.contracted,
                runs: record.runs,
            })
        }
        None => None,
    };
    let warm_window_left = state.as_ref().and_then(|s| {
        let elapsed = (OffsetDateTime::now_utc() - s.switched_at?).whole_seconds();
        Some((config.warm_window_seconds as i64 - elapsed).max(0))
    });
    Ok(AppStatus {
        app: app.to_string(),
        warm_window_left_seconds: warm_window_left,
        state_matches_listener: state.as_ref().is_none_or(|s| weights.matches(s.weights)),
        state,
        listener,
        lock,
        last_stopped_by_rollback: stopped,
        tasks,
        schema,
    })
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

/// Every app's status, in name order.
pub async fn status_all(ports: &AwsPorts, apps: &[String]) -> Vec<Listed> {
    let mut out = Vec::with_capacity(apps.len());
    for app in apps {
        out.push(match status(ports, app).await {
            Ok(s) => Listed::Read(Box::new(s)),
            Err(error) => Listed::Unreadable {
                app: app.clone(),
                error: error.to_string(),
            },
        });
    }
    out
}

fn phase(state: &AppState) -> String {
    serde_json::to_value(state.phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn version(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".to_string())
}

/// One line per app: active color and version, weights, phase, lock, and
/// how long the instant rollback stays instant.
pub fn render_all(statuses: &[Listed]) -> String {
    let mut rows = vec![[
        "APP".to_string(),
        "ACTIVE".into(),
        "VERSION".into(),
        "BLUE/GREEN".into(),
        "PHASE".into(),
        "LOCK".into(),
        "WARM".into(),
    ]];
    for listed in statuses {
        let st = match listed {
            Listed::Read(st) => st,
            Listed::Unreadable { app, error } => {
                rows.push([
                    app.clone(),
                    "?".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("unreadable: {error}"),
                ]);
                continue;
            }
        };
        let weights = match st.listener {
            Shares::Percent(split) => format!("{}/{}", split.blue, split.green),
            Shares::Weights {
                blue_weight,
                green_weight,
            } => format!("{blue_weight}/{green_weight} (weights)"),
        };
        let lock = match &st.lock {
            None => "free".to_string(),
            Some(lock) => {
                let short = lock.holder.rsplit(':').next().unwrap_or(&lock.holder);
                if lock.holder_running {
                    short.to_string()
                } else {
                    format!("{short} (stale)")
                }
            }
        };
        let warm = st
            .warm_window_left_seconds
            .map_or("-".to_string(), |secs| match secs {
                0 => "over".to_string(),
                s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
                s => format!("{}m{:02}s", s / 60, s % 60),
            });
        let (active, active_version, mut phase) = match &st.state {
            Some(state) => (
                state.active_color.to_string(),
                version(&state.active_version),
                phase(state),
            ),
            None => ("-".to_string(), "-".to_string(), "-".to_string()),
        };
        if !st.state_matches_listener {
            phase.push_str(" (DRIFT)");
        }
        rows.push([
            st.app.clone(),
            active,
            active_version,
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
pub fn render(status: &AppStatus) -> String {
    let mut out = format!("app       {}\n", status.app);
    match &status.state {
        None => out.push_str("state     none recorded yet (bluegreen has not switched this app)\n"),
        Some(state) => {
            out.push_str(&format!(
                "active    {} {} ({})\nprevious  {} {}\n",
                state.active_color,
                version(&state.active_version),
                phase(state),
                state.previous_color,
                version(&state.previous_version),
            ));
            if let Some(release) = &state.previous_color_replaced_by {
                out.push_str(&format!(
                    "          {} now runs {release}: no rollback target\n",
                    state.previous_color
                ));
            }
        }
    }
    let shares = match status.listener {
        Shares::Percent(split) => format!("blue {}% / green {}%", split.blue, split.green),
        Shares::Weights {
            blue_weight,
            green_weight,
        } => format!("blue weight {blue_weight} / green weight {green_weight}"),
    };
    out.push_str(&format!(
        "listener  {shares}{}\n",
        if status.state_matches_listener {
            ""
        } else {
            "  (DIFFERS from the stored state)"
        }
    ));
    out.push_str(&format!(
        "tasks     blue {}/{} running, green {}/{} running\n",
        status.tasks.blue.running,
        status.tasks.blue.desired,
        status.tasks.green.running,
        status.tasks.green.desired,
    ));
    if let Some(schema) = &status.schema {
        out.push_str(&render_schema(schema));
    }
    if let Some(stopped) = &status.last_stopped_by_rollback {
        let at = stopped
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        out.push_str(&format!(
            "stopped   {} at {at} by a rollback: {}\n",
            stopped.execution, stopped.reason,
        ));
    }
    match &status.lock {
        None => out.push_str("lock      free\n"),
        Some(lock) => out.push_str(&format!(
            "lock      held by {} until {}{}\n",
            lock.holder,
            lock.expires_at,
            if lock.holder_running {
                " (running)"
            } else {
                " (not running: reclaimable)"
            }
        )),
    }
    out
}

/// The schema's position and the latest run, in a line or two.
fn render_schema(schema: &Schema) -> String {
    use bluegreen_core::records::migrations::RunStatus;
    let mut out = match &schema.contracted {
        Some(c) => format!(
            "schema    contracted by {} at {}: {} can no longer run (a rollback to it is refused)\n",
            c.version,
            c.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            c.retired_version
                .as_deref()
                .or(c.retired_task_definition.as_deref())
                .unwrap_or("the release before"),
        ),
        None => "schema    never contracted\n".to_string(),
    };
    if let Some(run) = schema.runs.last() {
        let how = match (run.status, run.exit_code) {
            (RunStatus::Running, _) => "running".to_string(),
            (RunStatus::Succeeded, _) => "succeeded".to_string(),
            (RunStatus::TimedOut, _) => "timed out".to_string(),
            (RunStatus::Failed, Some(code)) => format!("failed (exit code {code})"),
            (RunStatus::Failed, None) => "failed".to_string(),
        };
        out.push_str(&format!(
            "          last migration: {} of {} {how}{}\n",
            run.phase,
            run.version,
            run.log
                .as_ref()
                .map(|l| format!(", log {}", l.url()))
                .unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_what_serves_what_is_no_target_and_what_a_rollback_stopped() {
        let state: AppState = serde_json::from_value(json!({
            "active_color": "green", "active_version": "v2", "phase": "stable",
            "previous_color": "blue", "previous_version": "v1",
            "previous_color_replaced_by": "v3", "weights": {"blue": 0, "green": 100},
            "last_execution_arn": null, "switched_at": null,
        }))
        .unwrap();
        let status = AppStatus {
            app: "checkout".into(),
            warm_window_left_seconds: None,
            state: Some(state),
            listener: Shares::Percent(Split {
                blue: 0,
                green: 100,
            }),
            state_matches_listener: true,
            lock: None,
            last_stopped_by_rollback: Some(Stopped {
                execution: "arn:aws:states:…:execution:sm:checkout-v3".into(),
                reason: "5xx".into(),
                at: time::macros::datetime!(2026-11-22 10:00:00 UTC),
            }),
            tasks: Tasks {
                blue: TaskCount {
                    desired: 1,
                    running: 1,
                },
                green: TaskCount {
                    desired: 2,
                    running: 2,
                },
            },
            schema: Some(Schema {
                contracted: Some(bluegreen_core::records::migrations::Contracted {
                    version: "v2".into(),
                    task_definition: "arn:aws:ecs:us-east-1:1:task-definition/checkout:2".into(),
                    retired_version: Some("v1".into()),
                    retired_task_definition: None,
                    at: time::macros::datetime!(2026-11-22 11:00:00 UTC),
                }),
                runs: vec![],
            }),
        };
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
        assert!(
            text.contains("tasks     blue 1/1 running, green 2/2 running"),
            "{text}"
        );
        assert!(
            text.contains(
                "schema    contracted by v2 at 2026-11-22T11:00:00Z: v1 can no longer run"
            ),
            "{text}"
        );
        // The JSON is the same document `--json` printed before it was typed.
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["listener"], json!({"blue": 0, "green": 100}));
        assert_eq!(
            json["last_stopped_by_rollback"]["at"],
            "2026-11-22T10:00:00Z"
        );
        assert_eq!(json["state"]["active_color"], "green");
    }
}
