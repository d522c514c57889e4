//! The JSON Schemas of the documents people write, generated from the Rust
//! types that parse them (their rules are the types' attributes, see
//! `validation`). Committed under `schemas/` (a test fails when they are
//! stale), used by the CDK to check its props and by editors to complete
//! `smoke-tests.yml` and the config.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::config::AppConfig;
use crate::input::Overrides;

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
    let object = value.as_object_mut().expect("a schema is an object");
    object.insert(
        "$id".into(),
        Value::String(format!("{BASE_URL}/{name}.schema.json")),
    );
    object.insert("title".into(), Value::String(title.into()));
    value
}
