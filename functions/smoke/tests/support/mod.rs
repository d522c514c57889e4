//! A real HTTP server on a free loopback port, playing the idle color, and
//! fakes for the secret sources.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bluegreen_smoke::{
    EnvSource, Runner, SecretError, SecretSource, SmokeReport, TestReport, http_client, parse,
};
use serde_json::{Value, json};

pub const PASSWORD: &str = "pw-from-env-7f3a9c";
pub const API_KEY: &str = "key-from-ssm-51d0e2";
pub const TOKEN: &str = "tok-issued-9b8e44";

struct App {
    flaky_calls: AtomicU32,
    version_calls: AtomicU32,
}

/// How many `/version` answers come from the old release before the route
/// reaches the new one, as right after a listener change.
pub const OLD_VERSION_ANSWERS: u32 = 3;

/// Serves the test app; the server lives as long as the test's runtime.
pub async fn start() -> String {
    let app = Arc::new(App {
        flaky_calls: AtomicU32::new(0),
        version_calls: AtomicU32::new(0),
    });
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/fail", get(fail))
        .route("/text", get(|| async { "hello world" }))
        .route("/slow", get(slow))
        .route("/hang", get(hang))
        .route("/flaky", get(flaky))
        .route("/api/v1/login", post(login))
        .route("/api/v1/me", get(me))
        .route("/echo", post(echo))
        .route("/echo-auth", get(echo_auth))
        .route("/key", get(key))
        .route("/version", get(version))
        .route("/version-header", get(version_header))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// `v1` for the first [`OLD_VERSION_ANSWERS`] requests, then `v2`.
async fn version(State(app): State<Arc<App>>) -> Json<Value> {
    let n = app.version_calls.fetch_add(1, Ordering::SeqCst);
    let version = if n < OLD_VERSION_ANSWERS { "v1" } else { "v2" };
    Json(json!({ "version": version }))
}

/// The version in a header only.
async fn version_header() -> Response {
    ([("x-app-version", "v2")], "ok").into_response()
}

/// A base URL on which nothing listens: bind a port, then let it go.
/// A base URL whose port refuses connections. The port stays bound (but never listens) for the
/// rest of the process: a port merely freed could be handed to another test's server running in
/// parallel, which would then answer (CI saw exactly that).
pub async fn refused_base_url() -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    std::mem::forget(socket);
    format!("http://{addr}")
}

async fn fail() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: database down",
    )
        .into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(300)).await;
    "slow ok"
}

async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "too late"
}

/// 503 twice, then 200.
async fn flaky(State(app): State<Arc<App>>) -> Response {
    if app.flaky_calls.fetch_add(1, Ordering::SeqCst) < 2 {
        (StatusCode::SERVICE_UNAVAILABLE, "warming up").into_response()
    } else {
        "ready".into_response()
    }
}

async fn login(Json(body): Json<Value>) -> Response {
    if body["user"] == "smoke@example.com" && body["pass"] == PASSWORD {
        Json(json!({"token": TOKEN, "expires_in": 3600})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad credentials"})),
        )
            .into_response()
    }
}

async fn me(headers: HeaderMap) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth == Some(&format!("Bearer {TOKEN}")) {
        Json(json!({"email": "smoke@example.com", "roles": ["admin", "dev"], "plan": {"seats": 5}}))
            .into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "no token").into_response()
    }
}

/// Answers 400 with the request body: a failing response full of secrets.
async fn echo(body: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("rejected: {body}")).into_response()
}

async fn echo_auth(headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (StatusCode::FORBIDDEN, Json(json!({"got": auth}))).into_response()
}

/// 403 echoing the query, whatever it is.
async fn key(uri: Uri) -> Response {
    (StatusCode::FORBIDDEN, format!("bad key in {uri}")).into_response()
}

/// `{{env.*}}` from a map instead of the process environment.
#[derive(Default)]
pub struct FakeEnv(pub HashMap<String, String>);

impl EnvSource for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

pub fn env() -> FakeEnv {
    FakeEnv(HashMap::from([(
        "SMOKE_PASSWORD".to_string(),
        PASSWORD.to_string(),
    )]))
}

/// `{{ssm:*}}` from a map; `/broken` fails like a denied call.
#[derive(Default)]
pub struct FakeSsm(pub HashMap<String, String>);

impl SecretSource for FakeSsm {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        if name == "/broken" {
            return Err(SecretError("AccessDeniedException: not allowed".into()));
        }
        Ok(self.0.get(name).cloned())
    }
}

pub fn ssm() -> FakeSsm {
    FakeSsm(HashMap::from([(
        "/smoke/api-key".to_string(),
        API_KEY.to_string(),
    )]))
}

/// Everything logged while the guard lives, as text.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures every event at every level in this process. Call it once per
    /// test binary, and only from a binary with a single test.
    pub fn capture_globally() -> Logs {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("capture_globally is called once per test binary");
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `spec` against `base_url` with these secret sources.
pub async fn run_with(base_url: &str, spec: &str, env: &FakeEnv, ssm: &FakeSsm) -> SmokeReport {
    let spec = parse(spec).unwrap();
    let http = http_client().unwrap();
    Runner::new(&http, ssm, env).run(&spec, base_url).await
}

/// Runs `spec` against `base_url` with the usual secrets.
pub async fn run(base_url: &str, spec: &str) -> SmokeReport {
    run_with(base_url, spec, &env(), &ssm()).await
}

/// The report of the test named `name`.
pub fn test<'a>(report: &'a SmokeReport, name: &str) -> &'a TestReport {
    report.tests.iter().find(|t| t.name == name).unwrap()
}

/// Why the test named `name` did not pass ("" when it did).
pub fn reason(report: &SmokeReport, name: &str) -> String {
    test(report, name).reason.clone().unwrap_or_default()
}
