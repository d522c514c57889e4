//! `scripts/install-bluegreen`, the action's installer, against a local server
//! playing the project's releases: it picks the archive for the runner, checks
//! its SHA-256 against the digest committed in the action's own repository
//! (never one served beside the binary), installs it on the PATH, and refuses
//! a mismatch.

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

/// The action's checkout at the release tag, with the digest the release
/// workflow committed for `checksum`'s archive.
fn action_checkout(dir: &Path, checksum: &str) -> PathBuf {
    let checkout = dir.join("action");
    let digests = checkout.join("install/digests");
    std::fs::create_dir_all(&digests).unwrap();
    std::fs::write(digests.join(format!("{VERSION}.sha256")), checksum).unwrap();
    checkout
}

fn install(server: &MockServer, dir: &Path, arch: &str) -> (Output, PathBuf) {
    install_with_path(server, dir, arch, &std::env::var("PATH").unwrap())
}

fn install_with_path(
    server: &MockServer,
    dir: &Path,
    arch: &str,
    search_path: &str,
) -> (Output, PathBuf) {
    let checkout = dir.join("action");
    let github_path = dir.join("github-path");
    let out = Command::new("bash")
        .arg(script())
        .env_clear()
        .env("PATH", search_path)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", arch)
        .env("RUNNER_TEMP", dir.join("runner-temp"))
        .env("GITHUB_PATH", &github_path)
        .env("REQUESTED_VERSION", VERSION)
        .env("ACTION_REPOSITORY", "octo/bluegreen")
        .env("ACTION_PATH", checkout)
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
    action_checkout(&dir, &checksum);
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
async fn a_tampered_binary_with_a_matching_checksum_beside_it_is_refused() {
    let server = MockServer::start().await;
    let dir = scratch("tampered");
    let target = "x86_64-unknown-linux-musl";
    // The release as built and committed...
    let (_, committed) = archive(&dir, target);
    action_checkout(&dir, &committed);
    // ...and what the download server now hands out: another binary, with a
    // checksum file that matches it.
    let evil = dir.join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    let exe = evil.join("payload/bluegreen");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::write(&exe, "#!/bin/sh\necho pwned\n").unwrap();
    run(Command::new("chmod").arg("+x").arg(&exe));
    let name = format!("bluegreen-{target}.tar.gz");
    run(Command::new("tar")
        .arg("-czf")
        .arg(evil.join(&name))
        .arg("-C")
        .arg(evil.join("payload"))
        .arg("bluegreen"));
    let matching =
        String::from_utf8(run(Command::new("sha256sum").arg(&name).current_dir(&evil)).stdout)
            .unwrap();
    serve(
        &server,
        target,
        std::fs::read(evil.join(&name)).unwrap(),
        matching,
    )
    .await;

    let (out, github_path) = install(&server, &dir, "X64");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    let expected = committed.split_whitespace().next().unwrap();
    assert!(stderr.contains(&format!("expected {expected}")), "{stderr}");
    assert!(stderr.contains("got "), "{stderr}");
    assert!(!dir.join("runner-temp/bluegreen/bin/bluegreen").exists());
    assert!(!github_path.exists(), "nothing added to the PATH");
}

#[tokio::test]
async fn without_a_committed_digest_nothing_is_downloaded() {
    // A branch or a commit: no digest committed for it, so no release binary
    // is trusted; the installer builds from source (and says how to get
    // cargo when it is missing).
    let server = MockServer::start().await;
    let dir = scratch("nodigest");
    // A stand-in cargo that records how it was asked to build, and installs
    // a stand-in binary where `cargo install --root` would.
    let fake_bin = dir.join("fake-bin");
    std::fs::create_dir_all(&fake_bin).unwrap();
    let args_file = dir.join("cargo-args");
    let cargo = fake_bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=\"$2\"; shift; done\n\
             mkdir -p \"$root/bin\"\n\
             printf '#!/bin/sh\\necho bluegreen 0.1.0 from source\\n' > \"$root/bin/bluegreen\"\n\
             chmod +x \"$root/bin/bluegreen\"\n",
            args_file.display()
        ),
    )
    .unwrap();
    run(Command::new("chmod").arg("+x").arg(&cargo));
    let search_path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap());
    let (out, _) = install_with_path(&server, &dir, "X64", &search_path);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("No digest committed for bluegreen"), "{all}");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was downloaded"
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("bluegreen 0.1.0 from source"), "{all}");
    // The lean CLI alone, with the profile that builds in minutes.
    let args = std::fs::read_to_string(&args_file).expect("cargo was run");
    assert!(args.contains("install --locked"), "{args}");
    assert!(args.contains("--bin bluegreen"), "{args}");
    assert!(args.contains("--profile cli"), "{args}");
    assert!(args.contains("/action/action"), "the action crate: {args}");
}
