//! What can go wrong talking to GitHub. No message is built from the token;
//! text that comes from outside (GitHub's answers, transport errors) passes
//! through the client's redaction first.

use std::path::PathBuf;

/// The HTTP methods this module sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("environment variable {0} is not set; {1}")]
    MissingEnv(&'static str, &'static str),

    #[error("invalid GitHub setting `{name}`: {problem}")]
    InvalidSetting { name: &'static str, problem: String },

    #[error("GitHub {method} {path}: HTTP {status}: {message}")]
    Api {
        method: Method,
        path: String,
        status: u16,
        message: String,
    },

    #[error("GitHub {method} {path}: {problem}")]
    Transport {
        method: Method,
        path: String,
        problem: String,
    },

    #[error(
        "GitHub {method} {path}: rate limited; GitHub asks to wait {wait_seconds} s, longer than the {max_wait_seconds} s this run waits"
    )]
    RateLimited {
        method: Method,
        path: String,
        wait_seconds: u64,
        max_wait_seconds: u64,
    },

    #[error("GitHub {method} {path}: still failing after {attempts} attempts; last: {last}")]
    GaveUp {
        method: Method,
        path: String,
        attempts: u32,
        last: String,
    },

    #[error("GitHub {method} {path}: unexpected answer: {problem}")]
    Decode {
        method: Method,
        path: String,
        problem: String,
    },

    #[error("could not append to the job summary {}: {source}", path.display())]
    Summary {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the request may have taken effect although it failed (a
    /// server error, a broken connection): check before sending it again.
    pub(crate) fn may_have_landed(&self) -> bool {
        matches!(
            self,
            Error::Transport { .. } | Error::Api { status: 500.., .. }
        )
    }
}
