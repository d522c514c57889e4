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

/// Exit code of a command refused or failed as the world stands (a smoke
/// check that did not pass, a release that did not go live, nothing waits
/// at a gate, the lock is held).
pub const EXIT_FAILED: u8 = 1;
/// Exit code for bad input (a missing file, a malformed spec, config or
/// override, an unknown app), as for a bad command line.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when a command cannot tell: AWS or GitHub could not be asked,
/// or `deploy` stopped following at `--timeout-minutes`.
pub const EXIT_UNKNOWN: u8 = 3;

/// Why a command did not do what it was asked, and the exit code it ends
/// with: the same four codes for every command (0 done; 1 refused or failed,
/// as the world stands; 2 bad input; 3 could not tell: AWS or GitHub could
/// not be asked, or did not answer in time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_BAD_INPUT,
            message: message.into(),
        }
    }

    pub fn unknown(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_UNKNOWN,
            message: message.into(),
        }
    }

    /// A step's error: bad input (an unknown app) 2, an AWS call that
    /// failed 3, any other (a refusal: the lock held, drift, nothing to roll
    /// back to) 1.
    pub fn of(e: &bluegreen_core::Error) -> Failure {
        let code = match e {
            bluegreen_core::Error::BadInput { .. } | bluegreen_core::Error::UnknownApp { .. } => {
                EXIT_BAD_INPUT
            }
            bluegreen_core::Error::Port(_) => EXIT_UNKNOWN,
            _ => EXIT_FAILED,
        };
        Failure {
            code,
            message: format!("{} ({})", e, e.error_type()),
        }
    }

    /// Says it (an `::error::` line in Actions) and ends with its code;
    /// with `json`, stdout gets `{"error": ..., "exit_code": ...}` instead
    /// and the words go to stderr, so that stdout is one JSON document.
    pub fn report(&self, json: bool) -> std::process::ExitCode {
        if json {
            eprintln!("error: {}", self.message);
            println!(
                "{}",
                serde_json::json!({"error": self.message, "exit_code": self.code})
            );
        } else {
            crate::ci::error(&self.message);
        }
        std::process::ExitCode::from(self.code)
    }
}

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
