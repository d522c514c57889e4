//! The local AWS emulator (moto) on a loopback port of its choosing, one
//! server per [`Emulator`], stopped when it is dropped or this process exits,
//! however it exits.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
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

/// The Python that runs moto: `$BLUEGREEN_PYTHON` when set; else the
/// project's own virtual environment once the demo made one (see
/// [`install_moto_if_missing`]); else `python3` from the PATH.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("BLUEGREEN_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = venv_python();
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Where the demo installs moto when the system Python has none: a
/// virtual environment of the project's (`$BLUEGREEN_VENV`, by default
/// `.bluegreen/venv` in the repository), made on first use and reused. A
/// system Python marked externally managed (PEP 668: Debian 12, Ubuntu
/// 24.04) refuses `pip install`; a virtual environment never does.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("BLUEGREEN_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(".bluegreen")
            .join("venv"),
    }
}

fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python3")
}

pub struct Emulator {
    pub endpoint: String,
    pub port: u16,
    /// The server's process, a child of this process's launcher.
    pid: u32,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Waits for the answer: once dropped, the server's port is closed.
        if let Some(launcher) = LAUNCHER.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
            && launcher
                .send(&format!(r#"{{"stop": {}}}"#, self.pid))
                .is_ok()
        {
            let _ = launcher.answer();
        }
    }
}

/// Where moto's Step Functions engine sends Lambda invocations: a port on
/// which the local Lambda host listens (moto calls `localhost:$MOTO_PORT`).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmulatorOptions {
    pub lambda_port: Option<u16>,
}

/// This process's moto launcher (`moto_fork.py`): it pays moto's start-up
/// (about 2.5 s of CPU) once and forks a fresh server, with its own state, for
/// each [`Emulator::start`]. It ends, and ends every server it started, when
/// this process ends, however it ends (its stdin closes).
static LAUNCHER: Mutex<Option<Launcher>> = Mutex::new(None);

const LAUNCHER_SCRIPT: &str = include_str!("moto_fork.py");

struct Launcher {
    process: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Launcher {
    fn start() -> Result<Launcher, String> {
        let mut process = Command::new(python())
            .args(["-c", LAUNCHER_SCRIPT])
            // New services report their tasks running, as a started ECS
            // service does (moto reports 0 otherwise): "what production
            // needs" is the serving color's running count.
            .env("MOTO_ECS_SERVICE_RUNNING", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start moto: {e}; install it with: {}",
                    install_hint()
                )
            })?;
        let stdin = process.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(process.stdout.take().ok_or("no stdout")?);
        let mut launcher = Launcher {
            process,
            stdin,
            stdout,
        };
        let ready = launcher.answer()?;
        if ready.get("ready").is_none() {
            return Err(format!("the moto launcher answered {ready}"));
        }
        Ok(launcher)
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("the moto launcher is gone: {e}"))
    }

    fn answer(&mut self) -> Result<serde_json::Value, String> {
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("the moto launcher is gone: {e}"))?;
        if read == 0 {
            let status = self.process.try_wait().ok().flatten();
            return Err(format!(
                "the moto launcher ended ({status:?}); see its output above"
            ));
        }
        serde_json::from_str(&line).map_err(|e| format!("the moto launcher said {line:?}: {e}"))
    }

    /// A new server; its port, chosen by the server itself (no race for a
    /// port found free), and its process id.
    fn fork(&mut self, lambda_port: Option<u16>) -> Result<(u16, u32), String> {
        let env = match lambda_port {
            Some(port) => serde_json::json!({ "MOTO_PORT": port.to_string() }),
            None => serde_json::json!({}),
        };
        self.send(&serde_json::json!({ "start": env }).to_string())?;
        let started = self.answer()?;
        let port = started["port"].as_u64().and_then(|p| u16::try_from(p).ok());
        let pid = started["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
        match (port, pid) {
            (Some(port), Some(pid)) => Ok((port, pid)),
            _ => Err(format!("the moto launcher answered {started}")),
        }
    }
}

impl Emulator {
    /// Starts a moto server of its own and waits until it answers. Fails
    /// with the install command when moto is missing or of another version.
    pub fn start(options: EmulatorOptions) -> Result<Emulator, String> {
        static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
        CHECKED.get_or_init(check_moto).clone()?;
        let mut guard = LAUNCHER.lock().unwrap_or_else(|e| e.into_inner());
        // A launcher that died (it never should) is started again, once.
        let (port, pid) = match guard.as_mut().map(|l| l.fork(options.lambda_port)) {
            Some(Ok(started)) => started,
            _ => {
                *guard = Some(Launcher::start()?);
                guard
                    .as_mut()
                    .expect("just started")
                    .fork(options.lambda_port)?
            }
        };
        drop(guard);
        let emulator = Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            pid,
        };
        wait_until_ready(port)?;
        if options.lambda_port.is_some() {
            // Run state machines for real; never try Docker for Lambda.
            emulator.moto_api(
                "/moto-api/config",
                r#"{"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}"#,
            )?;
        }
        Ok(emulator)
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

/// Installs the pinned moto when the Python that would run it has none
/// (the local demo's convenience; tests never install, they fail with the
/// command instead): into the project's virtual environment ([`venv_dir`]),
/// made first with the system `python3 -m venv`; the system Python is
/// never changed.
pub fn install_moto_if_missing() -> Result<(), String> {
    if check_moto().is_ok() {
        return Ok(());
    }
    let dir = venv_dir();
    let python = venv_python();
    if !python.is_file() {
        eprintln!(
            "making a virtual environment for the AWS emulator in {} (your system Python is left alone)",
            dir.display()
        );
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("cannot run python3 ({e}): install Python 3 first"))?;
        if !status.success() {
            return Err(format!(
                "python3 -m venv {} failed: install your distribution's venv package (e.g. `apt install python3-venv`), then run the demo again",
                dir.display()
            ));
        }
    }
    eprintln!(
        "installing the AWS emulator into {}: {}",
        dir.display(),
        install_hint()
    );
    let status = Command::new(&python)
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
                "cannot run pip of {} ({e}); install it yourself: {}",
                python.display(),
                install_hint()
            )
        })?;
    if !status.success() {
        return Err(format!(
            "pip failed in {}; install it yourself: {}",
            dir.display(),
            install_hint()
        ));
    }
    check_moto()
}

fn check_moto() -> Result<(), String> {
    let python = python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import moto, flask, flask_cors; print(moto.__version__)",
        ])
        .output()
        .map_err(|e| {
            format!(
                "{} is needed to run moto ({e}); then: {}",
                python.display(),
                install_hint()
            )
        })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(format!(
            "moto (with its server) is not installed for {}. Install it with: {}",
            python.display(),
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

fn wait_until_ready(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        // The server bound its port before it was reported: this is its API.
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
