//! `bluegreen local demo`: a good release with its database migrations
//! (expand before the idle color, contract after the warm window), a release
//! caught by its smoke tests, a release caught in production and rolled
//! back, and an emergency rollback through SNS, each told as a timeline.

use std::time::{Duration, Instant};

use serde_json::json;

use super::example::AppOptions;
use super::{Local, LocalApp};
use bluegreen_action::timeline::{Ending, follow};

const APP: &str = "checkout";

pub async fn run(fast: bool) -> Result<(), String> {
    let started = Instant::now();
    super::emulator::install_moto_if_missing()?;
    println!("bluegreen local demo: the real state machine in a local AWS emulator\n");
    let local = Local::start(fast).await?;
    let options = AppOptions {
        strategy: json!({"type": "weighted", "steps": [50, 100], "bake_seconds": 3}),
        monitor: json!({"min_requests": 0, "probe_requests": 3, "probe_interval_seconds": 1,
                        "probe_timeout_ms": 1000, "version_timeout_seconds": 10}),
        warm_window_seconds: 2,
        extra_config: json!({"deploy_timeout_seconds": 60}),
        ..AppOptions::default()
    };
    let app = local.app(APP, options).await?;
    println!(
        "  emulator          {} (moto), Lambdas in-process on port {}",
        local.emulator.endpoint, local.host.port
    );
    println!("  production        {}", app.production_url);
    println!("  test listener     {}", app.test.url);
    show_production(&app).await;

    scenario(
        &local,
        &app,
        1,
        "A good release: v2, by weights 50% then 100%, with its database migrations",
        "v2",
        // This release migrates the shared database the expand/contract way
        // (an override of this release; the local cluster plays the tasks).
        Some(json!({"migrations": {
            "expand": {"command": ["./migrate", "expand"]},
            "contract": {"command": ["./migrate", "contract"]},
        }})),
    )
    .await?;
    show_migrations(&app);
    scenario(
        &local,
        &app,
        2,
        "A release that fails its smoke tests: v3-broken-health",
        "v3-broken-health",
        None,
    )
    .await?;
    scenario(
        &local,
        &app,
        3,
        "A release that breaks in production: v4-broken-checkout",
        "v4-broken-checkout",
        None,
    )
    .await?;

    println!("\n4. An emergency rollback through SNS while v5 bakes");
    let slow = json!({"strategy": {"type": "all-at-once", "bake_seconds": 60}});
    let execution = local.start_release(APP, "v5", 1, Some(slow)).await?;
    wait_until_live(&app, "v5").await?;
    println!(
        "       v5 is live; publishing {{\"app\": \"{APP}\", \"reason\": \"checkout errors reported by support\"}} to the emergency topic"
    );
    let t = Instant::now();
    local
        .emergency_rollback(APP, "checkout errors reported by support")
        .await?;
    println!(
        "       rolled back in {} ms (SNS delivery, rollback Lambda, listener change)",
        t.elapsed().as_millis()
    );
    let ending = follow(
        &local.sfn,
        &execution,
        Duration::from_secs(60),
        false,
        |s, _| println!("  {:>6.1}s  {:<24} {}", s.at_seconds, s.state, s.text),
    )
    .await?;
    print_ending(&ending);
    show_production(&app).await;

    println!(
        "\ndemo finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn scenario(
    local: &Local,
    app: &LocalApp,
    n: u32,
    title: &str,
    version: &str,
    overrides: Option<serde_json::Value>,
) -> Result<Ending, String> {
    println!("\n{n}. {title}");
    let execution = local.start_release(APP, version, 1, overrides).await?;
    let ending = follow(
        &local.sfn,
        &execution,
        Duration::from_secs(120),
        false,
        |s, _| println!("  {:>6.1}s  {:<24} {}", s.at_seconds, s.state, s.text),
    )
    .await?;
    print_ending(&ending);
    show_production(app).await;
    Ok(ending)
}

fn print_ending(ending: &Ending) {
    match &ending.error {
        Some(error) => println!("  => {} ({error})", ending.status),
        None => println!("  => {}", ending.status),
    }
}

/// The migration tasks the local cluster ran, and what the colors ran then.
fn show_migrations(app: &LocalApp) {
    for m in app.cluster.migrations.lock().unwrap().iter() {
        let revision = |c| {
            m.services
                .get(&c)
                .and_then(|td: &String| td.rsplit(':').next().map(str::to_string))
                .unwrap_or_default()
        };
        println!(
            "  migration: {} of {} ({}) exited {}; blue ran revision {}, green revision {} meanwhile",
            m.phase,
            m.version,
            m.command.join(" "),
            m.exit_code.map_or("-".to_string(), |c| c.to_string()),
            revision(bluegreen_core::Color::Blue),
            revision(bluegreen_core::Color::Green),
        );
    }
}

/// What production serves now, asked over HTTP like a user would.
async fn show_production(app: &LocalApp) {
    let split = app.app.listener_split().await;
    let body = match reqwest::get(format!("{}/version", app.production_url)).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => e.to_string(),
    };
    let state = app.app.stored_state().await;
    let active = state
        .map(|s| {
            format!(
                "{} {}",
                s.active_color,
                s.active_version.unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "-".into());
    println!("  production: {split}; state: {active}; GET /version -> {body}");
}

async fn wait_until_live(app: &LocalApp, version: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(s) = app.app.stored_state().await
            && s.active_version.as_deref() == Some(version)
            && s.weights.weight(s.active_color) == 100
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{version} did not go live within 60 s"))
}
