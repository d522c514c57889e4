//! `bluegreen smoke` and `bluegreen validate`: the real binary, no AWS and no
//! emulator. Smoke tests run against the project's sample app, a real local
//! HTTP server; validation reads files the way the action hands them over.

use std::path::{Path, PathBuf};

use bluegreen_local::sample::{Behaviour, SampleApp};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `bluegreen` with a clean environment: no AWS region or credentials,
/// no GitHub Actions, no profile files (HOME points at an empty directory).
async fn offline(args: &[&str], extra: &[(&str, &str)]) -> Out {
    let home = std::env::temp_dir().join(format!("bluegreen-offline-{}-home", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bluegreen"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(extra.iter().copied())
        .output()
        .await
        .expect("run bluegreen");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bluegreen-offline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const SPEC: &str = r#"
tests:
  - name: Health
    url: "{{base_url}}/health"
    expect_status: 200
  - name: Checkout
    url: "{{base_url}}/checkout"
    method: POST
    expect_status: 200
  - name: Serves the release
    url: "{{base_url}}/version"
    expect_json: { "$.version": "{{version}}" }
"#;

/// The table's line for the check `name`.
fn line<'a>(out: &'a Out, name: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no line for {name}:\n{}", out.all()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_passes_against_a_running_app() {
    let app = SampleApp::start("v7", Behaviour::Healthy).await;
    let dir = scratch("smoke-pass");
    let spec = write(&dir, "smoke.yml", SPEC);
    let out = offline(
        &[
            "smoke",
            "--spec",
            &spec,
            "--base-url",
            &app.url,
            "--version",
            "v7",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let health = line(&out, "Health");
    assert!(health.contains("GET /health"), "{health}");
    assert!(health.contains("200"), "{health}");
    assert!(health.contains("pass"), "{health}");
    assert!(health.contains(" ms"), "{health}");
    assert!(line(&out, "Checkout").contains("POST /checkout"));
    assert!(line(&out, "Serves the release").contains("pass"));
    assert!(out.stdout.contains("3 passed"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_fails_with_exit_1_and_names_the_failing_check() {
    let app = SampleApp::start("v8", Behaviour::BrokenCheckout).await;
    let dir = scratch("smoke-fail");
    let spec = write(&dir, "smoke.yml", SPEC);
    let out = offline(
        &[
            "smoke",
            "--spec",
            &spec,
            "--base-url",
            &app.url,
            "--version",
            "v8",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    let checkout = line(&out, "Checkout");
    assert!(checkout.contains("FAIL"), "{checkout}");
    assert!(checkout.contains("500"), "{checkout}");
    assert!(
        checkout.contains("expected status 200, got 500"),
        "{checkout}"
    );
    assert!(line(&out, "Health").contains("pass"));
    assert!(out.stdout.contains("1 failed"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_with_a_malformed_spec_exits_2_naming_file_and_field() {
    let dir = scratch("smoke-malformed");
    let spec = write(
        &dir,
        "smoke.yml",
        "tests:\n  - name: Health\n    expect_status: 200\n",
    );
    let out = offline(
        &["smoke", "--spec", &spec, "--base-url", "http://127.0.0.1:9"],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&spec), "{}", out.all());
    assert!(out.stderr.contains("`tests[0].url`"), "{}", out.all());
    assert!(out.stderr.contains("line "), "{}", out.all());

    let missing = dir.join("nope.yml").display().to_string();
    let out = offline(
        &[
            "smoke",
            "--spec",
            &missing,
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&missing), "{}", out.all());

    let good = write(&dir, "good.yml", SPEC);
    let out = offline(&["smoke", "--spec", &good, "--base-url", "localhost"], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--base-url"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_json_is_the_lambdas_report() {
    let app = SampleApp::start("v9", Behaviour::BrokenCheckout).await;
    let dir = scratch("smoke-json");
    let spec = write(&dir, "smoke.yml", SPEC);
    let out = offline(
        &[
            "smoke",
            "--spec",
            &spec,
            "--base-url",
            &app.url,
            "--version",
            "v9",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    let report: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    // The smoke-test Lambda's own report type reads it back.
    let typed: bluegreen_smoke::SmokeReport = serde_json::from_value(report.clone()).unwrap();
    assert!(!typed.passed);
    assert_eq!(report["passed"], false);
    assert_eq!(report["base_url"], app.url.as_str());
    assert_eq!(
        report["totals"],
        serde_json::json!({"tests": 3, "passed": 2, "failed": 1, "skipped": 0})
    );
    let checkout = &report["tests"][1];
    assert_eq!(checkout["name"], "Checkout");
    assert_eq!(checkout["method"], "POST");
    assert_eq!(checkout["url"], format!("{}/checkout", app.url));
    assert_eq!(checkout["status"], 500);
    assert_eq!(checkout["passed"], false);
    assert!(checkout["latency_ms"].is_u64(), "{checkout}");
    assert!(
        checkout["reason"]
            .as_str()
            .unwrap()
            .contains("expected status 200, got 500"),
        "{checkout}"
    );
    assert_eq!(report["tests"][2]["passed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_ssm_placeholders_need_aws_or_a_value_and_stay_masked() {
    let app = SampleApp::start("v10", Behaviour::Healthy).await;
    let dir = scratch("smoke-ssm");
    let spec = write(
        &dir,
        "smoke.yml",
        r#"
tests:
  - name: With a token
    url: "{{base_url}}/health?token={{ssm:/bluegreen/web/smoke-token}}"
    headers: { X-Smoke: "{{env.SMOKE_KEY}}" }
"#,
    );
    // No AWS region and no value given: refused before any request.
    let out = offline(&["smoke", "--spec", &spec, "--base-url", &app.url], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("{{ssm:/bluegreen/web/smoke-token}}"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("`tests[0]`"), "{}", out.all());
    assert!(
        out.stderr
            .contains("--ssm /bluegreen/web/smoke-token=VALUE"),
        "{}",
        out.all()
    );

    // Given on the command line: used, and masked like any secret.
    let out = offline(
        &[
            "smoke",
            "--spec",
            &spec,
            "--base-url",
            &app.url,
            "--ssm",
            "/bluegreen/web/smoke-token=tok-s3cr3t",
            "--json",
        ],
        &[("SMOKE_KEY", "key-s3cr3t")],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("tok-s3cr3t"), "{}", out.all());
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["tests"][0]["url"],
        format!("{}/health?token=***", app.url)
    );

    let out = offline(
        &[
            "smoke",
            "--spec",
            &spec,
            "--base-url",
            &app.url,
            "--ssm",
            "no-equals",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("NAME=VALUE"), "{}", out.all());
}

/// With AWS configured (here the emulator), `{{ssm:*}}` values are read from
/// SSM before any request, decrypted, and masked; a missing one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_reads_ssm_placeholders_from_ssm_when_aws_is_configured() {
    use bluegreen_local::emulator::{Emulator, EmulatorOptions, REGION};
    let emulator = Emulator::start(EmulatorOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let ssm = aws_sdk_ssm::Client::new(&emulator.sdk_config().await);
    ssm.put_parameter()
        .name("/bluegreen/web/smoke-token")
        .value("tok-from-ssm")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    let app = SampleApp::start("v11", Behaviour::Healthy).await;
    let dir = scratch("smoke-ssm-aws");
    let spec = write(
        &dir,
        "smoke.yml",
        "tests:\n  - name: With a token\n    url: \"{{base_url}}/health?token={{ssm:/bluegreen/web/smoke-token}}\"\n",
    );
    let aws = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let out = offline(
        &["smoke", "--spec", &spec, "--base-url", &app.url, "--json"],
        &aws,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("tok-from-ssm"), "{}", out.all());
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["tests"][0]["url"],
        format!("{}/health?token=***", app.url)
    );

    let missing = write(
        &dir,
        "missing.yml",
        "tests:\n  - name: Gone\n    url: \"{{base_url}}/health?k={{ssm:/bluegreen/web/gone}}\"\n",
    );
    let out = offline(&["smoke", "--spec", &missing, "--base-url", &app.url], &aws).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("/bluegreen/web/gone does not exist"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("--ssm /bluegreen/web/gone=VALUE"),
        "{}",
        out.all()
    );
}

const CONFIG_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../cdk/example-config.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_passes_each_input_with_one_ok_line() {
    let dir = scratch("validate-pass");
    let spec = write(&dir, "smoke.yml", SPEC);
    let out = offline(
        &[
            "validate",
            "--config",
            CONFIG_FILE,
            "--smoke-tests",
            &spec,
            "--overrides",
            r#"{"strategy": {"type": "weighted", "steps": [25, 100]}, "monitor": {"max_5xx_rate": 0.02}}"#,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.all());
    assert!(lines.iter().all(|l| l.starts_with("ok")), "{}", out.all());
    assert!(lines[0].contains(CONFIG_FILE), "{}", out.all());
    assert!(lines[1].contains(&spec), "{}", out.all());
    assert!(lines[1].contains("3 tests"), "{}", out.all());
    assert!(lines[2].contains("checkout"), "{}", out.all());

    // Each input alone.
    let out = offline(&["validate", "--smoke-tests", &spec], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.all());
    let out = offline(
        &[
            "validate",
            "--overrides",
            r#"{"monitor": {"min_requests": 10}}"#,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("defaults"), "{}", out.all());
}

/// Gates in overrides get the rules deploy-idle applies: a window in a zone
/// that does not exist, or an approval no Step Functions task can wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_the_gates_of_overrides() {
    for (overrides, field) in [
        (
            r#"{"gates": {"window": {"time_zone": "Mars/Olympus", "from": "22:00", "to": "06:00"}}}"#,
            "`overrides.gates.window.time_zone`",
        ),
        (
            r#"{"gates": {"window": {"time_zone": "UTC", "from": "22:00", "to": "6"}}}"#,
            "`overrides.gates.window.to`",
        ),
        (
            r#"{"gates": {"approval": {"timeout_seconds": 0}}}"#,
            "`overrides.gates.approval.timeout_seconds`",
        ),
    ] {
        let out = offline(&["validate", "--overrides", overrides], &[]).await;
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains(field), "{field}: {}", out.all());
    }
    let good = r#"{"gates": {"approval": {"before_weights": [100]}, "window": {"time_zone": "Europe/Berlin", "days": ["sat", "sun"], "from": "02:00", "to": "05:00"}}}"#;
    let out = offline(&["validate", "--overrides", good], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_a_bad_config_names_file_and_field() {
    let dir = scratch("validate-config");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(CONFIG_FILE).unwrap()).unwrap();
    config["monitor"]["max_5xx_rate"] = 5.into();
    let bad = write(&dir, "config.json", &config.to_string());
    let out = offline(&["validate", "--config", &bad], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&bad), "{}", out.all());
    assert!(
        out.stderr.contains("`monitor.max_5xx_rate`"),
        "{}",
        out.all()
    );

    // An unknown field, as the Lambdas refuse it.
    config["monitor"]["max_5xx_rate"] = 0.01.into();
    config["green"]["servce"] = "x".into();
    let bad = write(&dir, "typo.json", &config.to_string());
    let out = offline(&["validate", "--config", &bad], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("`green.servce`"), "{}", out.all());

    let broken = write(&dir, "broken.json", "{\n  \"app\": ");
    let out = offline(&["validate", "--config", &broken], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&broken), "{}", out.all());
    assert!(out.stderr.contains("line 2"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_a_spec_reading_another_apps_parameters_as_the_lambda_would() {
    let dir = scratch("validate-ssm-prefix");
    let spec = |name: &str| {
        format!(
            "tests:\n  - name: Health\n    url: \"{{{{base_url}}}}/health?t={{{{ssm:{name}}}}}\"\n"
        )
    };
    let other = write(&dir, "other.yml", &spec("/bluegreen/payments/token"));
    let out = offline(
        &["validate", "--config", CONFIG_FILE, "--smoke-tests", &other],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&other), "{}", out.all());
    assert!(
        out.stderr
            .contains("reads outside this app's parameters: use a name under /bluegreen/checkout/"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("at `tests[0]`"), "{}", out.all());
    // Its own parameters are fine; without a config there is no app to check against.
    let own = write(&dir, "own.yml", &spec("/bluegreen/checkout/token"));
    let out = offline(
        &["validate", "--config", CONFIG_FILE, "--smoke-tests", &own],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let out = offline(&["validate", "--smoke-tests", &other], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    // As the action runs it: the app from its input, no config.
    let out = offline(
        &["validate", "--smoke-tests", &other],
        &[("BLUEGREEN_APP", "checkout")],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("/bluegreen/checkout/"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_a_bad_smoke_spec_names_file_and_field() {
    let dir = scratch("validate-spec");
    let spec = write(
        &dir,
        "smoke.yml",
        "tests:\n  - name: Health\n    url: \"{{base_url}}/health\"\n    expect_stauts: 200\n",
    );
    let out = offline(&["validate", "--smoke-tests", &spec], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&spec), "{}", out.all());
    assert!(out.stderr.contains("`tests[0]"), "{}", out.all());
    assert!(out.stderr.contains("expect_stauts"), "{}", out.all());
    assert!(!out.stdout.contains("ok"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_a_bad_override_names_its_path() {
    let out = offline(
        &[
            "validate",
            "--overrides",
            r#"{"monitor":{"max_5xx_rate":5}}"#,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("`overrides.monitor.max_5xx_rate`"),
        "{}",
        out.all()
    );

    // Against a config: its validators, and the config is named.
    let out = offline(
        &[
            "validate",
            "--config",
            CONFIG_FILE,
            "--overrides",
            r#"{"strategy":{"type":"weighted","steps":[50,20]}}"#,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("`overrides.strategy.steps[1]`"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("ok"),
        "the config itself is valid: {}",
        out.all()
    );

    for bad in [
        "not json",
        r#"{"monitr": {}}"#,
        r#"{"monitor": {"min_requests": 0}}"#,
    ] {
        let out = offline(&["validate", "--overrides", bad], &[]).await;
        assert_eq!(out.code, 2, "{bad}: {}", out.all());
        assert!(out.stderr.contains("--overrides"), "{bad}: {}", out.all());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_needs_at_least_one_input() {
    let out = offline(&["validate"], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--config"), "{}", out.all());
    assert!(out.stderr.contains("--smoke-tests"), "{}", out.all());
    assert!(out.stderr.contains("--overrides"), "{}", out.all());

    let out = offline(
        &["validate", "--smoke-tests", "/nonexistent/smoke.yml"],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("/nonexistent/smoke.yml"),
        "{}",
        out.all()
    );
}

/// The released binary leaves the local mode out: `bluegreen local ...` on a
/// runner without `bluegreen-local` says how to get it, and changes nothing.
#[tokio::test]
async fn local_without_the_local_binary_says_how_to_run_it() {
    let dir = scratch("lean-cli");
    let lean = dir.join("bluegreen");
    std::fs::copy(env!("CARGO_BIN_EXE_bluegreen"), &lean).unwrap();
    let out = tokio::process::Command::new(&lean)
        .args(["local", "up", "--app", "web"])
        .env_clear()
        .env("PATH", &dir)
        .output()
        .await
        .expect("run bluegreen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cargo run -q -p bluegreen-local -- up --app web"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cargo install --locked --path local"),
        "{stderr}"
    );
}

/// `bluegreen migrations lint` over SQL fixtures of two dialects: additive
/// expand migrations pass; each destructive statement is named with its file
/// and line; SQL the parser cannot read is bad input, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_lint_flags_what_breaks_the_old_version_with_file_and_line() {
    let fixture = |dialect: &str, name: &str| {
        format!(
            "{}/tests/fixtures/migrations/{dialect}/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    for dialect in ["postgres", "mysql"] {
        let ok = fixture(dialect, "001_expand_ok.sql");
        let out = offline(&["migrations", "lint", "--dialect", dialect, &ok], &[]).await;
        assert_eq!(out.code, 0, "{dialect}: {}", out.all());
        assert!(
            out.stdout.contains("1 file(s): 0 finding(s)"),
            "{}",
            out.all()
        );
    }

    let bad = fixture("postgres", "002_expand_breaks.sql");
    let out = offline(
        &[
            "migrations",
            "lint",
            "--dialect",
            "postgres",
            "--json",
            &bad,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    let found: Vec<(u64, String)> = out
        .stdout
        .lines()
        .map(|l| {
            let f: Value = serde_json::from_str(l).expect("one JSON finding a line");
            assert_eq!(f["file"], bad.as_str());
            (
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (2, "drop-column"),
            (3, "drop-table"),
            (4, "rename"),
            (6, "change-type"),
            (7, "not-null-without-default"),
            (8, "not-null-without-default"),
        ]
        .map(|(l, r)| (l, r.to_string()))
    );

    let bad = fixture("mysql", "002_expand_breaks.sql");
    let out = offline(&["migrations", "lint", "--dialect", "mysql", &bad], &[]).await;
    assert_eq!(out.code, 1, "{}", out.all());
    for expected in [
        ":1: rename",
        ":2: change-type",
        ":3: rename",
        ":4: drop-column",
    ] {
        assert!(
            out.all().contains(&format!("{bad}{expected}")),
            "{expected}: {}",
            out.all()
        );
    }

    let dir = scratch("lint-unreadable");
    let garbage = write(&dir, "003.sql", "ALTER TABLE orders ADD COLUMN;");
    let out = offline(&["migrations", "lint", &garbage], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.all().contains("cannot parse"), "{}", out.all());
    let out = offline(&["migrations", "lint", "/nonexistent.sql"], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
}

/// In CI: the lint over the SQL files an app's config declares for its
/// expand (`migrations.expand.sql_files`).
#[tokio::test]
async fn migrations_lint_reads_the_files_an_apps_expand_declares() {
    let fixture = |name: &str| {
        format!(
            "{}/tests/fixtures/migrations/postgres/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    let example = format!("{}/../examples/app-config.json", env!("CARGO_MANIFEST_DIR"));
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    let dir = scratch("lint-config");
    let with_files = |files: &[String]| {
        let mut c = config.clone();
        c["migrations"] = serde_json::json!({"expand": {
            "command": ["./migrate", "expand"],
            "sql_files": files,
        }});
        c.to_string()
    };
    let ok = write(
        &dir,
        "ok.json",
        &with_files(&[fixture("001_expand_ok.sql")]),
    );
    let out = offline(
        &[
            "migrations",
            "lint",
            "--config",
            &ok,
            "--dialect",
            "postgres",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let bad = write(
        &dir,
        "bad.json",
        &with_files(&[
            fixture("001_expand_ok.sql"),
            fixture("002_expand_breaks.sql"),
        ]),
    );
    let out = offline(
        &[
            "migrations",
            "lint",
            "--config",
            &bad,
            "--dialect",
            "postgres",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.all().contains("002_expand_breaks.sql:2: drop-column"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("2 file(s)"), "{}", out.all());
    // Nothing declared is bad input, never a pass.
    config.as_object_mut().unwrap().remove("migrations");
    let none = write(&dir, "none.json", &config.to_string());
    let out = offline(&["migrations", "lint", "--config", &none], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.all().contains("migrations.expand.sql_files"),
        "{}",
        out.all()
    );
}

#[tokio::test]
async fn validate_json_is_one_document_saying_what_is_wrong() {
    let out = offline(
        &[
            "validate",
            "--overrides",
            r#"{"monitor":{"max_5xx_rate":5}}"#,
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["valid"], false, "{doc}");
    assert!(
        doc["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("`overrides.monitor.max_5xx_rate`")),
        "{doc}"
    );
}

/// Every command's help says what it does, with an example to copy.
#[tokio::test]
async fn every_command_has_help_with_an_example() {
    for command in [
        "deploy",
        "rollback",
        "report",
        "approve",
        "reject",
        "status",
        "reconcile",
        "smoke",
        "validate",
        "migrations",
        "schema",
    ] {
        let out = offline(&[command, "--help"], &[]).await;
        assert_eq!(out.code, 0, "{command}: {}", out.all());
        assert!(
            out.stdout.contains("Example: bluegreen ")
                || out.stdout.contains("Example: `bluegreen "),
            "{command} --help has no example: {}",
            out.stdout
        );
    }
    for sub in ["lint", "contract"] {
        let out = offline(&["migrations", sub, "--help"], &[]).await;
        assert!(
            out.stdout.contains("Example: bluegreen "),
            "{sub}: {}",
            out.stdout
        );
    }
}
