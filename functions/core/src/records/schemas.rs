//! The JSON Schemas of the documents people write, generated from the Rust
//! types that parse them (their rules are the types' attributes, see
//! `validation`). Committed under `schemas/` (a test fails when they are
//! stale), used by the CDK to check its props and by editors to complete
//! `smoke-tests.yml` and the config.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::document::input::Overrides;
use crate::records::config::AppConfig;

/// Where the published schemas live, for `$schema` lines and `$id`s.
pub const BASE_URL: &str = "https://raw.githubusercontent.com/example/bluegreen/v1/schemas";

/// The app config document, `<prefix>/<app>/config`.
pub fn app_config() -> Value {
    schema_of::<AppConfig>("app-config", "bluegreen app config")
}

/// A release's overrides.
pub fn overrides() -> Value {
    schema_of::<Overrides>("overrides", "bluegreen release overrides")
}

/// A document's schema, draft-07 (what editors' YAML and JSON language
/// servers and the CDK's validator read), with its `$id` and title.
pub fn schema_of<T: JsonSchema>(name: &str, title: &str) -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).expect("a schema serialises");
    ranges_for_formats(&mut value);
    without_null(&mut value);
    let object = value.as_object_mut().expect("a schema is an object");
    object.insert(
        "$id".into(),
        Value::String(format!("{BASE_URL}/{name}.schema.json")),
    );
    object.insert("title".into(), Value::String(title.into()));
    value
}

/// schemars names Rust's number types as formats (`uint32`, `double`) that
/// no JSON Schema validator knows; the ranges they stand for are what a
/// validator can check, so each becomes its bounds (unless a declared rule
/// is narrower) and the format goes. `u64` keeps only its minimum: its
/// maximum is beyond what JSON numbers hold exactly.
fn ranges_for_formats(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let bounds = match object.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0, Some(u64::from(u8::MAX) as i64))),
                Some("uint16") => Some((0, Some(i64::from(u16::MAX)))),
                Some("uint32") => Some((0, Some(i64::from(u32::MAX)))),
                Some("uint64") | Some("uint") => Some((0, None)),
                Some("int32") => Some((i64::from(i32::MIN), Some(i64::from(i32::MAX)))),
                Some("int64") | Some("int") | Some("double") | Some("float") => None,
                _ => {
                    object.values_mut().for_each(ranges_for_formats);
                    return;
                }
            };
            object.remove("format");
            if let Some((min, max)) = bounds {
                object.entry("minimum").or_insert(Value::from(min));
                if let Some(max) = max {
                    object.entry("maximum").or_insert(Value::from(max));
                }
            }
            object.values_mut().for_each(ranges_for_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(ranges_for_formats),
        _ => {}
    }
}

/// An absent field is how a document leaves a setting unset. `null` in its
/// place is accepted by the parser but not advertised: a nullable `anyOf`
/// only makes editors' and validators' messages worse ("must be null").
fn without_null(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    object.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(branches)) = object.get("anyOf")
                && branches.len() == 2
                && branches
                    .iter()
                    .any(|b| b == &serde_json::json!({"type": "null"}))
            {
                let kept = branches
                    .iter()
                    .find(|b| *b != &serde_json::json!({"type": "null"}))
                    .cloned()
                    .expect("two branches, one not null");
                object.remove("anyOf");
                if let Value::Object(kept) = kept {
                    for (k, v) in kept {
                        object.entry(k).or_insert(v);
                    }
                }
            }
            match object.get_mut("default") {
                Some(Value::Null) => {
                    object.remove("default");
                }
                Some(Value::Object(fields)) => fields.retain(|_, v| !v.is_null()),
                _ => {}
            }
            object.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_advertised_without_null() {
        let mut v = serde_json::json!({"properties": {
            "a": {"type": ["string", "null"], "default": null, "pattern": "x"},
            "b": {"anyOf": [{"$ref": "#/definitions/B"}, {"type": "null"}], "description": "b"},
        }});
        without_null(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"properties": {
                "a": {"type": "string", "pattern": "x"},
                "b": {"$ref": "#/definitions/B", "description": "b"},
            }})
        );
    }

    #[test]
    fn number_formats_become_their_ranges() {
        let mut v = serde_json::json!({"properties": {
            "a": {"type": "integer", "format": "uint32"},
            "b": {"type": "integer", "format": "uint8", "maximum": 100, "minimum": 1},
            "c": {"type": "number", "format": "double"},
            "d": {"type": "integer", "format": "int32"},
        }});
        ranges_for_formats(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"properties": {
                "a": {"type": "integer", "minimum": 0, "maximum": 4294967295u32},
                "b": {"type": "integer", "maximum": 100, "minimum": 1},
                "c": {"type": "number"},
                "d": {"type": "integer", "minimum": -2147483648i64, "maximum": 2147483647},
            }})
        );
    }
}
