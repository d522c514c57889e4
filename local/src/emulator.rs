//! The local AWS emulator (moto) on a free loopback port, stopped when this
//! process exits, however it exits.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::config::Credentials;

/// The moto version the tests are written against. 5.2.1 (what some machine
/// images ship) fails the second Step Functions execution on one server.
pub const MOTO_VERSION: &str = "5.2.5";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn install_hint() -> String {
    format!("pip install \"moto[server]=={MOTO_VERSION}\"")
}

pub struct Emulator {
    pub endpoint: String,
    pub port: u16,
    child: Child,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where moto's Step Functions engine sends Lambda invocations: a port on
/// which the local Lambda host listens (moto calls `localhost:$MOTO_PORT`).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmulatorOptions {
    pub lambda_port: Option<u16>,
}

impl Emulator {
    /// Starts `python3 -m moto.server` and waits until it answers. Fails with
    /// the install command when moto is missing or of another version.
    pub fn start(options: EmulatorOptions) -> Result<Emulator, String> {
        check_moto()?;
        // One start at a time in this process: a port found free by one
        // start is not then taken by another's moto before its own binds it
        // (and found "ready" by the wrong start), when tests run in parallel.
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let mut last_error = String::new();
        // A port found free may be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            let mut command = Command::new("python3");
            command.args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]);
            if let Some(lambda_port) = options.lambda_port {
                command.env("MOTO_PORT", lambda_port.to_string());
            }
            // New services report their tasks running, as a started ECS
            // service does (moto reports 0 otherwise): "what production
            // needs" is the serving color's running count.
            command.env("MOTO_ECS_SERVICE_RUNNING", "2");
            let mut child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot start moto: {e}; install it with: {}",
                        install_hint()
                    )
                })?;
            stop_with_this_process(child.id());
            match wait_until_ready(&mut child, port) {
                Ok(()) => {
                    let emulator = Emulator {
                        endpoint: format!("http://127.0.0.1:{port}"),
                        port,
                        child,
                    };
                    if options.lambda_port.is_some() {
                        // Run state machines for real; never try Docker for Lambda.
                        emulator.moto_api(
                            "/moto-api/config",
                            r#"{"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}"#,
                        )?;
                    }
                    return Ok(emulator);
                }
                Err(e) => {
                    let _ = child.kill();
                    last_error = e;
                }
            }
        }
        Err(format!("moto did not start: {last_error}"))
    }

    /// An SDK config that talks to this emulator (any keys; moto only needs a
    /// SigV4 signature to route the request).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .load()
            .await
    }

    /// POSTs JSON to moto's own API (`/moto-api/...`).
    pub fn moto_api(&self, path: &str, body: &str) -> Result<String, String> {
        http("POST", self.port, path, body)
    }
}

/// Installs the pinned moto with pip when it is missing (the local demo's
/// convenience; tests never install, they fail with the command instead).
pub fn install_moto_if_missing() -> Result<(), String> {
    if check_moto().is_ok() {
        return Ok(());
    }
    eprintln!("installing the AWS emulator: {}", install_hint());
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("moto[server]=={MOTO_VERSION}"))
        .status()
        .map_err(|e| {
            format!(
                "cannot run pip ({e}); install it yourself: {}",
                install_hint()
            )
        })?;
    if !status.success() {
        return Err(format!(
            "pip failed; install it yourself: {}",
            install_hint()
        ));
    }
    check_moto()
}

pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn check_moto() -> Result<(), String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import moto, flask, flask_cors; print(moto.__version__)",
        ])
        .output()
        .map_err(|e| {
            format!(
                "python3 is needed to run moto ({e}); then: {}",
                install_hint()
            )
        })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(format!(
            "moto (with its server) is not installed for python3. Install it with: {}",
            install_hint()
        ));
    }
    if version != MOTO_VERSION {
        return Err(format!(
            "moto {version} is installed, the tests need {MOTO_VERSION}. Install it with: {}",
            install_hint()
        ));
    }
    Ok(())
}

/// Ties the child's life to this process: Rust never drops statics, so a
/// watcher ends moto when the test binary exits, however it exits.
fn stop_with_this_process(child: u32) {
    let me = std::process::id();
    let script =
        format!("while kill -0 {me} 2>/dev/null; do sleep 1; done; kill {child} 2>/dev/null");
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn wait_until_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto exited with {status} (port {port} taken?)"));
        }
        // Our own child is alive and this answer is moto's API: the server is ours.
        if let Ok(body) = http("GET", port, "/moto-api/data.json", "")
            && body.starts_with('{')
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("moto on port {port} did not answer within 30 s"))
}

/// A minimal HTTP/1.0 exchange on loopback; enough for moto's own API.
fn http(method: &str, port: u16, path: &str, body: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    let ok = head.starts_with("HTTP/1.0 20") || head.starts_with("HTTP/1.1 20");
    if !ok {
        return Err(format!(
            "{method} {path}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_string())
}
