//! Turning JSON documents into typed values with errors that say where.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Parses `text` as `T`. On failure the error names `source` (which document),
/// the dotted path of the offending field, and what is wrong with it.
pub fn json<T: DeserializeOwned>(source: &str, text: &str) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| path_error(source, e))
}

/// Like [`json`], for a value that is already parsed (a Lambda event).
pub fn value<T: DeserializeOwned>(source: &str, value: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| path_error(source, e))
}

fn path_error(source: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = e.path().to_string();
    let inner = e.into_inner();
    // For broken JSON the position says more than the path of the last field.
    let field = if inner.is_syntax() || inner.is_eof() {
        format!("line {} column {}", inner.line(), inner.column())
    } else if path == "." || path.is_empty() {
        "(document)".to_string()
    } else {
        path
    };
    Error::bad_input(source, field, strip_position(&inner.to_string()))
}

/// serde_json appends " at line L column C" to messages; the field path already
/// says where, so keep the message short.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
    }

    #[test]
    fn names_the_field_and_problem() {
        let err = json::<Outer>("test doc", r#"{"inner": {"port": "x"}}"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("test doc is invalid at `inner.port`"), "{msg}");
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = json::<Outer>("test doc", "{\n  \"inner\": ").unwrap_err();
        assert!(err.to_string().contains("line 2 column"), "{err}");
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = json::<Outer>("doc", r#"{"inner": {"port": 1, "prot": 2}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `prot`"), "{err}");
    }
}
