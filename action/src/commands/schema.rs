//! `bluegreen schema`: the JSON Schemas of the documents people write,
//! generated from the types that parse them, so the schema an editor or the
//! CDK checks against and the rules `validate` and the Lambdas apply are one
//! declaration. The repository commits them under `schemas/`.

use std::path::Path;

use serde_json::Value;

/// Every published schema: its file stem and the schema.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("app-config", bluegreen_core::records::schemas::app_config()),
        ("overrides", bluegreen_core::records::schemas::overrides()),
        ("smoke-tests", bluegreen_smoke::spec::schema()),
    ]
}

/// The names `bluegreen schema NAME` takes.
pub fn names() -> Vec<&'static str> {
    all().into_iter().map(|(name, _)| name).collect()
}

/// One schema as the committed file holds it (pretty, with a final newline).
pub fn text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serialises");
    text.push('\n');
    text
}

/// Writes every schema into `dir` as `<name>.schema.json`.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, schema) in all() {
        let path = dir.join(format!("{name}.schema.json"));
        std::fs::write(&path, text(&schema))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}
