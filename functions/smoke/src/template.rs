//! `{{...}}` placeholders in URLs, header values and bodies. Templates are
//! parsed when the spec is, so a typo in a placeholder is a spec error and
//! rendering can only fail on a value that is not there.

use std::fmt;

/// What a placeholder refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Var {
    /// `{{base_url}}`: the idle color's test URL.
    BaseUrl,
    /// `{{version}}`: the release under test, so a test can prove it reached
    /// the new version and not the color serving production.
    Version,
    /// `{{env.NAME}}`: the process environment. A secret.
    Env(String),
    /// `{{ssm:/name}}`: a parameter-store value, decrypted. A secret.
    Ssm(String),
    /// `{{name}}`: what an earlier test captured. A secret.
    Capture(String),
}

impl Var {
    fn parse(inner: &str) -> Result<Var, String> {
        let name = inner.trim();
        if name == "base_url" {
            return Ok(Var::BaseUrl);
        }
        if name == "version" {
            return Ok(Var::Version);
        }
        if let Some(env) = name.strip_prefix("env.") {
            if !is_env_name(env) {
                return Err(format!(
                    "`{{{{{name}}}}}`: `{env}` is not an environment variable name"
                ));
            }
            // The function's own credentials live in AWS_* variables; a spec
            // must not be able to send them anywhere.
            if env.starts_with("AWS_") {
                return Err(format!(
                    "`{{{{{name}}}}}`: AWS_* variables hold the function's own credentials and settings and are not available to smoke tests"
                ));
            }
            return Ok(Var::Env(env.to_string()));
        }
        if let Some(parameter) = name.strip_prefix("ssm:") {
            if parameter.is_empty() || parameter.chars().any(char::is_whitespace) {
                return Err(format!(
                    "`{{{{{name}}}}}`: `{parameter}` is not a parameter name"
                ));
            }
            return Ok(Var::Ssm(parameter.to_string()));
        }
        if is_capture_name(name) {
            return Ok(Var::Capture(name.to_string()));
        }
        Err(format!(
            "`{{{{{name}}}}}` is not a variable: use `base_url`, `version`, `env.NAME`, `ssm:/parameter` or the name of a capture"
        ))
    }

    /// Values from the environment, the parameter store and captures are
    /// secrets; only the base URL and the version are not.
    pub fn is_secret(&self) -> bool {
        !matches!(self, Var::BaseUrl | Var::Version)
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::BaseUrl => f.write_str("base_url"),
            Var::Version => f.write_str("version"),
            Var::Env(name) => write!(f, "env.{name}"),
            Var::Ssm(name) => write!(f, "ssm:{name}"),
            Var::Capture(name) => f.write_str(name),
        }
    }
}

/// Capture names: a letter or `_`, then letters, digits, `_` or `-`.
/// `base_url` and `version` are taken.
pub fn is_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name != "base_url"
        && name != "version"
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A string with placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; the error says what is wrong (the caller knows where).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err("`{{` without a closing `}}`".to_string());
            };
            parts.push(Part::Var(Var::parse(&after[..end])?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// The text as written in the spec: safe to show, it holds no values.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }

    /// Fills in every placeholder with `lookup`; the error is the first
    /// variable `lookup` has no value for.
    pub fn render<'v>(&self, lookup: &impl Fn(&Var) -> Option<&'v str>) -> Result<String, Var> {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(var) => out.push_str(lookup(var).ok_or_else(|| var.clone())?),
            }
        }
        Ok(out)
    }
}

/// A JSON body whose string values may hold placeholders. Keys are taken as
/// written, and a placeholder always renders into a string: `"{{n}}"` with
/// `n = 5` is `"5"`, not `5`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Plain(serde_json::Value),
    String(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Parses every string in `value`. On error: the path below `at` of the
    /// offending string, and what is wrong with it.
    pub fn parse(value: &serde_json::Value, at: &str) -> Result<JsonTemplate, (String, String)> {
        use serde_json::Value;
        Ok(match value {
            Value::String(s) => {
                JsonTemplate::String(Template::parse(s).map_err(|p| (at.to_string(), p))?)
            }
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| JsonTemplate::parse(v, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::parse(v, &format!("{at}.{k}"))?)))
                    .collect::<Result<_, (String, String)>>()?,
            ),
            other => JsonTemplate::Plain(other.clone()),
        })
    }

    pub fn vars(&self) -> Vec<&Var> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<&'a Var>) {
        match self {
            JsonTemplate::Plain(_) => {}
            JsonTemplate::String(t) => out.extend(t.vars()),
            JsonTemplate::Array(items) => items.iter().for_each(|i| i.collect_vars(out)),
            JsonTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.collect_vars(out)),
        }
    }

    pub fn render<'v>(
        &self,
        lookup: &impl Fn(&Var) -> Option<&'v str>,
    ) -> Result<serde_json::Value, Var> {
        use serde_json::Value;
        Ok(match self {
            JsonTemplate::Plain(v) => v.clone(),
            JsonTemplate::String(t) => Value::String(t.render(lookup)?),
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(lookup)?)))
                    .collect::<Result<_, Var>>()?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(var: &Var) -> Option<&'static str> {
        match var {
            Var::BaseUrl => Some("http://idle:8080"),
            Var::Env(n) if n == "PASS" => Some("s3cret"),
            Var::Ssm(n) if n == "/app/key" => Some("k-123"),
            Var::Capture(n) if n == "token" => Some("tok"),
            _ => None,
        }
    }

    #[test]
    fn renders_every_kind_of_variable() {
        let t = Template::parse("{{base_url}}/x?k={{ ssm:/app/key }}&p={{env.PASS}}&t={{token}}")
            .unwrap();
        assert_eq!(
            t.render(&lookup).unwrap(),
            "http://idle:8080/x?k=k-123&p=s3cret&t=tok"
        );
        let vars: Vec<String> = t.vars().map(Var::to_string).collect();
        assert_eq!(vars, ["base_url", "ssm:/app/key", "env.PASS", "token"]);
        assert_eq!(
            t.source(),
            "{{base_url}}/x?k={{ ssm:/app/key }}&p={{env.PASS}}&t={{token}}"
        );
    }

    #[test]
    fn text_without_placeholders_and_stray_braces_stay_as_written() {
        for text in ["", "plain", "a }} b", "{single}"] {
            assert_eq!(
                Template::parse(text).unwrap().render(&lookup).unwrap(),
                text
            );
        }
    }

    #[test]
    fn a_missing_value_names_the_variable() {
        let t = Template::parse("Bearer {{tokne}}").unwrap();
        assert_eq!(t.render(&lookup).unwrap_err(), Var::Capture("tokne".into()));
        let t = Template::parse("{{env.NOPE}}").unwrap();
        assert_eq!(t.render(&lookup).unwrap_err().to_string(), "env.NOPE");
    }

    #[test]
    fn bad_placeholders_are_rejected() {
        let cases = [
            ("{{base_url", "without a closing"),
            ("{{}}", "is not a variable"),
            ("{{two words}}", "is not a variable"),
            ("{{env.}}", "not an environment variable name"),
            ("{{env.A-B}}", "not an environment variable name"),
            ("{{ssm:}}", "not a parameter name"),
            ("{{env.AWS_SECRET_ACCESS_KEY}}", "own credentials"),
        ];
        for (text, problem) in cases {
            let e = Template::parse(text).unwrap_err();
            assert!(e.contains(problem), "{text}: {e}");
        }
    }

    #[test]
    fn secrets_are_every_variable_but_the_base_url() {
        assert!(!Var::BaseUrl.is_secret());
        assert!(!Var::Version.is_secret());
        assert!(Var::Env("X".into()).is_secret());
        assert!(Var::Ssm("/x".into()).is_secret());
        assert!(Var::Capture("x".into()).is_secret());
    }

    #[test]
    fn json_templates_render_strings_and_keep_other_values() {
        let value = json!({"user": "u@example.com", "pass": "{{env.PASS}}", "n": 5,
                           "list": [true, null, "{{token}}"], "nested": {"k": "{{ssm:/app/key}}"}});
        let t = JsonTemplate::parse(&value, "json").unwrap();
        assert_eq!(t.vars().len(), 3);
        assert_eq!(
            t.render(&lookup).unwrap(),
            json!({"user": "u@example.com", "pass": "s3cret", "n": 5,
                   "list": [true, null, "tok"], "nested": {"k": "k-123"}})
        );
    }

    #[test]
    fn json_template_errors_say_where() {
        let value = json!({"a": [1, {"b": "{{oops"}]});
        let (at, problem) = JsonTemplate::parse(&value, "tests[0].json").unwrap_err();
        assert_eq!(at, "tests[0].json.a[1].b");
        assert!(problem.contains("closing"), "{problem}");
    }
}
