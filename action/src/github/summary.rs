//! The job summary: Markdown appended to the file `$GITHUB_STEP_SUMMARY` names.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// The job summary file of the current step.
pub fn summary_path_from_env() -> Result<PathBuf> {
    std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or(Error::MissingEnv(
            "GITHUB_STEP_SUMMARY",
            "it is set inside a GitHub Actions step only",
        ))
}

/// Appends `markdown` to the summary at `path`, after what other steps wrote.
pub fn write_summary(path: &Path, markdown: &str) -> Result<()> {
    let error = |source| Error::Summary {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(error)?;
    // Blank lines keep this Markdown apart from what is around it.
    write!(file, "\n{}\n", markdown.trim_end()).map_err(error)
}
