//! The CLI's commands: what the GitHub Action and operators run.

pub mod deploy;
pub mod gate;
pub mod heartbeat;
pub mod local;
pub mod migrate;
pub mod report;
pub mod rollback;
pub mod schema;
pub mod smoke;
pub mod status;
pub mod validate;

/// Exit code of `smoke` when a check did not pass.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of `smoke` and `validate` for bad input (a missing file, a
/// malformed spec, config or override), as for a bad command line.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of `deploy` when it cannot tell how the release ends: it
/// stopped following at `--timeout-minutes` while the execution went on.
pub const EXIT_UNKNOWN: u8 = 3;

/// A Step Functions execution name: at most 80 of `[A-Za-z0-9_-]`. Derived
/// from the app, the version and the CI run, so that a retried job step
/// finds the execution it already started instead of starting another.
pub fn execution_name(app: &str, version: &str, run: &str) -> String {
    let raw = format!("{app}-{version}-{run}");
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.len() <= 80 {
        return clean;
    }
    // Keep the run (the end) and as much of the start as fits.
    let tail = format!(
        "-{}",
        run.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    );
    let head: String = clean.chars().take(80 - tail.len().min(40)).collect();
    format!("{head}{}", &tail[..tail.len().min(40)])
}

/// The CI run this invocation belongs to: `<run id>-<attempt>` in GitHub
/// Actions, `local` elsewhere.
pub fn ci_run() -> String {
    match (
        std::env::var("GITHUB_RUN_ID"),
        std::env::var("GITHUB_RUN_ATTEMPT"),
    ) {
        (Ok(id), Ok(attempt)) => format!("{id}-{attempt}"),
        (Ok(id), Err(_)) => id,
        _ => "local".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_are_valid_and_deterministic() {
        assert_eq!(
            execution_name("checkout", "3f2c1ab", "1234-1"),
            "checkout-3f2c1ab-1234-1"
        );
        assert_eq!(execution_name("a", "v1.2+b/3", "9"), "a-v1-2-b-3-9");
        let long = execution_name(&"x".repeat(60), &"y".repeat(60), "987654321-2");
        assert!(long.len() <= 80, "{long}");
        assert!(long.ends_with("-987654321-2"), "{long}");
    }
}
