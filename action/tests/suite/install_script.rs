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
    install_as(server, dir, arch, search_path, &[], &[])
}

/// The installer as the action runs it, with `extra` environment (a ref
/// other than the release's version, say) and `args` (`--plan`).
fn install_as(
    server: &MockServer,
    dir: &Path,
    arch: &str,
    search_path: &str,
    extra: &[(&str, String)],
    args: &[&str],
) -> (Output, PathBuf) {
    let checkout = dir.join("action");
    let github_path = dir.join("github-path");
    let out = Command::new("bash")
        .arg(script())
        .args(args)
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
        .env("GITHUB_API_URL", server.uri())
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("bash runs");
    (out, github_path)
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A stand-in for a command on the runner (`cargo`, `gh`): records its
/// arguments in `<dir>/<name>-args`, runs `body`; returns a PATH with it first.
fn stand_in(dir: &Path, name: &str, body: &str) -> String {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join(name);
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\n{body}\n",
            dir.join(format!("{name}-args")).display()
        ),
    )
    .unwrap();
    run(Command::new("chmod").arg("+x").arg(&exe));
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

const RELEASE_SHA: &str = "5f1c0de5f1c0de5f1c0de5f1c0de5f1c0de5f1c0";
const UNRELEASED_SHA: &str = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";

/// GitHub's API as the installer asks it: a ref's commit, and the tags
/// (newest first; the moving major tag `v9` on the release's commit too).
async fn serve_api(server: &MockServer) {
    for (r, sha) in [
        ("v9", RELEASE_SHA),
        (RELEASE_SHA, RELEASE_SHA),
        (UNRELEASED_SHA, UNRELEASED_SHA),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/octo/bluegreen/commits/{r}")))
            .respond_with(ResponseTemplate::new(200).set_body_string(sha))
            .mount(server)
            .await;
    }
    let tags = serde_json::json!([
        {"name": "v10.0.0", "zipball_url": "z", "commit": {"sha": "1111111111111111111111111111111111111111", "url": "u"}},
        {"name": "v9", "zipball_url": "z", "commit": {"sha": RELEASE_SHA, "url": "u"}},
        {"name": VERSION, "zipball_url": "z", "commit": {"sha": RELEASE_SHA, "url": "u"}},
    ]);
    Mock::given(method("GET"))
        .and(path("/repos/octo/bluegreen/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tags))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_moving_major_tag_or_a_commit_installs_the_release_it_belongs_to() {
    let server = MockServer::start().await;
    let dir = scratch("major");
    let target = "x86_64-unknown-linux-musl";
    let (body, checksum) = archive(&dir, target);
    action_checkout(&dir, &checksum);
    serve(&server, target, body, checksum).await;
    serve_api(&server).await;
    let search_path = std::env::var("PATH").unwrap();
    for r in ["v9", RELEASE_SHA] {
        let extra = [("REQUESTED_VERSION", r.to_string())];
        let (out, _) = install_as(&server, &dir, "X64", &search_path, &extra, &[]);
        let all = said(&out);
        assert!(out.status.success(), "{r}: {all}");
        assert!(
            all.contains(&format!("bluegreen {r} is release {VERSION}")),
            "{all}"
        );
        assert!(all.contains("bluegreen 9.9.9 (test build)"), "{all}");
    }
    // Handed the plan's resolution, the install step asks GitHub's API
    // nothing more.
    let asked_before = api_requests(&server).await;
    let extra = [
        ("REQUESTED_VERSION", "v9".to_string()),
        ("RESOLVED_VERSION", VERSION.to_string()),
    ];
    let (out, _) = install_as(&server, &dir, "X64", &search_path, &extra, &[]);
    let all = said(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("bluegreen 9.9.9 (test build)"), "{all}");
    assert_eq!(
        api_requests(&server).await,
        asked_before,
        "the API was asked again"
    );
    // A commit no release was made from builds from source.
    let search_path = stand_in(
        &dir,
        "cargo",
        "while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=\"$2\"; shift; done\n\
         mkdir -p \"$root/bin\"\n\
         printf '#!/bin/sh\\necho bluegreen from source\\n' > \"$root/bin/bluegreen\"\n\
         chmod +x \"$root/bin/bluegreen\"",
    );
    let extra = [
        ("REQUESTED_VERSION", UNRELEASED_SHA.to_string()),
        (
            "BLUEGREEN_BUILD_DIR",
            dir.join("build").display().to_string(),
        ),
    ];
    let (out, _) = install_as(&server, &dir, "X64", &search_path, &extra, &[]);
    let all = said(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("No digest committed for bluegreen"), "{all}");
    assert!(all.contains("bluegreen from source"), "{all}");
}

/// How many requests GitHub's API (the stand-in) has had.
async fn api_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with("/repos/"))
        .count()
}

/// `--plan` tells the action whether to cache a from-source build, and by
/// which key: the lockfile's digest.
#[tokio::test]
async fn the_plan_says_whether_to_build_and_the_cache_key() {
    let server = MockServer::start().await;
    let dir = scratch("plan");
    let target = "x86_64-unknown-linux-musl";
    let (_, checksum) = archive(&dir, target);
    let checkout = action_checkout(&dir, &checksum);
    std::fs::write(checkout.join("Cargo.lock"), "# a lockfile\n").unwrap();
    serve_api(&server).await;
    let search_path = std::env::var("PATH").unwrap();
    let output = dir.join("github-output");
    for (r, build, version) in [("v9", "false", VERSION), (UNRELEASED_SHA, "true", "")] {
        let _ = std::fs::remove_file(&output);
        let extra = [
            ("REQUESTED_VERSION", r.to_string()),
            ("GITHUB_OUTPUT", output.display().to_string()),
        ];
        let (out, _) = install_as(&server, &dir, "X64", &search_path, &extra, &["--plan"]);
        assert!(out.status.success(), "{}", said(&out));
        let written = std::fs::read_to_string(&output).unwrap();
        assert!(
            written.contains(&format!("build={build}\n")),
            "{r}: {written}"
        );
        let lock = String::from_utf8(
            run(Command::new("sha256sum").arg(checkout.join("Cargo.lock"))).stdout,
        )
        .unwrap();
        let lock = lock.split_whitespace().next().unwrap();
        assert!(written.contains(&format!("lock={lock}")), "{written}");
        assert!(
            written.contains(&format!("version={version}\n")),
            "{r}: {written}"
        );
    }
    assert!(
        !dir.join("runner-temp/bluegreen/bin/bluegreen").exists(),
        "a plan installs nothing"
    );
}

/// A release the workflow attested: `gh attestation verify` is asked about
/// the downloaded archive when gh is here, and a failure refuses it.
#[tokio::test]
async fn an_attested_release_is_verified_with_gh_and_refused_when_it_fails() {
    let server = MockServer::start().await;
    let dir = scratch("provenance");
    let target = "x86_64-unknown-linux-musl";
    let (body, checksum) = archive(&dir, target);
    action_checkout(
        &dir,
        &format!("{checksum}# attested (actions/attest-build-provenance)\n"),
    );
    serve(&server, target, body, checksum).await;

    let search_path = stand_in(&dir, "gh", "exit 0");
    let (out, _) = install_with_path(&server, &dir, "X64", &search_path);
    let all = said(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("build provenance of bluegreen-x86_64-unknown-linux-musl.tar.gz verified"),
        "{all}"
    );
    let args = std::fs::read_to_string(dir.join("gh-args")).unwrap();
    assert!(args.starts_with("attestation verify "), "{args}");
    assert!(
        args.contains("bluegreen-x86_64-unknown-linux-musl.tar.gz --repo octo/bluegreen"),
        "{args}"
    );

    let _ = std::fs::remove_dir_all(dir.join("runner-temp"));
    let search_path = stand_in(&dir, "gh", "echo 'no attestation' >&2; exit 1");
    let (out, github_path) = install_with_path(&server, &dir, "X64", &search_path);
    let all = said(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("does not verify"), "{all}");
    assert!(!dir.join("runner-temp/bluegreen/bin/bluegreen").exists());
    assert!(
        !github_path.exists()
            || std::fs::read_to_string(&github_path)
                .unwrap()
                .lines()
                .count()
                == 1
    );
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
