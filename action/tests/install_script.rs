//! `scripts/install-bluegreen`, the action's installer, against a local server
//! playing the project's releases: it picks the archive for the runner, checks
//! its SHA-256, installs it on the PATH, and refuses a mismatch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VERSION: &str = "v9.9.9";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-bluegreen")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bluegreen-install-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A release archive holding a stand-in `bluegreen`, and its checksum line.
fn archive(dir: &Path, target: &str) -> (Vec<u8>, String) {
    let bin = dir.join("payload");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("bluegreen");
    std::fs::write(&exe, "#!/bin/sh\necho \"bluegreen 9.9.9 (test build)\"\n").unwrap();
    run(Command::new("chmod").arg("+x").arg(&exe));
    let name = format!("bluegreen-{target}.tar.gz");
    let tarball = dir.join(&name);
    run(Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&bin)
        .arg("bluegreen"));
    let sum = run(Command::new("sha256sum").arg(&name).current_dir(dir));
    (
        std::fs::read(&tarball).unwrap(),
        String::from_utf8(sum.stdout).unwrap(),
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command runs");
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    out
}

async fn serve(server: &MockServer, target: &str, body: Vec<u8>, checksum: String) {
    let base = format!("/{VERSION}/bluegreen-{target}.tar.gz");
    Mock::given(method("GET"))
        .and(path(base.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}.sha256")))
        .respond_with(ResponseTemplate::new(200).set_body_string(checksum))
        .mount(server)
        .await;
}

fn install(server: &MockServer, dir: &Path, arch: &str) -> (Output, PathBuf) {
    let github_path = dir.join("github-path");
    let out = Command::new("bash")
        .arg(script())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", arch)
        .env("RUNNER_TEMP", dir.join("runner-temp"))
        .env("GITHUB_PATH", &github_path)
        .env("REQUESTED_VERSION", VERSION)
        .env("ACTION_REPOSITORY", "octo/bluegreen")
        .env("ACTION_PATH", dir.join("no-source-here"))
        .env("BLUEGREEN_RELEASES_URL", server.uri())
        .output()
        .expect("bash runs");
    (out, github_path)
}

#[tokio::test]
async fn installs_the_verified_static_build_for_the_runner() {
    let server = MockServer::start().await;
    let dir = scratch("ok");
    let target = "aarch64-unknown-linux-musl";
    let (body, checksum) = archive(&dir, target);
    serve(&server, target, body, checksum).await;

    let (out, github_path) = install(&server, &dir, "ARM64");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("bluegreen 9.9.9 (test build)"), "{stdout}");
    let installed = dir.join("runner-temp/bluegreen/bin");
    assert!(installed.join("bluegreen").exists());
    assert_eq!(
        std::fs::read_to_string(github_path).unwrap().trim(),
        installed.display().to_string()
    );
}

#[tokio::test]
async fn a_checksum_mismatch_installs_nothing() {
    let server = MockServer::start().await;
    let dir = scratch("mismatch");
    let target = "x86_64-unknown-linux-musl";
    let (body, _) = archive(&dir, target);
    let forged = format!("{}  bluegreen-{target}.tar.gz\n", "0".repeat(64));
    serve(&server, target, body, forged).await;

    let (out, github_path) = install(&server, &dir, "X64");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(!dir.join("runner-temp/bluegreen/bin/bluegreen").exists());
    assert!(!github_path.exists(), "nothing added to the PATH");
}
