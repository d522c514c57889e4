//! The parts of AWS that moto does not run, played locally so that a release
//! is real end to end: a cluster that runs each color's current image as a
//! sample app (and registers it as a healthy target), and load balancer
//! listeners that route real HTTP requests by the weights moto stores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bluegreen_core::{Color, Split};
use tokio::net::TcpListener;

use super::example::ExampleApp;
use super::one_off::{self, MigrationRan};
use super::sample::{Behaviour, SampleApp};

/// What runs for each color now: its sample app's URL and version.
pub type Running = Arc<Mutex<HashMap<Color, (String, String)>>>;

/// Runs each color's current image: `example/<app>:<version>` becomes a
/// sample app of that version, registered in the color's target group.
/// Reconciles on a short timer and, through [`LocalCluster::reconcile_now`],
/// right when a service is updated, so that a check after a deploy sees the
/// new tasks as ECS would report them once its deployment settled.
#[derive(Clone)]
pub struct LocalCluster {
    pub running: Running,
    app: Arc<ExampleApp>,
    tasks: Arc<tokio::sync::Mutex<Tasks>>,
    /// Colors served by the user's own app at this URL instead of a sample
    /// (whatever image a release names, the tasks are that app).
    own: Arc<HashMap<Color, String>>,
    /// The one-off tasks (migrations) it ran, in order (see `one_off`).
    pub migrations: Arc<Mutex<Vec<MigrationRan>>>,
}

#[derive(Default)]
struct Tasks {
    apps: HashMap<Color, SampleApp>,
    /// The task definition each color's sample app was started for.
    runs: HashMap<Color, String>,
    images: HashMap<String, String>,
    /// One-off tasks already played (running or ended).
    one_off: std::collections::HashSet<String>,
}

impl LocalCluster {
    pub fn start(app: Arc<ExampleApp>) -> (LocalCluster, tokio::task::JoinHandle<()>) {
        LocalCluster::start_with(app, HashMap::new())
    }

    /// As [`LocalCluster::start`], with `own` colors served by the user's
    /// app at a URL rather than by sample apps.
    pub fn start_with(
        app: Arc<ExampleApp>,
        own: HashMap<Color, String>,
    ) -> (LocalCluster, tokio::task::JoinHandle<()>) {
        let cluster = LocalCluster {
            running: Arc::default(),
            app,
            tasks: Arc::default(),
            own: Arc::new(own),
            migrations: Arc::default(),
        };
        let timer = cluster.clone();
        let task = tokio::spawn(async move {
            loop {
                timer.reconcile_now().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        (cluster, task)
    }

    /// Changes how the color's running tasks answer from now on: a release
    /// that turns bad in the middle of its bake, on cue. False when the
    /// color runs no tasks.
    pub async fn set_behaviour(&self, color: Color, behaviour: Behaviour) -> bool {
        let tasks = self.tasks.lock().await;
        match tasks.apps.get(&color) {
            Some(app) => {
                app.set(behaviour);
                true
            }
            None => false,
        }
    }

    pub async fn reconcile_now(&self) {
        let mut tasks = self.tasks.lock().await;
        for color in Color::BOTH {
            if let Err(e) = self.reconcile(color, &mut tasks).await {
                tracing::warn!(%color, error = %e, "local cluster could not reconcile");
            }
        }
        if let Err(e) = self.run_one_off_tasks(&mut tasks).await {
            tracing::warn!(error = %e, "local cluster could not run its one-off tasks");
        }
    }

    /// Plays each new one-off task bluegreen started (see `one_off`).
    async fn run_one_off_tasks(&self, tasks: &mut Tasks) -> Result<(), String> {
        let app = &self.app;
        let listed = app
            .ecs
            .list_tasks()
            .cluster(&app.cluster)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let new: Vec<String> = listed
            .task_arns()
            .iter()
            .filter(|arn| !tasks.one_off.contains(*arn))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let described = app
            .ecs
            .describe_tasks()
            .cluster(&app.cluster)
            .set_tasks(Some(new))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        for task in described.tasks() {
            let arn = task.task_arn().unwrap_or_default().to_string();
            tasks.one_off.insert(arn.clone());
            let Some(phase) = task.started_by().and_then(one_off::phase_of) else {
                continue;
            };
            let image = match task.containers().first().and_then(|c| c.image()) {
                Some(image) => image.to_string(),
                None => app
                    .task_definition(task.task_definition_arn().unwrap_or_default())
                    .await
                    .container_definitions()
                    .first()
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default(),
            };
            let version = image
                .rsplit_once(':')
                .map_or("latest", |(_, tag)| tag)
                .to_string();
            let command = task
                .overrides()
                .and_then(|o| o.container_overrides().first())
                .map(|c| c.command().to_vec())
                .unwrap_or_default();
            let mut services = HashMap::new();
            for color in Color::BOTH {
                if let Some(td) = self.service(color).await?.and_then(|s| s.task_definition) {
                    services.insert(color, td);
                }
            }
            let exit_code = one_off::outcome(phase, &version);
            tracing::info!(phase, %version, ?command, ?exit_code, "local cluster ran a migration task");
            self.migrations.lock().unwrap().push(MigrationRan {
                phase: phase.to_string(),
                version,
                command,
                exit_code,
                services,
                task_arn: arn.clone(),
            });
            if let Some(code) = exit_code {
                self.end_task(&arn, code).await?;
            }
        }
        Ok(())
    }

    /// Tells moto the task ended as ECS would: stopped, with the container's
    /// exit code (moto has no API of its own for it; see `moto_fork.py`).
    async fn end_task(&self, task_arn: &str, exit_code: i32) -> Result<(), String> {
        let endpoint = self
            .app
            .sdk
            .endpoint_url()
            .ok_or("the local cluster has no emulator endpoint")?;
        let reason = if exit_code == 0 {
            "Essential container in task exited".to_string()
        } else {
            format!("Essential container in task exited (exit code {exit_code})")
        };
        let answer = reqwest::Client::new()
            .post(format!("{endpoint}/_bluegreen/ecs/task-ended"))
            .json(&serde_json::json!({
                "region": super::emulator::REGION,
                "cluster": self.app.cluster,
                "task": task_arn,
                "exit_code": exit_code,
                "reason": reason,
            }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !answer.status().is_success() {
            return Err(format!(
                "the emulator did not end task {task_arn}: {}",
                answer.text().await.unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// The color's ECS service as the emulator describes it.
    async fn service(&self, color: Color) -> Result<Option<aws_sdk_ecs::types::Service>, String> {
        let app = &self.app;
        let out = app
            .ecs
            .describe_services()
            .cluster(&app.cluster)
            .services(app.service(color))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(out.services().first().cloned())
    }

    async fn reconcile(&self, color: Color, tasks: &mut Tasks) -> Result<(), String> {
        let app = &self.app;
        let Some(service) = self.service(color).await? else {
            return Ok(());
        };
        let task_definition = service.task_definition.clone().unwrap_or_default();
        if service.desired_count == 0 {
            if tasks.apps.remove(&color).is_some() {
                self.running.lock().unwrap().remove(&color);
                app.set_healthy(color, false).await;
            }
            return Ok(());
        }
        if !tasks.images.contains_key(&task_definition) {
            let image = app
                .task_definition(&task_definition)
                .await
                .container_definitions()
                .first()
                .and_then(|c| c.image.clone())
                .unwrap_or_default();
            tasks.images.insert(task_definition.clone(), image);
        }
        let version = tasks.images[&task_definition]
            .rsplit_once(':')
            .map_or("latest", |(_, tag)| tag)
            .to_string();
        if let Some(url) = self.own.get(&color) {
            let changed = {
                let mut running = self.running.lock().unwrap();
                let changed = running.get(&color).is_none_or(|(_, v)| *v != version);
                running.insert(color, (url.clone(), version));
                changed
            };
            if changed {
                app.set_healthy(color, true).await;
            }
            return Ok(());
        }
        if tasks.apps.contains_key(&color) && tasks.runs.get(&color) == Some(&task_definition) {
            return Ok(());
        }
        // A new task definition (a new image, or the same one on a fresh
        // revision): replace the tasks, as an ECS deployment would; the
        // targets are out of the group while that happens.
        if tasks.apps.contains_key(&color) {
            app.set_healthy(color, false).await;
        }
        let sample = SampleApp::start(&version, Behaviour::from_version(&version)).await;
        self.running
            .lock()
            .unwrap()
            .insert(color, (sample.url.clone(), version.clone()));
        tasks.apps.insert(color, sample);
        tasks.runs.insert(color, task_definition);
        app.set_healthy(color, true).await;
        Ok(())
    }
}

/// A load balancer listener played locally: each request goes to blue or
/// green by the weights the emulator's listener (or rule) holds right now.
pub struct LocalListener {
    pub url: String,
    routing: Arc<Routing>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Which route a local listener follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Production,
    Test,
}

struct Routing {
    app: Arc<ExampleApp>,
    listener: Listener,
    running: Running,
    split: Mutex<Option<Split>>,
    counter: AtomicU64,
    http: reqwest::Client,
}

impl LocalListener {
    /// Binds now (so the URL can go into the app's config before the app
    /// exists); serves once [`LocalListener::serve`] is called.
    pub async fn bind() -> std::io::Result<(TcpListener, String)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok((listener, url))
    }

    pub fn serve(
        bound: (TcpListener, String),
        app: Arc<ExampleApp>,
        listener: Listener,
        running: Running,
    ) -> LocalListener {
        let routing = Arc::new(Routing {
            app,
            listener,
            running,
            split: Mutex::new(None),
            counter: AtomicU64::new(0),
            http: reqwest::Client::new(),
        });
        let poller = routing.clone();
        let counted = routing.clone();
        let (tcp, url) = bound;
        let task = tokio::spawn(async move {
            // Follow the emulator's production listener, as the ALB's data
            // plane follows its control plane: with a short delay. (The test
            // route is read for every request instead: see `route`.)
            let follow = tokio::spawn(async move {
                if poller.listener != Listener::Production {
                    return;
                }
                loop {
                    let split = poller.app.listener_split().await;
                    *poller.split.lock().unwrap() = Some(split);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            let router = Router::new().fallback(route).with_state(routing);
            let _ = axum::serve(tcp, router).await;
            follow.abort();
        });
        LocalListener {
            url,
            routing: counted,
            task,
        }
    }

    /// How many requests it has routed.
    pub fn requests(&self) -> u64 {
        self.routing.counter.load(Ordering::Relaxed)
    }
}

async fn route(State(r): State<Arc<Routing>>, method: Method, uri: Uri, body: Bytes) -> Response {
    // The test route is read afresh for every request: smoke tests run right
    // after deploy-idle points it at the idle color, and must never be
    // answered by the color that serves production. The production listener
    // keeps the data plane's short lag, which the monitor's probes must cope with.
    let split = match r.listener {
        Listener::Test => Some(r.app.test_route_split().await),
        Listener::Production => *r.split.lock().unwrap(),
    };
    let Some(split) = split else {
        return (StatusCode::SERVICE_UNAVAILABLE, "listener not ready").into_response();
    };
    // Spread requests by weight, deterministically: of every 100 requests,
    // `split.green` go to green.
    let n = r.counter.fetch_add(1, Ordering::Relaxed);
    let slot = (n * 37 % 100) as u8;
    let color = if slot < split.green {
        Color::Green
    } else {
        Color::Blue
    };
    let Some((base, _)) = r.running.lock().unwrap().get(&color).cloned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no healthy {color} target"),
        )
            .into_response();
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match r
        .http
        .request(method, format!("{base}{path}"))
        .body(body)
        .send()
        .await
    {
        Ok(resp) => {
            let mut out = Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                if !matches!(
                    k.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out = out.header(k, v);
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            out.body(Body::from(bytes))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
