//! The smoke-test spec: what it looks like on the page (YAML, or JSON, which
//! is YAML too) and the checked form the runner uses. Every error names the
//! field (`tests[2].url`) and, for what the YAML parser finds, the line.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bluegreen_core::Error;
use bluegreen_core::records::validation::{self, NOT_BLANK, not_blank};
use garde::Validate;
use reqwest::header::HeaderName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::template::{JsonTemplate, Template, Var, is_capture_name};

/// The document name in errors.
pub const DOCUMENT: &str = "smoke-test spec";

const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_RETRY_DELAY_MS: u64 = 500;
const DEFAULT_WARMUP_CONCURRENCY: u32 = 4;
// Bounds that keep one suite within a Lambda invocation's time.
const MAX_TIMEOUT_MS: u64 = 120_000;
const MAX_RETRIES: u32 = 10;
const MAX_RETRY_DELAY_MS: u64 = 60_000;
const MAX_WARMUP_REQUESTS: u32 = 1_000;
const MAX_WARMUP_CONCURRENCY: u32 = 50;

/// A smoke-test suite (`smoke-tests.yml`): requests against the idle color
/// through the test route, before any production traffic moves. Strings may
/// use `{{base_url}}`, `{{version}}`, `{{env:NAME}}`, `{{ssm:NAME}}` and
/// earlier tests' captures.
#[derive(Debug, Serialize, Deserialize, JsonSchema, Validate)]
// The name serde puts in "expected struct ..." messages.
#[serde(deny_unknown_fields, rename = "smoke-test spec")]
#[schemars(rename = "SmokeTestSpec")]
struct RawSpec {
    /// Where an editor finds this document's schema; ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    schema: Option<String>,
    /// Requests sent before the tests, to warm caches and pools; their
    /// answers are not judged.
    #[serde(default)]
    #[garde(dive)]
    warmup: Option<RawWarmup>,
    /// What every test gets unless it says otherwise.
    #[serde(default)]
    #[garde(dive)]
    defaults: RawDefaults,
    /// The tests, run in order; at least one, with unique names.
    #[garde(dive)]
    #[schemars(length(min = 1))]
    tests: Vec<RawTest>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields, rename = "warmup")]
#[schemars(rename = "Warmup")]
struct RawWarmup {
    /// How many requests.
    #[garde(range(min = 1, max = MAX_WARMUP_REQUESTS))]
    requests: u32,
    /// Where they go (a template; no captures exist yet).
    #[garde(custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    url: String,
    /// How many at once. Default 4.
    #[serde(default)]
    #[garde(range(min = 1, max = MAX_WARMUP_CONCURRENCY))]
    concurrency: Option<u32>,
    /// Each request's timeout. Default: `defaults.timeout_ms`.
    #[serde(default)]
    #[garde(range(min = 1, max = MAX_TIMEOUT_MS))]
    timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields, rename = "defaults")]
#[schemars(rename = "Defaults")]
#[garde(allow_unvalidated)]
struct RawDefaults {
    /// Each request's timeout. Default 5000.
    #[serde(default)]
    #[garde(range(min = 1, max = MAX_TIMEOUT_MS))]
    timeout_ms: Option<u64>,
    /// How many times a failing test is tried again. Default 0.
    #[serde(default)]
    #[garde(range(max = MAX_RETRIES))]
    retries: Option<u32>,
    /// The wait between tries. Default 500.
    #[serde(default)]
    #[garde(range(max = MAX_RETRY_DELAY_MS))]
    retry_delay_ms: Option<u64>,
    /// Headers every request sends (templates).
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields, rename = "test")]
#[schemars(rename = "Test")]
#[garde(allow_unvalidated)]
struct RawTest {
    /// What the report calls the test; unique in the suite.
    #[garde(custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    name: String,
    /// The request's URL (a template), e.g. `{{base_url}}/health`.
    #[garde(custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    url: String,
    #[serde(default)]
    method: Method,
    /// Request headers (templates), over `defaults.headers`.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A JSON body (strings in it are templates); or give `body`.
    #[serde(default)]
    json: Option<Value>,
    /// A text body (a template); or give `json`.
    #[serde(default)]
    body: Option<String>,
    /// The status the response must have.
    #[serde(default)]
    #[garde(range(min = 100, max = 599))]
    expect_status: Option<u16>,
    /// Text the response body must contain.
    #[serde(default)]
    #[schemars(length(min = 1))]
    expect_body_contains: Option<String>,
    /// JSONPath (RFC 9535) to the value it must have.
    #[serde(default)]
    expect_json: BTreeMap<String, Value>,
    /// Capture name to JSONPath: values later tests use as `{{name}}`.
    #[serde(default)]
    capture: BTreeMap<String, String>,
    /// The slowest answer that passes.
    #[serde(default)]
    #[garde(range(min = 1))]
    max_response_time_ms: Option<u64>,
    /// This request's timeout. Default: `defaults.timeout_ms`.
    #[serde(default)]
    #[garde(range(min = 1, max = MAX_TIMEOUT_MS))]
    timeout_ms: Option<u64>,
    /// Tries after a failure. Default: `defaults.retries`.
    #[serde(default)]
    #[garde(range(max = MAX_RETRIES))]
    retries: Option<u32>,
    /// The wait between tries. Default: `defaults.retry_delay_ms`.
    #[serde(default)]
    #[garde(range(max = MAX_RETRY_DELAY_MS))]
    retry_delay_ms: Option<u64>,
}

/// The request's method. Default GET.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    pub fn to_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Options => reqwest::Method::OPTIONS,
        }
    }
}

/// A checked spec: at least one test, every template and JSONPath parsed.
#[derive(Debug, Clone)]
pub struct Spec {
    pub warmup: Option<Warmup>,
    pub tests: Vec<TestCase>,
}

/// A burst of GET requests before the counted tests, to wake the idle color
/// (JIT, caches, connection pools).
#[derive(Debug, Clone)]
pub struct Warmup {
    pub requests: u32,
    pub concurrency: u32,
    pub url: Template,
    /// The spec's default headers.
    pub headers: Vec<Header>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub name: HeaderName,
    pub value: Template,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// `body:` sent as written (after templating).
    Raw(Template),
    /// `json:` sent as `application/json`.
    Json(JsonTemplate),
}

#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub method: Method,
    pub url: Template,
    /// The spec's default headers, overridden by the test's own.
    pub headers: Vec<Header>,
    pub body: Option<Body>,
    pub expect: Expectations,
    pub captures: Vec<Capture>,
    pub timeout: Duration,
    /// Attempts after the first, each only after a failed one.
    pub retries: u32,
    pub retry_delay: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// `None`: any 2xx.
    pub status: Option<u16>,
    pub body_contains: Option<String>,
    pub json: Vec<JsonExpectation>,
    pub max_response_time: Option<Duration>,
}

/// `path` must select exactly one value, equal to `value`.
#[derive(Debug, Clone)]
pub struct JsonExpectation {
    pub path: JsonPath,
    /// The path as written, for messages.
    pub path_text: String,
    pub value: Value,
}

/// Saves what `path` selects (exactly one value) as `{{name}}` for later tests.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub path: JsonPath,
    pub path_text: String,
}

impl Spec {
    /// Refuses a `{{ssm:NAME}}` outside `own` (the app's `<prefix>/<app>/`):
    /// a spec comes with the execution input and must not read another
    /// app's secrets through the shared smoke-test function (its IAM says the
    /// same). The smoke-test Lambda checks it before any request or read;
    /// `bluegreen validate` checks it in the pull request.
    pub fn own_parameters_only(
        &self,
        own: &str,
        from: &impl std::fmt::Display,
    ) -> Result<(), bluegreen_core::Error> {
        for (field, name) in self.parameters() {
            let inside = name.starts_with(own)
                && name.len() > own.len()
                && !name.split('/').any(|segment| segment == "..");
            if !inside {
                return Err(bluegreen_core::Error::bad_input(
                    format!("smoke-test spec ({from})"),
                    field,
                    format!(
                        "`{{{{ssm:{name}}}}}` reads outside this app's parameters: use a name under {own}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every `{{ssm:NAME}}` the spec reads, with where: `(field, name)`, the
    /// field as `tests[i]` or `warmup`.
    pub fn parameters(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        if let Some(w) = &self.warmup {
            for var in w
                .url
                .vars()
                .chain(w.headers.iter().flat_map(|h| h.value.vars()))
            {
                if let Var::Ssm(name) = var {
                    out.push(("warmup".to_string(), name.as_str()));
                }
            }
        }
        for (i, test) in self.tests.iter().enumerate() {
            for var in test.vars() {
                if let Var::Ssm(name) = var {
                    out.push((format!("tests[{i}]"), name.as_str()));
                }
            }
        }
        out
    }
}

impl TestCase {
    /// Every placeholder the request uses.
    pub fn vars(&self) -> Vec<&Var> {
        let mut vars: Vec<&Var> = self.url.vars().collect();
        vars.extend(self.headers.iter().flat_map(|h| h.value.vars()));
        match &self.body {
            Some(Body::Raw(t)) => vars.extend(t.vars()),
            Some(Body::Json(t)) => vars.extend(t.vars()),
            None => {}
        }
        vars
    }

    /// The captures this test's request needs.
    pub fn needed_captures(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for var in self.vars() {
            if let Var::Capture(name) = var
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// Whether the response must be parsed as JSON.
    pub fn needs_json(&self) -> bool {
        !self.expect.json.is_empty() || !self.captures.is_empty()
    }
}

/// Parses and checks a spec.
pub fn parse(text: &str) -> Result<Spec, Error> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let raw: RawSpec = serde_path_to_error::deserialize(de).map_err(yaml_error)?;
    validation::check(DOCUMENT, "", &raw)?;
    raw.check()
}

/// The spec's JSON Schema (`schemas/smoke-tests.schema.json`).
pub fn schema() -> Value {
    bluegreen_core::records::schemas::schema_of::<RawSpec>(
        "smoke-tests",
        "bluegreen smoke-test spec",
    )
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::bad_input(DOCUMENT, field, problem)
}

/// Field path from serde_path_to_error, line from the YAML parser. The
/// parser's message repeats both ("tests[1]: missing field `url` at line 4
/// column 5"); keep the problem alone and say where once.
fn yaml_error(e: serde_path_to_error::Error<serde_yaml_ng::Error>) -> Error {
    // A syntax error leaves `?` for the part of the path it never reached.
    let full = e.path().to_string();
    let path = full
        .split_once(".?")
        .map_or(full.as_str(), |(known, _)| known)
        .to_string();
    let inner = e.into_inner();
    let mut problem = inner.to_string();
    // The parser prefixes the path as far as it knows it ("tests[1]: ...").
    if let Some((head, rest)) = problem.split_once(": ")
        && !head.contains(' ')
        && path.starts_with(head)
    {
        problem = rest.to_string();
    }
    if let Some(loc) = inner.location() {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(rest) = problem.strip_suffix(&suffix) {
            problem = rest.to_string();
        }
        if !problem.contains(" at line ") {
            problem = format!("{problem} (line {}, column {})", loc.line(), loc.column());
        }
    }
    let mut field = if path.is_empty() || path == "." {
        String::new()
    } else {
        path
    };
    // "missing field `url`" is reported at the map that lacks it; name the
    // field itself.
    if let Some(missing) = problem
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        field = if field.is_empty() {
            missing.to_string()
        } else {
            format!("{field}.{missing}")
        };
    }
    if field.is_empty() {
        field = "(document)".to_string();
    }
    bad(field, problem)
}

/// The spec's `defaults`, checked, with the built-in defaults filled in.
struct Defaults {
    timeout_ms: u64,
    retries: u32,
    retry_delay_ms: u64,
    headers: Vec<Header>,
}

impl RawSpec {
    fn check(self) -> Result<Spec, Error> {
        // Ranges and lengths were checked by their declarations (`parse`).
        if self.tests.is_empty() {
            return Err(bad(
                "tests",
                "needs at least one test: an empty suite would prove nothing",
            ));
        }
        let d = &self.defaults;
        let defaults = Defaults {
            timeout_ms: d.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            retries: d.retries.unwrap_or(0),
            retry_delay_ms: d.retry_delay_ms.unwrap_or(DEFAULT_RETRY_DELAY_MS),
            headers: headers("defaults.headers", &d.headers)?,
        };
        let warmup = self
            .warmup
            .as_ref()
            .map(|w| warmup(w, &defaults))
            .transpose()?;

        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut tests = Vec::with_capacity(self.tests.len());
        for (i, raw) in self.tests.iter().enumerate() {
            if let Some(first) = names.insert(&raw.name, i) {
                return Err(bad(
                    format!("tests[{i}].name"),
                    format!(
                        "`{}` is already the name of tests[{first}]; names must be unique",
                        raw.name
                    ),
                ));
            }
            tests.push(test_case(&format!("tests[{i}]"), raw, &defaults)?);
        }
        Ok(Spec { warmup, tests })
    }
}

fn warmup(w: &RawWarmup, defaults: &Defaults) -> Result<Warmup, Error> {
    let requests = w.requests;
    let concurrency = w.concurrency.unwrap_or(DEFAULT_WARMUP_CONCURRENCY);
    let timeout_ms = w.timeout_ms.unwrap_or(defaults.timeout_ms);
    Ok(Warmup {
        requests,
        concurrency: concurrency.min(requests),
        url: warmup_url(&w.url)?,
        headers: defaults.headers.clone(),
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn test_case(at: &str, raw: &RawTest, defaults: &Defaults) -> Result<TestCase, Error> {
    let mut merged = defaults.headers.clone();
    for h in headers(&format!("{at}.headers"), &raw.headers)? {
        merged.retain(|d| d.name != h.name);
        merged.push(h);
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(defaults.timeout_ms);
    let retry_delay_ms = raw.retry_delay_ms.unwrap_or(defaults.retry_delay_ms);
    Ok(TestCase {
        name: raw.name.clone(),
        method: raw.method,
        url: url(&format!("{at}.url"), &raw.url)?,
        headers: merged,
        body: body(at, raw)?,
        expect: expectations(at, raw)?,
        captures: captures(at, &raw.capture)?,
        timeout: Duration::from_millis(timeout_ms),
        retries: raw.retries.unwrap_or(defaults.retries),
        retry_delay: Duration::from_millis(retry_delay_ms),
    })
}

fn template(field: &str, text: &str) -> Result<Template, Error> {
    Template::parse(text).map_err(|problem| bad(field, problem))
}

fn url(field: &str, text: &str) -> Result<Template, Error> {
    if text.trim().is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    template(field, text)
}

/// The warm-up runs before any test, so no capture exists yet.
fn warmup_url(text: &str) -> Result<Template, Error> {
    let t = url("warmup.url", text)?;
    if let Some(var) = t.vars().find(|v| matches!(v, Var::Capture(_))) {
        return Err(bad(
            "warmup.url",
            format!("`{{{{{var}}}}}`: the warm-up runs before any test, so it cannot use captures"),
        ));
    }
    Ok(t)
}

fn headers(at: &str, raw: &BTreeMap<String, String>) -> Result<Vec<Header>, Error> {
    let mut out: Vec<Header> = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let field = format!("{at}.{name}");
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(&field, format!("`{name}` is not an HTTP header name")))?;
        if out.iter().any(|h| h.name == header) {
            return Err(bad(
                &field,
                "appears twice (header names are case-insensitive)",
            ));
        }
        out.push(Header {
            name: header,
            value: template(&field, value)?,
        });
    }
    Ok(out)
}

fn body(at: &str, raw: &RawTest) -> Result<Option<Body>, Error> {
    match (&raw.json, &raw.body) {
        (Some(_), Some(_)) => Err(bad(at, "give either `json` or `body`, not both")),
        (Some(json), None) => JsonTemplate::parse(json, &format!("{at}.json"))
            .map(|t| Some(Body::Json(t)))
            .map_err(|(field, problem)| bad(field, problem)),
        (None, Some(text)) => Ok(Some(Body::Raw(template(&format!("{at}.body"), text)?))),
        (None, None) => Ok(None),
    }
}

fn json_path(field: &str, text: &str) -> Result<JsonPath, Error> {
    JsonPath::parse(text)
        .map_err(|e| bad(field, format!("`{text}` is not a JSONPath (RFC 9535): {e}")))
}

fn expectations(at: &str, raw: &RawTest) -> Result<Expectations, Error> {
    let status = raw.expect_status;
    if raw.expect_body_contains.as_deref() == Some("") {
        return Err(bad(
            format!("{at}.expect_body_contains"),
            "must not be empty: every body contains the empty string",
        ));
    }
    let json = raw
        .expect_json
        .iter()
        .map(|(path, value)| {
            Ok(JsonExpectation {
                path: json_path(&format!("{at}.expect_json"), path)?,
                path_text: path.clone(),
                value: value.clone(),
            })
        })
        .collect::<Result<_, Error>>()?;
    let max_response_time = raw.max_response_time_ms.map(Duration::from_millis);
    Ok(Expectations {
        status,
        body_contains: raw.expect_body_contains.clone(),
        json,
        max_response_time,
    })
}

fn captures(at: &str, raw: &BTreeMap<String, String>) -> Result<Vec<Capture>, Error> {
    raw.iter()
        .map(|(name, path)| {
            let field = format!("{at}.capture.{name}");
            if !is_capture_name(name) {
                return Err(bad(
                    &field,
                    format!("`{name}` cannot be a capture name: use a letter or `_`, then letters, digits, `_` or `-` (and not `base_url` or `version`)"),
                ));
            }
            Ok(Capture {
                name: name.clone(),
                path: json_path(&field, path)?,
                path_text: path.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
warmup: { requests: 20, url: "{{base_url}}/health", concurrency: 4 }
defaults: { timeout_ms: 3000, retries: 1, headers: { X-Smoke: "yes", Accept: "text/plain" } }
tests:
  - name: Health check
    url: "{{base_url}}/health"
    expect_status: 200
  - name: Login
    url: "{{base_url}}/api/v1/login"
    method: POST
    json: { user: smoke@example.com, pass: "{{env.SMOKE_PASSWORD}}" }
    capture: { token: "$.token" }
  - name: Me
    url: "{{base_url}}/api/v1/me"
    headers: { Authorization: "Bearer {{token}}", accept: application/json }
    expect_status: 200
    expect_body_contains: "smoke@example.com"
    expect_json: { "$.email": "smoke@example.com", "$.roles[0]": "admin" }
    max_response_time_ms: 500
    timeout_ms: 2000
    retries: 2
"#;

    fn problem(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_example_with_defaults() {
        let spec = parse(EXAMPLE).unwrap();
        let w = spec.warmup.as_ref().unwrap();
        assert_eq!((w.requests, w.concurrency), (20, 4));
        assert_eq!(w.timeout, Duration::from_millis(3000));
        assert_eq!(spec.tests.len(), 3);
        let [health, login, me] = &spec.tests[..] else {
            unreachable!()
        };
        assert_eq!(health.method, Method::Get);
        assert_eq!(health.retries, 1);
        assert_eq!(health.retry_delay, Duration::from_millis(500));
        assert!(matches!(login.body, Some(Body::Json(_))));
        assert_eq!(login.captures[0].name, "token");
        assert_eq!(me.needed_captures(), ["token"]);
        assert!(me.needs_json() && login.needs_json() && !health.needs_json());
        assert_eq!(me.timeout, Duration::from_millis(2000));
        assert_eq!(
            me.expect.max_response_time,
            Some(Duration::from_millis(500))
        );
        // The test's `accept` replaces the default `Accept`; `X-Smoke` stays.
        let names: Vec<&str> = me.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["x-smoke", "authorization", "accept"]);
        assert_eq!(me.headers[2].value.source(), "application/json");
    }

    #[test]
    fn json_specs_parse_too() {
        let spec = parse(
            r#"{"tests": [{"name": "h", "url": "{{base_url}}/h", "method": "DELETE", "body": "x"}]}"#,
        )
        .unwrap();
        assert_eq!(spec.tests[0].method, Method::Delete);
        assert!(matches!(spec.tests[0].body, Some(Body::Raw(_))));
    }

    #[test]
    fn yaml_syntax_errors_name_the_line() {
        let m = problem("tests:\n  - name: a\n    url: \"{{base_url}}\n  - name: b\n");
        assert!(m.starts_with("smoke-test spec is invalid at"), "{m}");
        assert!(m.contains("line 3"), "{m}");
        let m = problem("tests:\n- name: a\n  url: x\n\tbad: 1\n");
        assert!(m.contains("line 4"), "{m}");
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let m = problem("tests:\n  - name: a\n    url: x\n  - name: b\n    urll: y\n");
        assert!(m.contains("`tests[1].urll`: unknown field `urll`"), "{m}");
        assert!(m.contains("(line 5, column 5)"), "{m}");
        let m = problem("tests: [{name: a, url: x}]\nwarmup: {requests: 1, url: x, burst: 2}\n");
        assert!(m.contains("`warmup.burst`"), "{m}");
        let m = problem("tests: [{name: a, url: x}]\nretries: 2\n");
        assert!(m.contains("`retries`: unknown field"), "{m}");
    }

    #[test]
    fn a_missing_url_names_the_test() {
        let m = problem("tests:\n  - name: a\n    url: x\n  - name: b\n    method: GET\n");
        assert!(m.contains("`tests[1].url`: missing field `url`"), "{m}");
        assert!(m.contains("line 4"), "{m}");
    }

    #[test]
    fn rejects_what_cannot_run() {
        let cases = [
            ("tests: []", "`tests`", "at least one test"),
            ("", "`tests`", "missing field `tests`"),
            (
                "tests: [{name: a, url: x, method: FETCH}]",
                "`tests[0].method`",
                "unknown variant `FETCH`",
            ),
            (
                "tests: [{name: a, url: x, json: {a: 1}, body: b}]",
                "`tests[0]`",
                "not both",
            ),
            (
                "tests: [{name: a, url: x, capture: {t: '$.a['}}]",
                "`tests[0].capture.t`",
                "not a JSONPath",
            ),
            (
                "tests: [{name: a, url: x, expect_json: {'token': 1}}]",
                "`tests[0].expect_json`",
                "not a JSONPath",
            ),
            (
                "tests: [{name: a, url: x, capture: {base_url: '$.a'}}]",
                "`tests[0].capture.base_url`",
                "cannot be a capture name",
            ),
            (
                "tests: [{name: a, url: x}, {name: a, url: y}]",
                "`tests[1].name`",
                "already the name of tests[0]",
            ),
            (
                "tests: [{name: a, url: ''}]",
                "`tests[0].url`",
                "must not be empty",
            ),
            (
                "tests: [{name: a, url: '{{base_url'}]",
                "`tests[0].url`",
                "closing",
            ),
            (
                "tests: [{name: a, url: x, headers: {'Bad Header': v}}]",
                "`tests[0].headers.Bad Header`",
                "not an HTTP header name",
            ),
            (
                "tests: [{name: a, url: x, headers: {A: '1', a: '2'}}]",
                "`tests[0].headers.a`",
                "appears twice",
            ),
            (
                "tests: [{name: a, url: x, json: {p: '{{nope nope}}'}}]",
                "`tests[0].json.p`",
                "not a variable",
            ),
            (
                "tests: [{name: a, url: x, expect_status: 42}]",
                "`tests[0].expect_status`",
                "42 is lower than 100",
            ),
            (
                "tests: [{name: a, url: x, retries: 99}]",
                "`tests[0].retries`",
                "99 is greater than 10",
            ),
            (
                "tests: [{name: a, url: x, timeout_ms: 0}]",
                "`tests[0].timeout_ms`",
                "0 is lower than 1",
            ),
            (
                "tests: [{name: a, url: x, retries: -1}]",
                "`tests[0].retries`",
                "expected u32",
            ),
            (
                "tests: [{name: a, url: x}]\nwarmup: {requests: 2, url: '{{token}}'}",
                "`warmup.url`",
                "cannot use captures",
            ),
            (
                "tests: [{name: a, url: x}]\nwarmup: {requests: 0, url: x}",
                "`warmup.requests`",
                "0 is lower than 1",
            ),
            (
                "tests: [{name: a, url: x}]\ndefaults: {headers: {'a b': c}}",
                "`defaults.headers.a b`",
                "header name",
            ),
            ("[1, 2]", "`(document)`", "invalid type"),
        ];
        for (text, field, what) in cases {
            let m = problem(text);
            assert!(
                m.starts_with("smoke-test spec is invalid at"),
                "{text}: {m}"
            );
            assert!(m.contains(field) && m.contains(what), "{text}: {m}");
        }
    }

    #[test]
    fn errors_are_bad_input() {
        assert_eq!(parse("tests: []").unwrap_err().error_type(), "BadInput");
    }
}
