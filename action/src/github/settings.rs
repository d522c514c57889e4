//! Where the client talks to and as whom: explicit values, or the variables
//! GitHub Actions sets.

use std::fmt;

use super::error::{Error, Result};

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A GitHub token. It has no `Display`, and its `Debug` hides it, so it
/// cannot end up in a log line or an error by accident.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub token: Token,
    /// `https://api.github.com`, or `https://<host>/api/v3` on GitHub Enterprise Server.
    pub api_url: String,
    pub owner: String,
    pub repo: String,
}

impl Settings {
    /// From `GITHUB_TOKEN`, `GITHUB_API_URL` (optional) and `GITHUB_REPOSITORY`.
    pub fn from_env() -> Result<Settings> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Settings::from_env`], reading variables through `var`: tests
    /// need not change the process environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let var = |name| var(name).filter(|v| !v.trim().is_empty());
        let token = var("GITHUB_TOKEN").ok_or(Error::MissingEnv(
            "GITHUB_TOKEN",
            "pass `env: GITHUB_TOKEN: ${{ github.token }}` to the step",
        ))?;
        let repository = var("GITHUB_REPOSITORY").ok_or(Error::MissingEnv(
            "GITHUB_REPOSITORY",
            "it names the repository as `owner/name`",
        ))?;
        let (owner, repo) = split_repository(&repository)?;
        Ok(Settings {
            token: Token::new(token.trim()),
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            owner,
            repo,
        })
    }
}

fn split_repository(repository: &str) -> Result<(String, String)> {
    match repository.split_once('/') {
        Some((owner, repo)) if !owner.is_empty() && !repo.is_empty() && !repo.contains('/') => {
            Ok((owner.to_string(), repo.to_string()))
        }
        _ => Err(Error::InvalidSetting {
            name: "GITHUB_REPOSITORY",
            problem: format!("expected `owner/name`, got `{repository}`"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_the_actions_variables() {
        let s = Settings::from_lookup(lookup(&[
            ("GITHUB_TOKEN", "ghs_secret\n"),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
        ]))
        .unwrap();
        assert_eq!((s.owner.as_str(), s.repo.as_str()), ("octo", "shop"));
        assert_eq!(s.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(s.token.expose(), "ghs_secret");

        let s = Settings::from_lookup(lookup(&[
            ("GITHUB_TOKEN", "ghs_secret"),
            ("GITHUB_REPOSITORY", "octo/shop"),
        ]))
        .unwrap();
        assert_eq!(s.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn names_the_missing_variable() {
        let e = Settings::from_lookup(lookup(&[("GITHUB_REPOSITORY", "octo/shop")])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("environment variable GITHUB_TOKEN is not set"),
            "{e}"
        );
        let e = Settings::from_lookup(lookup(&[("GITHUB_TOKEN", "t"), ("GITHUB_REPOSITORY", " ")]))
            .unwrap_err();
        assert!(
            e.to_string().contains("GITHUB_REPOSITORY is not set"),
            "{e}"
        );
        let e = Settings::from_lookup(lookup(&[
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_REPOSITORY", "shop"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string().contains("expected `owner/name`, got `shop`"),
            "{e}"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let s = Settings {
            token: Token::new("ghs_secret"),
            api_url: DEFAULT_API_URL.into(),
            owner: "o".into(),
            repo: "r".into(),
        };
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("ghs_secret") && debug.contains("Token(***)"),
            "{debug}"
        );
    }
}
