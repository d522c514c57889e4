//! The published JSON Schemas: generated from the Rust types, committed
//! under `schemas/`, and what the examples are written against.

use std::path::PathBuf;

use bluegreen_action::commands::schema;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A change to a document's types must come with its schema: this fails
/// until `bluegreen schema --write schemas` has been run and committed.
#[test]
fn the_committed_schemas_are_current() {
    let mut stale = Vec::new();
    for (name, doc) in schema::all() {
        let path = repo().join("schemas").join(format!("{name}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != schema::text(&doc) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas: {}\nregenerate them with `cargo run -q -p bluegreen-action --bin bluegreen -- schema --write schemas`",
        stale.join(", ")
    );
}

fn bluegreen(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bluegreen"))
        .args(args)
        .current_dir(repo())
        .env_remove("BLUEGREEN_APP")
        .output()
        .expect("run bluegreen")
}

#[test]
fn the_cli_prints_each_schema_and_refuses_an_unknown_name() {
    for (name, doc) in schema::all() {
        let out = bluegreen(&["schema", name]);
        assert!(out.status.success(), "{name}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), schema::text(&doc));
    }
    let out = bluegreen(&["schema", "config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no schema named `config`")
            && err.contains("app-config, overrides, smoke-tests"),
        "{err}"
    );
}

/// The examples name their schema (`$schema`, or the YAML language
/// server's comment) and pass `bluegreen validate`.
#[test]
fn the_examples_name_their_schema_and_are_valid() {
    let smoke = std::fs::read_to_string(repo().join("examples/smoke-tests.yml")).unwrap();
    assert!(
        smoke.starts_with("# yaml-language-server: $schema=../schemas/smoke-tests.schema.json\n"),
        "{smoke}"
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/app-config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["$schema"], "../schemas/app-config.schema.json");
    let out = bluegreen(&[
        "validate",
        "--config",
        "examples/app-config.json",
        "--smoke-tests",
        "examples/smoke-tests.yml",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ok  config") && text.contains("ok  smoke tests"),
        "{text}"
    );
}
