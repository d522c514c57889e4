//! `bluegreen local up`: the local AWS (emulator, in-process Lambdas, the
//! state machine, the emergency topic) and example apps, kept running until
//! Ctrl-C, with what to export so that `bluegreen deploy`, `status` and
//! `rollback` work against it unchanged, as on AWS.

use std::collections::HashMap;

use bluegreen_core::Color;
use serde_json::json;

use super::example::{AppOptions, PREFIX};
use super::{Local, LocalApp};

/// A color served by the user's own app: `[APP/]COLOR=URL` (without APP:
/// the first app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColorUrl {
    pub app: Option<String>,
    pub color: Color,
    pub url: String,
}

impl std::str::FromStr for ColorUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<ColorUrl, String> {
        let (target, url) = s.split_once('=').ok_or_else(|| {
            format!("`{s}`: write [APP/]COLOR=URL, e.g. green=http://127.0.0.1:8080")
        })?;
        let (app, color) = match target.split_once('/') {
            Some((app, color)) => (Some(app.to_string()), color),
            None => (None, target),
        };
        let color = match color {
            "blue" => Color::Blue,
            "green" => Color::Green,
            other => return Err(format!("`{other}` is not a color (blue or green)")),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("`{url}` is not an http(s) URL"));
        }
        Ok(ColorUrl {
            app,
            color,
            url: url.trim_end_matches('/').to_string(),
        })
    }
}

/// The example app's config in the playground: short bakes, probes through
/// the local production listener, no ALB metrics (there are none locally).
fn options() -> AppOptions {
    AppOptions {
        strategy: json!({"type": "weighted", "steps": [50, 100], "bake_seconds": 10}),
        monitor: json!({"min_requests": 0, "probe_requests": 3, "probe_interval_seconds": 1,
                        "probe_timeout_ms": 1000, "version_timeout_seconds": 10}),
        warm_window_seconds: 60,
        failed_color_grace_seconds: 60,
        extra_config: json!({"deploy_timeout_seconds": 60}),
        ..AppOptions::default()
    }
}

/// Starts everything, prints the exports, and waits for Ctrl-C (or SIGTERM);
/// everything started is stopped when this returns.
pub async fn run(apps: &[String], color_urls: &[ColorUrl]) -> Result<(), String> {
    super::emulator::install_moto_if_missing()?;
    let apps: Vec<String> = if apps.is_empty() {
        vec!["web".to_string()]
    } else {
        apps.to_vec()
    };
    for c in color_urls {
        let app = c.app.as_ref().unwrap_or(&apps[0]);
        if !apps.contains(app) {
            return Err(format!(
                "--color-url names app `{app}`, which is not among --app"
            ));
        }
    }
    let local = Local::start(true).await?;
    let mut running: Vec<(String, LocalApp)> = vec![];
    for name in &apps {
        let own: HashMap<Color, String> = color_urls
            .iter()
            .filter(|c| c.app.as_ref().unwrap_or(&apps[0]) == name)
            .map(|c| (c.color, c.url.clone()))
            .collect();
        running.push((name.clone(), local.app_with(name, options(), own).await?));
    }
    let endpoint = format!("http://127.0.0.1:{}", local.host.port);
    println!("# emulator {} (moto)", local.emulator.endpoint);
    println!("# bluegreen local: a local AWS with the real state machine. Paste these, then");
    println!("# run bluegreen deploy / status / rollback as on AWS. Ctrl-C stops everything.");
    println!("export AWS_ENDPOINT_URL={endpoint}");
    println!("export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1");
    println!("export AWS_EC2_METADATA_DISABLED=true");
    println!("export BLUEGREEN_PREFIX={PREFIX}");
    // Each app has its own state machine: the first app's is the default.
    println!(
        "export BLUEGREEN_STATE_MACHINE_ARN={}",
        running[0].1.state_machine_arn
    );
    println!(
        "export BLUEGREEN_EMERGENCY_TOPIC_ARN={}",
        local.emergency_topic_arn
    );
    for (name, app) in &running {
        println!(
            "# app {name}: production {}  test {}  state machine {}  (release images \
             example/{name}:<version>; versions ending -broken-health or -broken-checkout misbehave)",
            app.production_url, app.test.url, app.state_machine_arn
        );
    }
    println!("# ready");
    wait_for_stop().await;
    println!("# stopping");
    drop(running);
    drop(local);
    Ok(())
}

#[cfg(unix)]
async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_stop() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_urls_name_an_optional_app_a_color_and_a_url() {
        let c: ColorUrl = "green=http://127.0.0.1:8080/".parse().unwrap();
        assert_eq!(
            (c.app, c.color, c.url.as_str()),
            (None, Color::Green, "http://127.0.0.1:8080")
        );
        let c: ColorUrl = "api/blue=http://localhost:9000".parse().unwrap();
        assert_eq!(c.app.as_deref(), Some("api"));
        assert!(
            "purple=http://x"
                .parse::<ColorUrl>()
                .unwrap_err()
                .contains("not a color")
        );
        assert!(
            "green=localhost:1"
                .parse::<ColorUrl>()
                .unwrap_err()
                .contains("http(s)")
        );
        assert!(
            "green"
                .parse::<ColorUrl>()
                .unwrap_err()
                .contains("COLOR=URL")
        );
    }
}
