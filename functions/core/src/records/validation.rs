//! The documents' rules, declared once. A field's range, length or format is
//! an attribute on its Rust type (`#[garde(range(min = 1, max = 100))]`):
//! garde checks it at run time and schemars writes the same attribute into
//! the JSON Schema (`schemas/`), which the CDK and editors use. Rules across
//! fields (p50 at most p95, steps that increase) stay in each type's
//! `validate`, after [`check`].
//!
//! The format checks below are functions rather than garde's `pattern`
//! (which links the regex engine into every Lambda); each is declared with
//! the schema pattern that says the same, and `schema_tests` holds the two to
//! the same answers.

use garde::Validate;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// Runs the declared rules of `doc`; the first broken one becomes a
/// `BadInput` naming its field under `at` (`monitor.probe_requests`) and the
/// value it had.
pub fn check<T>(source: &str, at: &str, doc: &T) -> Result<()>
where
    T: Validate<Context = ()> + Serialize,
{
    let Err(report) = doc.validate() else {
        return Ok(());
    };
    let Some((path, error)) = report.iter().next() else {
        return Ok(());
    };
    let path = path.to_string();
    let value = serde_json::to_value(doc).ok();
    let value = value.as_ref().and_then(|v| value_at(v, &path));
    let field = match (at.is_empty(), path.is_empty()) {
        (true, _) => path.clone(),
        (false, true) => at.to_string(),
        (false, false) => format!("{at}.{path}"),
    };
    Err(Error::bad_input(
        source,
        field,
        problem(error.message(), value),
    ))
}

/// garde's own messages ("greater than 100", "length is lower than 1") say
/// the rule; with the value in front they say what was wrong.
fn problem(message: &str, value: Option<&Value>) -> String {
    let rule = message.starts_with("lower than")
        || message.starts_with("greater than")
        || message.starts_with("length is");
    match value {
        Some(v) if rule => match v {
            Value::Array(items) => format!("{} entries: {message}", items.len()),
            Value::Object(entries) => format!("{} entries: {message}", entries.len()),
            Value::String(s) => format!("`{s}`: {message}"),
            // A whole number the parser read into an `f64` is shown as given.
            Value::Number(n)
                if n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15) =>
            {
                format!("{} is {message}", n.as_f64().unwrap_or_default() as i64)
            }
            other => format!("{other} is {message}"),
        },
        _ => message.to_string(),
    }
}

/// The value at a garde path (`monitor.checks[1].max_drop`).
fn value_at<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = root;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, i)| (n, i));
        if !name.is_empty() {
            at = at.get(name)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let index = index.trim_end_matches(']');
            at = match index.parse::<usize>() {
                Ok(i) if at.is_array() => at.get(i)?,
                _ => at.get(index)?,
            };
        }
    }
    Some(at)
}

pub fn fail(message: impl Into<String>) -> garde::Result {
    Err(garde::Error::new(message.into()))
}

/// Not empty and not only spaces. Schema: [`NOT_BLANK`].
pub fn not_blank<S: AsRef<str> + ?Sized>(value: &S, _: &()) -> garde::Result {
    let value = value.as_ref();
    if value.trim().is_empty() {
        fail("must not be empty")
    } else {
        Ok(())
    }
}

pub const NOT_BLANK: &str = r"\S";

/// An `http://` or `https://` URL. Schema: [`HTTP_URL`].
pub fn http_url<S: AsRef<str> + ?Sized>(value: &S, _: &()) -> garde::Result {
    let value = value.as_ref();
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        fail(format!("`{value}` is not an http(s) URL"))
    }
}
pub const HTTP_URL: &str = "^https?://";

/// A number above 0 (and finite). Schema: `exclusiveMinimum: 0`.
pub fn above_zero(value: &f64, _: &()) -> garde::Result {
    if value.is_finite() && *value > 0.0 {
        Ok(())
    } else {
        fail(format!("{value} is not above 0"))
    }
}

/// An ARN of `service` whose resource starts with `resource` (`targetgroup/`,
/// or `""` for any). Schema: [`arn_pattern`] of the same two.
pub fn arn(
    service: &'static str,
    resource: &'static str,
) -> impl FnOnce(&String, &()) -> garde::Result {
    move |value: &String, _| {
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == service
            && parts[5].len() > resource.len()
            && parts[5].starts_with(resource);
        if ok {
            Ok(())
        } else {
            fail(format!(
                "`{value}` is not an {service} ARN of the expected kind"
            ))
        }
    }
}

/// The schema pattern for [`arn`] of the same service and resource.
pub fn arn_pattern(service: &str, resource: &str) -> String {
    format!("^arn:[^:]*:{service}:[^:]*:[^:]*:{resource}.+$")
}

/// An HTTP header name (RFC 9110's token). Schema: [`HEADER_NAME`].
pub fn header_name<S: AsRef<str> + ?Sized>(value: &S, _: &()) -> garde::Result {
    let value = value.as_ref();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !value.is_empty() && value.chars().all(token) {
        Ok(())
    } else {
        fail(format!("`{value}` is not an HTTP header name"))
    }
}
pub const HEADER_NAME: &str = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

/// A dotted path of JSON field names (`build.version`). Schema:
/// [`DOTTED_PATH`].
pub fn dotted_path<S: AsRef<str> + ?Sized>(value: &S, _: &()) -> garde::Result {
    let value = value.as_ref();
    if value.is_empty() || value.split('.').any(str::is_empty) {
        fail(format!(
            "`{value}` is not a dotted field path such as `build.version`"
        ))
    } else {
        Ok(())
    }
}
pub const DOTTED_PATH: &str = r"^[^.]+(\.[^.]+)*$";

/// A path on a URL. Schema: [`URL_PATH`].
pub fn url_path<S: AsRef<str> + ?Sized>(value: &S, _: &()) -> garde::Result {
    let value = value.as_ref();
    if value.starts_with('/') {
        Ok(())
    } else {
        fail(format!("`{value}` is not a path: it starts with `/`"))
    }
}
pub const URL_PATH: &str = "^/";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_found_by_their_garde_path() {
        let doc = json!({"monitor": {"checks": [{}, {"max_drop": 1.5}]}, "dims": {"a": "x"}});
        assert_eq!(
            value_at(&doc, "monitor.checks[1].max_drop"),
            Some(&json!(1.5))
        );
        assert_eq!(value_at(&doc, "dims[a]"), Some(&json!("x")));
        assert_eq!(value_at(&doc, "nothing.here"), None);
    }

    /// Each format check and the schema pattern published for it give the
    /// same answer, on values each side might get wrong.
    #[test]
    fn format_checks_and_their_schema_patterns_agree() {
        let ok = |r: garde::Result| r.is_ok();
        let (x64, x65) = ("x".repeat(64), "x".repeat(65));
        type Check = Box<dyn Fn(&str) -> bool>;
        let cases: Vec<(String, Check, Vec<&str>)> = vec![
            (
                NOT_BLANK.into(),
                Box::new(move |v| ok(not_blank(v, &()))),
                vec!["a", " a ", "", " ", "\t\n"],
            ),
            (
                HTTP_URL.into(),
                Box::new(move |v| ok(http_url(v, &()))),
                vec![
                    "http://a",
                    "https://a/b",
                    "ftp://a",
                    "",
                    "httpx://",
                    " http://a",
                ],
            ),
            (
                HEADER_NAME.into(),
                Box::new(move |v| ok(header_name(v, &()))),
                vec!["X-Version", "a", "X Version", "", "x:y", "ok_~!"],
            ),
            (
                DOTTED_PATH.into(),
                Box::new(move |v| ok(dotted_path(v, &()))),
                vec!["version", "build.version", "a..b", ".a", "a.", ""],
            ),
            (
                URL_PATH.into(),
                Box::new(move |v| ok(url_path(v, &()))),
                vec!["/", "/version", "version", ""],
            ),
            (
                crate::records::config::APP_NAME.into(),
                Box::new(move |v| crate::records::config::validate_app_name("t", "app", v).is_ok()),
                vec!["checkout", "a.b_c-1", "a/b", "", "a b", &x64, &x65],
            ),
            (
                crate::records::metric_check::STATISTIC.into(),
                Box::new(|v| {
                    let check: crate::records::metric_check::MetricCheck = serde_json::from_value(
                        json!({"name": "n", "namespace": "N", "metric": "M", "statistic": v, "floor": 1}),
                    )
                    .unwrap();
                    check.validate("t", "c").is_ok()
                }),
                // A percentile's range (0 < p < 100) is the function's alone.
                vec![
                    "Sum",
                    "SampleCount",
                    "Average",
                    "p95",
                    "p99.9",
                    "Median",
                    "p",
                    "p9x",
                    "sum",
                ],
            ),
        ];
        for (pattern, check, samples) in cases {
            let re = regex::Regex::new(&pattern).unwrap();
            for sample in samples {
                assert_eq!(
                    re.is_match(sample),
                    check(sample),
                    "`{sample}` against {pattern}"
                );
            }
        }
        for (service, resource, samples) in [
            (
                "elasticloadbalancing",
                "targetgroup/",
                vec![
                    "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1",
                    "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/",
                    "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/1/2",
                    "arn:aws:sns:us-east-1:1:targetgroup/a",
                    "tg-1",
                ],
            ),
            (
                "sns",
                "",
                vec![
                    "arn:aws:sns:us-east-1:1:alerts",
                    "arn:aws:sns:us-east-1:1:",
                    "alerts",
                ],
            ),
            (
                "iam",
                "role/",
                vec![
                    "arn:aws:iam::1:role/x",
                    "arn:aws:iam::1:user/x",
                    "arn:aws:iam::1:role/",
                ],
            ),
        ] {
            let re = regex::Regex::new(&arn_pattern(service, resource)).unwrap();
            for sample in samples {
                let by_fn = arn(service, resource)(&sample.to_string(), &()).is_ok();
                assert_eq!(
                    re.is_match(sample),
                    by_fn,
                    "`{sample}` as {service} {resource}"
                );
            }
        }
    }

    #[test]
    fn a_broken_rule_says_the_value() {
        assert_eq!(
            problem("greater than 100", Some(&json!(101))),
            "101 is greater than 100"
        );
        assert_eq!(
            problem("greater than 1", Some(&json!(5.0))),
            "5 is greater than 1"
        );
        assert_eq!(
            problem("greater than 1", Some(&json!(1.5))),
            "1.5 is greater than 1"
        );
        assert_eq!(
            problem("length is greater than 2", Some(&json!([1, 2, 3]))),
            "3 entries: length is greater than 2"
        );
        assert_eq!(
            problem("`x` is not an http(s) URL", Some(&json!("x"))),
            "`x` is not an http(s) URL"
        );
    }
}
