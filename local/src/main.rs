//! `bluegreen-local`: the local mode, a binary of its own so the released
//! `bluegreen` links neither the Lambda handlers nor the emulator launcher.
//! `bluegreen local ARGS` runs this binary when it is installed beside it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bluegreen-local",
    version,
    about = "Everything on this machine, no AWS account: the real state machine in a local AWS emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run four releases through the real state machine in a local AWS
    /// emulator and tell each as a timeline: good, caught by smoke tests,
    /// caught in production, and rolled back through SNS.
    Demo {
        /// Shorten the state machine's fixed waits to one second.
        #[arg(long)]
        fast: bool,
    },
    /// Start a local AWS (emulator, Lambdas, state machine, emergency topic)
    /// and example apps, print what to export, and keep them up until
    /// Ctrl-C: then `bluegreen deploy`, `status` and `rollback` work against
    /// it as on AWS.
    Up {
        /// An example app to run (repeatable); default: one named `web`.
        #[arg(long = "app", value_name = "NAME")]
        apps: Vec<String>,
        /// Serve a color with your own app instead of a sample, so smoke
        /// tests and probes hit real code: `[APP/]COLOR=URL`, e.g.
        /// `green=http://127.0.0.1:8080` (repeatable).
        #[arg(long = "color-url", value_name = "[APP/]COLOR=URL")]
        color_urls: Vec<bluegreen_local::up::ColorUrl>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BLUEGREEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Up { apps, color_urls } => bluegreen_local::up::run(&apps, &color_urls)
            .await
            .map_err(|e| format!("bluegreen local up: {e}")),
        Command::Demo { fast } => bluegreen_local::demo::run(fast)
            .await
            .map_err(|e| format!("the local demo failed: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
