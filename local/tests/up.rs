//! `bluegreen local up` as a newcomer uses it: started as a process, its
//! exports pasted into `bluegreen deploy`, `status` and `rollback` (each a
//! process), then stopped with Ctrl-C (SIGINT), leaving no port open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The released CLI, `bluegreen`, built beside this crate's binary (a
/// workspace build or test builds both; `cargo test -p bluegreen-local`
/// alone does not build it).
fn cli() -> PathBuf {
    let local = PathBuf::from(env!("CARGO_BIN_EXE_bluegreen-local"));
    let cli = local.with_file_name("bluegreen");
    assert!(
        cli.is_file(),
        "{} is missing: build it first with `cargo build -p bluegreen-action` \
         (`cargo test --workspace` builds it)",
        cli.display()
    );
    cli
}

/// The `export K=V ...` lines up to `# ready`, and the comment lines.
async fn read_until_ready(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> (HashMap<String, String>, Vec<String>) {
    let mut exports = HashMap::new();
    let mut comments = vec![];
    loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("local up became ready within 2 minutes")
            .expect("read stdout")
            .expect("local up ended before it was ready");
        if line == "# ready" {
            return (exports, comments);
        }
        if let Some(rest) = line.strip_prefix("export ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("K=V");
                exports.insert(k.to_string(), v.to_string());
            }
        } else {
            comments.push(line);
        }
    }
}

async fn bluegreen(env: &HashMap<String, String>, args: &[&str]) -> (i32, String) {
    let out = Command::new(cli())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .await
        .expect("run bluegreen");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_up_serves_deploy_status_and_rollback_and_stops_clean_on_ctrl_c() {
    let mut up = Command::new(cli())
        .args(["local", "up", "--app", "web"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start bluegreen local up");
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let (env, comments) = read_until_ready(&mut lines).await;
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_REGION",
        "BLUEGREEN_STATE_MACHINE_ARN",
        "BLUEGREEN_EMERGENCY_TOPIC_ARN",
    ] {
        assert!(env.contains_key(key), "{key} exported: {env:?}");
    }
    let production = comments
        .iter()
        .find_map(|c| c.strip_prefix("# app web: production "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the app's production URL")
        .to_string();
    let emulator = comments
        .iter()
        .find_map(|c| c.strip_prefix("# emulator "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the emulator's endpoint")
        .to_string();

    let (code, out) = bluegreen(
        &env,
        &[
            "deploy",
            "--app",
            "web",
            "--version",
            "v2",
            "--image",
            "example/web:v2",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let served: Value = reqwest::get(format!("{production}/version"))
        .await
        .expect("production answers")
        .json()
        .await
        .unwrap();
    assert_eq!(served["version"], "v2");
    let (code, out) = bluegreen(&env, &["status", "--app", "web", "--json"]).await;
    assert_eq!(code, 0, "{out}");
    let status: Value = serde_json::from_str(&out).expect("status json");
    assert_eq!(status["state"]["active_version"], "v2", "{out}");

    let (code, out) = bluegreen(
        &env,
        &["rollback", "--app", "web", "--reason", "trying it out"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (_, out) = bluegreen(&env, &["status", "--app", "web", "--json"]).await;
    let status: Value = serde_json::from_str(&out).expect("status json");
    assert_eq!(status["state"]["active_version"], "v1", "{out}");

    // Ctrl-C: everything it started stops, and its ports close.
    let pid = up.id().expect("running").to_string();
    let kill = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), up.wait())
        .await
        .expect("local up stops within 30 s of Ctrl-C")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    for url in [&env["AWS_ENDPOINT_URL"], &production, &emulator] {
        let port = port_of(url);
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err();
        assert!(refused, "port {port} ({url}) still open after Ctrl-C");
    }
}

/// `bluegreen-local demo` on a distribution whose Python refuses `pip
/// install` outside a virtual environment (PEP 668; here
/// `PIP_REQUIRE_VIRTUALENV`, and a `python3` on the PATH without moto): the
/// demo makes a virtual environment of its own, installs the emulator
/// there, runs, and leaves the system Python alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_installs_the_emulator_into_its_own_virtual_environment() {
    let dir = std::env::temp_dir().join(format!("bluegreen-venv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // The machine's python3, without its site-packages: no moto, no pip.
    let real = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    let wrapper = bin.join("python3");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec {real} -S \"$@\"\n")).unwrap();
    std::process::Command::new("chmod")
        .args(["+x", wrapper.to_str().unwrap()])
        .status()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let venv = dir.join("venv");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_bluegreen-local"))
            .args(["demo", "--fast"])
            .env("PATH", &path)
            .env("PIP_REQUIRE_VIRTUALENV", "1")
            .env("BLUEGREEN_VENV", &venv)
            .env_remove("BLUEGREEN_PYTHON")
            .output()
    };
    let out = tokio::time::timeout(Duration::from_secs(600), run())
        .await
        .expect("the demo ends within 10 minutes")
        .expect("run the demo");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("making a virtual environment for the AWS emulator"),
        "{stderr}"
    );
    assert!(stdout.contains("demo finished"), "{stdout}");
    let installed = std::process::Command::new(venv.join("bin").join("python3"))
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&installed.stdout).trim(),
        bluegreen_local::emulator::MOTO_VERSION
    );
    let _ = std::fs::remove_dir_all(&dir);
}
