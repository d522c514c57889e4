//! One-off ECS tasks (database migrations) played by the local cluster. moto
//! records a `RunTask` and nothing more; here each task bluegreen started
//! (its `startedBy` begins `bg-`) "runs" as a sample migration whose outcome
//! its release's version names, like the sample apps:
//! - `...-bad-expand` / `...-bad-contract`: that migration exits 1;
//! - `...-slow-migration`: every migration runs until it is stopped;
//! - anything else: exits 0.
//!
//! Its end is reported to moto as ECS would report it (stopped, the
//! container's exit code), and what ran is kept for tests and the demo to
//! read: which migration, for which version, and what each color ran then.

use std::collections::HashMap;

use bluegreen_core::Color;

/// One migration the local cluster ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRan {
    /// `expand` or `contract`.
    pub phase: String,
    pub version: String,
    pub command: Vec<String>,
    /// `None` while it runs (a slow one runs until stopped).
    pub exit_code: Option<i32>,
    /// The task definition each color's service ran when it started.
    pub services: HashMap<Color, String>,
    pub task_arn: String,
}

/// How a sample migration of `version` ends: its exit code, or `None` when
/// it never ends by itself.
pub fn outcome(phase: &str, version: &str) -> Option<i32> {
    if version.contains("slow-migration") {
        None
    } else if version.contains(&format!("bad-{phase}")) {
        Some(1)
    } else {
        Some(0)
    }
}

/// The migration phase a bluegreen `startedBy` tag names (`bg-<phase>-…`).
pub fn phase_of(started_by: &str) -> Option<&str> {
    let rest = started_by.strip_prefix("bg-")?;
    rest.split_once('-').map(|(phase, _)| phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_names_how_its_migrations_end() {
        assert_eq!(outcome("expand", "v2"), Some(0));
        assert_eq!(outcome("expand", "v2-bad-expand"), Some(1));
        assert_eq!(outcome("contract", "v2-bad-expand"), Some(0));
        assert_eq!(outcome("contract", "v2-bad-contract"), Some(1));
        assert_eq!(outcome("expand", "v2-slow-migration"), None);
        assert_eq!(phase_of("bg-expand-0123abcd"), Some("expand"));
        assert_eq!(phase_of("ecs-svc/123"), None);
    }
}
