//! The five Lambdas, hosted in-process behind the Lambda invoke API.
//!
//! moto's Step Functions engine sends its Lambda calls over HTTP to
//! `localhost:$MOTO_PORT`. Started with `MOTO_PORT` pointing here, moto runs
//! the real state machine and this host runs the real handlers (the same
//! `handler` functions the Lambda binaries wire). Every other request is
//! passed through to moto, so the SDK can use either port.
//!
//! It also takes SNS HTTP deliveries on `/sns/rollback`: the emergency topic
//! subscribed here delivers like SNS delivers to the rollback Lambda.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bluegreen_aws::{
    CloudWatchMetrics, EcsServices, Elbv2, SfnExecutions, SnsAlerts, SsmParameters,
};
use bluegreen_core::ports::Ports;
use bluegreen_lambda::{Acting, Function, HandlerError};
use bluegreen_monitor::{HttpProber, Signals, SystemClock};
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::stops::{InFlight, StoppingExecutions};
use super::vpc::VpcDns;

/// The hosted handlers' ports: the emulator's, with an immediate stop.
type HostPorts =
    Ports<SsmParameters, Elbv2, EcsServices, SnsAlerts, StoppingExecutions<SfnExecutions>>;

/// One invocation as it happened, for timelines and tests.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub function: String,
    pub payload: Value,
    pub result: Result<Value, (String, String)>,
}

/// Called after the emulator has taken an ECS `UpdateService`: the local
/// cluster starts the new tasks before the caller hears back.
pub type ServiceUpdateHook =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// What a hosted handler acts with for one app.
struct Adapters {
    ports: HostPorts,
    signals: Signals<CloudWatchMetrics, HttpProber, SystemClock>,
    /// Lifecycle hooks, delivered as the deployed functions deliver them.
    lifecycle: bluegreen_lambda::Hooks,
}

struct Host {
    /// Per function, as the deployed functions do: the adapters act for the
    /// app a request names, with the role its config names (own credentials
    /// when none, as the example apps' configs).
    acting: Vec<(&'static str, Acting<Adapters>)>,
    in_flight: InFlight,
    http: reqwest::Client,
    moto: String,
    proxy: reqwest::Client,
    calls: mpsc::UnboundedSender<Invocation>,
    hooks: Arc<std::sync::Mutex<Vec<ServiceUpdateHook>>>,
    functions: Functions,
}

/// A team's own function (a Lambda hook, say), hosted beside bluegreen's:
/// its answer, or its error as `(type, message)`.
pub type TeamFunction = Arc<dyn Fn(Value) -> Result<Value, (String, String)> + Send + Sync>;
type Functions = Arc<std::sync::Mutex<std::collections::HashMap<String, TeamFunction>>>;

pub struct LambdaHost {
    pub port: u16,
    /// The VPC the smoke-test function is placed in: its private names.
    pub vpc: VpcDns,
    pub calls: mpsc::UnboundedReceiver<Invocation>,
    hooks: Arc<std::sync::Mutex<Vec<ServiceUpdateHook>>>,
    functions: Functions,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LambdaHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LambdaHost {
    /// Serves on `listener`; handlers reach AWS through `sdk` (the emulator),
    /// everything not an invocation is forwarded to `moto_endpoint`.
    pub fn start(
        listener: std::net::TcpListener,
        sdk: &aws_config::SdkConfig,
        prefix: &str,
        moto_endpoint: &str,
    ) -> std::io::Result<LambdaHost> {
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let hooks: Arc<std::sync::Mutex<Vec<ServiceUpdateHook>>> = Arc::default();
        let functions: Functions = Arc::default();
        let in_flight = InFlight::default();
        let prober = HttpProber::new();
        let vpc = VpcDns::default();
        let hooks_http = bluegreen_lambda::HookHttp::default();
        let adapters = {
            let (prefix, in_flight) = (prefix.to_string(), in_flight.clone());
            move |config: &aws_config::SdkConfig| {
                let aws = bluegreen_aws::ports(config, prefix.clone());
                Adapters {
                    ports: Ports {
                        params: aws.params,
                        lb: aws.lb,
                        services: aws.services,
                        alerts: aws.alerts,
                        executions: StoppingExecutions {
                            inner: aws.executions,
                            in_flight: in_flight.clone(),
                        },
                        prefix: aws.prefix,
                    },
                    signals: Signals {
                        metrics: bluegreen_aws::metrics(config),
                        prober: prober.clone(),
                        clock: SystemClock,
                    },
                    lifecycle: bluegreen_lambda::Hooks::new(hooks_http.clone(), config),
                }
            }
        };
        let acting = [
            ("bluegreen-deploy-idle", Function::DeployIdle),
            ("bluegreen-smoke-test", Function::SmokeTest),
            ("bluegreen-switch", Function::Switch),
            ("bluegreen-monitor", Function::Monitor),
            ("bluegreen-rollback", Function::Rollback),
        ]
        .into_iter()
        .map(|(name, function)| {
            let build = adapters.clone();
            (
                name,
                Acting::new(function, sdk.clone(), prefix.to_string(), build),
            )
        })
        .collect();
        let host = Arc::new(Host {
            acting,
            in_flight,
            http: bluegreen_smoke::http_client_builder()
                .dns_resolver(vpc.clone())
                .build()
                .map_err(std::io::Error::other)?,
            moto: moto_endpoint.trim_end_matches('/').to_string(),
            proxy: reqwest::Client::new(),
            calls: tx,
            hooks: hooks.clone(),
            functions: functions.clone(),
        });
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .route("/sns/rollback", post(sns_delivery))
            .fallback(forward)
            .with_state(host);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(LambdaHost {
            port,
            vpc,
            calls: rx,
            hooks,
            functions,
            task,
        })
    }

    /// Hosts `function` as the Lambda function `name` (invoked by name or
    /// ARN), as a team's own function beside bluegreen's.
    pub fn add_function(&self, name: &str, function: TeamFunction) {
        self.functions
            .lock()
            .unwrap()
            .insert(name.to_string(), function);
    }

    pub fn on_service_update(&self, hook: ServiceUpdateHook) {
        self.hooks.lock().unwrap().push(hook);
    }
}

fn answer<T: Serialize>(result: Result<T, HandlerError>) -> Result<Value, (String, String)> {
    match result {
        Ok(v) => Ok(serde_json::to_value(v).expect("outcomes serialise")),
        Err(e) => Err((e.error_type().to_string(), e.to_string())),
    }
}

/// `name` may be a bare name or an ARN (URL-encoded); the function is the
/// last `:` segment, e.g. `bluegreen-switch`.
async fn run(host: &Host, name: &str, payload: Value) -> Result<Value, (String, String)> {
    let function = name.rsplit(':').next().unwrap_or(name);
    let team = host.functions.lock().unwrap().get(function).cloned();
    if let Some(team) = team {
        return team(payload);
    }
    let Some((_, acting)) = host.acting.iter().find(|(n, _)| *n == function) else {
        return Err((
            "ResourceNotFoundException".to_string(),
            format!("no function {function} in the local Lambda host"),
        ));
    };
    // As each function's main does: the app first, then its adapters.
    if function == "bluegreen-rollback" && bluegreen_rollback::ignored(&payload) {
        return answer(Ok::<_, HandlerError>(
            bluegreen_rollback::RollbackResponse::Many(vec![]),
        ));
    }
    let app = if function == "bluegreen-rollback" {
        bluegreen_rollback::app_of(&payload).map_err(HandlerError::from)
    } else {
        bluegreen_lambda::app_of(&payload)
    };
    let adapters = match app {
        Ok(app) => acting.for_app(&app).await,
        Err(e) => Err(e),
    };
    let adapters = match adapters {
        Ok(adapters) => adapters,
        Err(e) => return answer::<Value>(Err(e)),
    };
    let (ports, signals, lifecycle) = (&adapters.ports, &adapters.signals, &adapters.lifecycle);
    let event = LambdaEvent::new(payload, Context::default());
    match function {
        // As deployed: deploy-idle refuses alarms that do not exist.
        "bluegreen-deploy-idle" => answer(
            bluegreen_deploy_idle::handler_checking_alarms(
                &bluegreen_monitor::WithSignals {
                    ports,
                    signals: &signals.metrics,
                },
                lifecycle,
                event,
            )
            .await,
        ),
        "bluegreen-smoke-test" => {
            answer(bluegreen_smoke_test::handler(ports, lifecycle, &host.http, event).await)
        }
        "bluegreen-switch" => answer(bluegreen_switch::entry(ports, lifecycle, event).await),
        "bluegreen-monitor" => answer(
            bluegreen_monitor::handler(
                &bluegreen_monitor::WithSignals { ports, signals },
                lifecycle,
                event,
            )
            .await,
        ),
        _ => answer(bluegreen_rollback::handler(ports, lifecycle, event).await),
    }
}

async fn invoke(State(host): State<Arc<Host>>, Path(name): Path<String>, body: Bytes) -> Response {
    let name = percent_decode(&name);
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // A call made for an execution ends when a hosted handler stops it.
    let result = match payload["execution"]["arn"].as_str() {
        Some(execution) => {
            let stopped = host.in_flight.stopped(execution);
            tokio::select! {
                r = run(&host, &name, payload.clone()) => r,
                // Nobody listens on AWS; the emulator, told of the stop
                // already, ends the execution ABORTED on any answer but an
                // error (which it would record as the execution's failure).
                () = stopped.notified() => Ok(json!({"stopped": execution})),
            }
        }
        None => run(&host, &name, payload.clone()).await,
    };
    let _ = host.calls.send(Invocation {
        function: name.rsplit(':').next().unwrap_or(&name).to_string(),
        payload,
        result: result.clone(),
    });
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        // As Lambda answers an invoke of a function that does not exist: an
        // error of the API (404), not of a handler.
        Err((error_type, message)) if error_type == "ResourceNotFoundException" => (
            StatusCode::NOT_FOUND,
            [("x-amzn-ErrorType", "ResourceNotFoundException")],
            axum::Json(json!({"Type": "User", "Message": message})),
        )
            .into_response(),
        // How Lambda reports a handler error: 200, a header, and the body that
        // Step Functions' Retry/Catch match on.
        Err((error_type, message)) => (
            StatusCode::OK,
            [("X-Amz-Function-Error", "Unhandled")],
            axum::Json(json!({"errorType": error_type, "errorMessage": message})),
        )
            .into_response(),
    }
}

/// An SNS HTTP delivery, handed to the rollback Lambda as the SNS event it
/// would get on AWS.
async fn sns_delivery(State(host): State<Arc<Host>>, body: Bytes) -> Response {
    let Ok(note) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if note["Type"] != "Notification" {
        // Subscription confirmations: the emulator confirms loopback
        // subscriptions by itself.
        return StatusCode::OK.into_response();
    }
    let event = json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{}:local", note["TopicArn"].as_str().unwrap_or_default()),
        "Sns": {
            "Type": "Notification",
            "MessageId": note["MessageId"],
            "TopicArn": note["TopicArn"],
            "Subject": note.get("Subject").cloned().unwrap_or(Value::Null),
            "Message": note["Message"],
            "Timestamp": note["Timestamp"],
            "SignatureVersion": note.get("SignatureVersion").cloned().unwrap_or(json!("1")),
            "Signature": note.get("Signature").cloned().unwrap_or(json!("")),
            "SigningCertUrl": note.get("SigningCertURL").cloned().unwrap_or(json!("")),
            "UnsubscribeUrl": note.get("UnsubscribeURL").cloned().unwrap_or(json!("")),
            "MessageAttributes": {}
        }
    }]});
    let result = run(&host, "bluegreen-rollback", event.clone()).await;
    let failed = result.is_err();
    let _ = host.calls.send(Invocation {
        function: "bluegreen-rollback".to_string(),
        payload: event,
        result,
    });
    // The rollback's own errors are in the record; SNS only needs an answer.
    if failed {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

/// Everything else goes to moto unchanged.
async fn forward(
    State(host): State<Arc<Host>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    tracing::debug!(%method, path, "passing through to the emulator");
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let service_update = target.is_some_and(|t| t.ends_with(".UpdateService"));
    // A StopExecution from anyone (the console, the CLI) ends the
    // execution's calls in flight here at once, as on AWS (see `stops`).
    let stopped_execution = target
        .filter(|t| t.ends_with(".StopExecution"))
        .and_then(|_| serde_json::from_slice::<Value>(&body).ok())
        .and_then(|b| b["executionArn"].as_str().map(str::to_string));
    let mut request = host
        .proxy
        .request(method, format!("{}{path}", host.moto))
        .body(body);
    for (name, value) in headers.iter() {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            if let Some(execution) = &stopped_execution
                && status.is_success()
            {
                host.in_flight.stop(execution);
            }
            if service_update && status.is_success() {
                let hooks: Vec<ServiceUpdateHook> = host.hooks.lock().unwrap().clone();
                for hook in hooks {
                    hook().await;
                }
            }
            let mut out = Response::builder().status(status);
            for (name, value) in headers.iter() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out = out.header(name, value);
                }
            }
            out.body(Body::from(body))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}
