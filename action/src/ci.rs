//! Speaking to the CI runner: collapsible log groups, step outputs. Outside
//! GitHub Actions these degrade to plain text and no-ops.

use std::io::Write;

/// True inside a GitHub Actions job.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Starts a collapsible group in the job log.
pub fn group(title: &str) {
    if in_actions() {
        println!("::group::{}", escape(title));
    } else {
        println!("{title}");
    }
}

pub fn end_group() {
    if in_actions() {
        println!("::endgroup::");
    }
}

/// An error annotation in the job, a plain line elsewhere.
pub fn error(message: &str) {
    if in_actions() {
        println!("::error::{}", escape(message));
    } else {
        eprintln!("error: {message}");
    }
}

/// A warning annotation in the job, a plain line elsewhere.
pub fn warning(message: &str) {
    if in_actions() {
        println!("::warning::{}", escape(message));
    } else {
        eprintln!("warning: {message}");
    }
}

/// Workflow commands end at a newline and treat `%` specially.
fn escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Appends `name=value` lines to `$GITHUB_OUTPUT` when it is set.
pub fn set_outputs(outputs: &[(&str, &str)]) -> std::io::Result<()> {
    let Ok(path) = std::env::var("GITHUB_OUTPUT") else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for (name, value) in outputs {
        // Values are single-line (ARNs, colors, versions); keep them so.
        let value = value.replace(['\n', '\r'], " ");
        writeln!(file, "{name}={value}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_workflow_command_data() {
        assert_eq!(escape("50% done\nnext"), "50%25 done%0Anext");
    }
}
