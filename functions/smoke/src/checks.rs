//! Judging a response against a test's expectations, and taking its
//! captures.

use serde_json::Value;

use crate::attempt::Response;
use crate::mask::{Masker, shorten};
use crate::spec::TestCase;

/// How much of an unexpected JSON value a reason shows.
const MAX_SHOWN_VALUE_CHARS: usize = 100;

/// Every problem with `response`, joined; or, when there is none, the
/// captured values (name, value). Values the captures select are added to
/// `masker` even when the test fails: a token in a failed login's response is
/// as secret as one that was captured.
pub(crate) fn check(
    test: &TestCase,
    response: &Response,
    masker: &mut Masker,
    version: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let mut problems = Vec::new();
    let expect = &test.expect;
    match expect.status {
        Some(s) if response.status != s => {
            problems.push(format!("expected status {s}, got {}", response.status));
        }
        None if !(200..300).contains(&response.status) => {
            problems.push(format!("expected a 2xx status, got {}", response.status));
        }
        _ => {}
    }
    if let Some(needle) = &expect.body_contains {
        match fill_version(needle, version) {
            Ok(needle) if !String::from_utf8_lossy(&response.body).contains(needle.as_str()) => {
                problems.push(format!("response body does not contain `{needle}`"));
            }
            Ok(_) => {}
            Err(problem) => problems.push(problem),
        }
    }

    let mut captured = Vec::new();
    if test.needs_json() {
        match serde_json::from_slice::<Value>(&response.body) {
            Err(e) => problems.push(format!(
                "response is not JSON, which `expect_json` and `capture` need: {e}"
            )),
            Ok(json) => {
                for c in &test.captures {
                    match one(&c.path.query(&json).all()) {
                        Ok(Value::Null) => problems
                            .push(format!("capture `{}`: `{}` is null", c.name, c.path_text)),
                        Ok(value) => {
                            let text = match value {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            masker.add(&text);
                            captured.push((c.name.clone(), text));
                        }
                        Err(how) => {
                            problems.push(format!("capture `{}`: `{}` {how}", c.name, c.path_text))
                        }
                    }
                }
                for e in &expect.json {
                    let expected = match &e.value {
                        Value::String(s) => match fill_version(s, version) {
                            Ok(s) => Value::String(s),
                            Err(problem) => {
                                problems.push(problem);
                                continue;
                            }
                        },
                        other => other.clone(),
                    };
                    match one(&e.path.query(&json).all()) {
                        Ok(actual) if same_json(actual, &expected) => {}
                        Ok(actual) => problems.push(format!(
                            "`{}` is {}, expected {}",
                            e.path_text,
                            shown(actual, masker),
                            shown(&expected, masker)
                        )),
                        Err(how) => problems.push(format!("`{}` {how}", e.path_text)),
                    }
                }
            }
        }
    }

    if let Some(max) = expect.max_response_time
        && response.latency > max
    {
        problems.push(format!(
            "took {} ms, more than max_response_time_ms {}",
            response.latency.as_millis(),
            max.as_millis()
        ));
    }

    if problems.is_empty() {
        Ok(captured)
    } else {
        Err(problems.join("; "))
    }
}

/// Expectations may name the release under test as `{{version}}`, so a test
/// can prove it reached the new version rather than the one in production.
fn fill_version(text: &str, version: Option<&str>) -> Result<String, String> {
    const VERSION: &str = "{{version}}";
    match version {
        _ if !text.contains(VERSION) => Ok(text.to_string()),
        Some(v) => Ok(text.replace(VERSION, v)),
        None => Err("`{{version}}`: no release version is known to this run".to_string()),
    }
}

/// The single node a path selects; anything else is a problem, never a guess.
fn one<'a>(nodes: &[&'a Value]) -> Result<&'a Value, String> {
    match nodes {
        [value] => Ok(value),
        [] => Err("matches nothing in the response".to_string()),
        many => Err(format!(
            "matches {} values in the response; it must match exactly one",
            many.len()
        )),
    }
}

/// JSON equality where `1` and `1.0` are the same number (YAML and the
/// service may well write them differently).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// A value for a message: masked first, then shortened, so no part of a
/// secret survives the cut.
fn shown(value: &Value, masker: &Masker) -> String {
    shorten(&masker.mask(&value.to_string()), MAX_SHOWN_VALUE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;
    use std::time::Duration;

    fn test_case(yaml: &str) -> TestCase {
        parse(&format!("tests: [{yaml}]")).unwrap().tests.remove(0)
    }

    fn response(status: u16, body: &str, ms: u64) -> Response {
        Response {
            status,
            body: body.as_bytes().to_vec(),
            latency: Duration::from_millis(ms),
        }
    }

    fn problems(yaml: &str, r: Response) -> String {
        check(&test_case(yaml), &r, &mut Masker::new(), None).unwrap_err()
    }

    #[test]
    fn status_defaults_to_any_2xx() {
        let t = test_case("{name: a, url: x}");
        for s in [200, 201, 204, 299] {
            assert!(check(&t, &response(s, "", 1), &mut Masker::new(), None).is_ok());
        }
        let m = problems("{name: a, url: x}", response(302, "", 1));
        assert_eq!(m, "expected a 2xx status, got 302");
        let m = problems(
            "{name: a, url: x, expect_status: 201}",
            response(200, "", 1),
        );
        assert_eq!(m, "expected status 201, got 200");
        let t = test_case("{name: a, url: x, expect_status: 404}");
        assert!(check(&t, &response(404, "", 1), &mut Masker::new(), None).is_ok());
    }

    #[test]
    fn every_problem_is_reported() {
        let m = problems(
            "{name: a, url: x, expect_body_contains: hello, max_response_time_ms: 10}",
            response(500, "oops", 20),
        );
        assert_eq!(
            m,
            "expected a 2xx status, got 500; response body does not contain `hello`; took 20 ms, more than max_response_time_ms 10"
        );
    }

    #[test]
    fn json_expectations_and_captures() {
        let yaml = r#"{name: a, url: x, capture: {token: "$.token", n: "$.n"},
                       expect_json: {"$.email": "a@b.c", "$.roles[0]": admin, "$.n": 1.0}}"#;
        let body = r#"{"token": "tok-1", "n": 1, "email": "a@b.c", "roles": ["admin"]}"#;
        let mut masker = Masker::new();
        let captured = check(&test_case(yaml), &response(200, body, 1), &mut masker, None).unwrap();
        assert_eq!(
            captured,
            [
                ("n".to_string(), "1".to_string()),
                ("token".to_string(), "tok-1".to_string())
            ]
        );
        assert_eq!(masker.mask("tok-1"), "***");

        let m = problems(
            yaml,
            response(200, r#"{"n": 2, "email": "x@y.z", "roles": []}"#, 1),
        );
        assert!(
            m.contains("capture `token`: `$.token` matches nothing"),
            "{m}"
        );
        assert!(
            m.contains(r#"`$.email` is "x@y.z", expected "a@b.c""#),
            "{m}"
        );
        assert!(m.contains("`$.roles[0]` matches nothing"), "{m}");
        assert!(m.contains("`$.n` is 2, expected 1.0"), "{m}");

        let m = problems(
            r#"{name: a, url: x, capture: {id: "$.items[*].id"}}"#,
            response(200, r#"{"items": [{"id": 1}, {"id": 2}]}"#, 1),
        );
        assert!(m.contains("matches 2 values"), "{m}");
        let m = problems(
            r#"{name: a, url: x, capture: {t: "$.t"}}"#,
            response(200, r#"{"t": null}"#, 1),
        );
        assert!(m.contains("`$.t` is null"), "{m}");
    }

    #[test]
    fn a_non_json_body_fails_json_checks() {
        let m = problems(
            r#"{name: a, url: x, expect_json: {"$.a": 1}}"#,
            response(200, "<html>", 1),
        );
        assert!(m.starts_with("response is not JSON"), "{m}");
    }

    #[test]
    fn a_failed_tests_would_be_captures_are_still_secret() {
        let yaml = r#"{name: a, url: x, expect_status: 201, capture: {token: "$.token"},
                       expect_json: {"$.echo": "x"}}"#;
        let mut masker = Masker::new();
        let body = r#"{"token": "tok-secret", "echo": "tok-secret"}"#;
        let m = check(&test_case(yaml), &response(200, body, 1), &mut masker, None).unwrap_err();
        assert!(m.contains(r#"`$.echo` is "***""#), "{m}");
        assert_eq!(masker.mask(body), r#"{"token": "***", "echo": "***"}"#);
    }

    #[test]
    fn numbers_compare_by_value() {
        use serde_json::json;
        assert!(same_json(&json!(1), &json!(1.0)));
        assert!(same_json(
            &json!({"a": [1, 2.5]}),
            &json!({"a": [1.0, 2.5]})
        ));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!same_json(&json!("1"), &json!(1)));
        assert!(same_json(&json!(u64::MAX), &json!(u64::MAX)));
    }
}
