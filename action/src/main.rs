//! `bluegreen`: what the GitHub Action runs, and the local mode.

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bluegreen",
    version,
    about = "Blue-green deployments for ECS behind an ALB"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything on this machine, no AWS account: the local AWS emulator,
    /// the Lambdas in-process, sample apps as local HTTP servers.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Run four releases through the real state machine and tell each as a
    /// timeline: good, caught by smoke tests, caught in production, and an
    /// emergency rollback through SNS.
    Demo {
        /// Shorten the state machine's fixed waits to one second.
        #[arg(long)]
        fast: bool,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BLUEGREEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Local {
            command: LocalCommand::Demo { fast },
        } => {
            if let Err(e) = bluegreen_action::local::demo::run(fast).await {
                bail!("the local demo failed: {e}");
            }
        }
    }
    Ok(())
}
