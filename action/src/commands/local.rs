//! `bluegreen local ARGS`: hands over to `bluegreen-local`, the local mode's
//! own binary, so that the `bluegreen` the action installs on every runner
//! links no Lambda handler, emulator launcher or example provisioning.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Result, anyhow};

pub const LOCAL_BINARY: &str = "bluegreen-local";

/// Runs `bluegreen-local ARGS`: the one installed beside this binary first
/// (a `cargo build` puts both in `target/<profile>/`), else the one on PATH.
pub fn run(args: &[OsString]) -> Result<ExitCode> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(LOCAL_BINARY)));
    let found = beside
        .filter(|p| p.is_file())
        .or_else(|| on_path(LOCAL_BINARY));
    let Some(binary) = found else {
        return Err(anyhow!(
            "the local mode is a separate binary, `{LOCAL_BINARY}`, found neither beside this \
             one nor on PATH. From a clone of bluegreen, run it with \
             `cargo run -q -p bluegreen-local -- {}` or install it with \
             `cargo install --locked --path local`",
            shown(args)
        ));
    };
    hand_over(&binary, args)
}

/// Replaces this process on Unix, so Ctrl-C reaches `bluegreen-local` alone
/// and it cleans up before the shell prompt returns.
#[cfg(unix)]
fn hand_over(binary: &Path, args: &[OsString]) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let error = Command::new(binary).args(args).exec();
    Err(anyhow!("could not run {}: {error}", binary.display()))
}

#[cfg(not(unix))]
fn hand_over(binary: &Path, args: &[OsString]) -> Result<ExitCode> {
    let status = Command::new(binary)
        .args(args)
        .status()
        .map_err(|e| anyhow!("could not run {}: {e}", binary.display()))?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

// A PATH lookup is four lines; the `which` crate would add a dependency to
// every runner's install for them.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn shown(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
