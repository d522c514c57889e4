//! A local GitHub fake for the reporting tests: just enough of the REST API
//! (deployments, statuses, issue comments, the pull requests of a commit)
//! with state, so that a second run sees what the first one left. It rejects
//! any request without the token, records every request, and can be told to
//! lose an answer (do the work, then answer 502) to play the worst case of a
//! flaky network.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "ghs_T0PS3CR3T_t0ken_42";
pub const OWNER: &str = "octo";
pub const REPO: &str = "shop";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `METHOD /path?query`.
    pub line: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Deployment id → (environment, sha, payload), in creation order.
    deployments: BTreeMap<u64, (String, String, Value)>,
    /// Deployment id → status states, oldest first.
    statuses: BTreeMap<u64, Vec<Value>>,
    /// Comment id → (issue, body), in creation order.
    comments: BTreeMap<u64, (u64, String)>,
    /// Commit sha → the pull requests it belongs to, as GitHub lists them.
    pulls: BTreeMap<String, Vec<Value>>,
    /// The next request whose line starts with this gets done, then 502.
    lose_answer: Option<String>,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub struct FakeGitHub {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Api(state.clone()))
            .mount(&server)
            .await;
        FakeGitHub { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A deployment made before the test, with its statuses (oldest first).
    pub fn seed_deployment(&self, environment: &str, states: &[&str]) -> u64 {
        self.seed_deployment_with(environment, Value::Null, states)
    }

    /// Like [`FakeGitHub::seed_deployment`], with a payload (`{"app": ..., "version": ...}`).
    pub fn seed_deployment_with(&self, environment: &str, payload: Value, states: &[&str]) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.id();
        s.deployments
            .insert(id, (environment.to_string(), String::new(), payload));
        s.statuses
            .insert(id, states.iter().map(|st| json!({"state": st})).collect());
        id
    }

    pub fn seed_comment(&self, issue: u64, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.id();
        s.comments.insert(id, (issue, body.to_string()));
        id
    }

    /// A pull request that commit `sha` belongs to: `state` is `open` or
    /// `closed`, and a closed one may have been merged.
    pub fn seed_pull(&self, sha: &str, number: u64, state: &str, merged: bool) {
        let merged_at = if merged {
            json!("2026-01-01T00:00:00Z")
        } else {
            Value::Null
        };
        self.state
            .lock()
            .unwrap()
            .pulls
            .entry(sha.to_string())
            .or_default()
            .push(json!({"number": number, "state": state, "merged_at": merged_at}));
    }

    pub fn lose_next_answer(&self, line_prefix: &str) {
        self.state.lock().unwrap().lose_answer = Some(line_prefix.to_string());
    }

    /// The states of a deployment's statuses, oldest first.
    pub fn states(&self, deployment: u64) -> Vec<String> {
        self.state.lock().unwrap().statuses[&deployment]
            .iter()
            .map(|s| s["state"].as_str().unwrap().to_string())
            .collect()
    }

    /// The comments on an issue: (id, body), oldest first.
    pub fn comments(&self, issue: u64) -> Vec<(u64, String)> {
        let s = self.state.lock().unwrap();
        s.comments
            .iter()
            .filter(|(_, (i, _))| *i == issue)
            .map(|(id, (_, body))| (*id, body.clone()))
            .collect()
    }

    pub async fn seen(&self) -> Vec<Seen> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| Seen {
                line: line(r),
                authorization: r
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            })
            .collect()
    }

    /// Just the request lines.
    pub async fn lines(&self) -> Vec<String> {
        self.seen().await.into_iter().map(|s| s.line).collect()
    }

    /// The bodies of the requests with exactly this line.
    pub async fn bodies(&self, wanted: &str) -> Vec<Value> {
        self.seen()
            .await
            .into_iter()
            .filter(|s| s.line == wanted)
            .map(|s| s.body)
            .collect()
    }
}

fn line(r: &Request) -> String {
    match r.url.query() {
        Some(q) => format!("{} {}?{q}", r.method, r.url.path()),
        None => format!("{} {}", r.method, r.url.path()),
    }
}

fn query(r: &Request, name: &str) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `per_page` and `page` applied to `items`.
fn page(r: &Request, items: Vec<Value>) -> Value {
    let per_page: usize = query(r, "per_page").map_or(30, |v| v.parse().unwrap());
    let page: usize = query(r, "page").map_or(1, |v| v.parse().unwrap());
    Value::Array(
        items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect(),
    )
}

struct Api(Arc<Mutex<State>>);

impl Respond for Api {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let authorized = r
            .headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes());
        if !authorized {
            return ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"}));
        }
        let mut s = self.0.lock().unwrap();
        let lose = s
            .lose_answer
            .as_deref()
            .is_some_and(|prefix| line(r).starts_with(prefix));
        let answer = handle(&mut s, r);
        if lose {
            s.lose_answer = None;
            return ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>");
        }
        answer
    }
}

fn handle(s: &mut State, r: &Request) -> ResponseTemplate {
    let repo = format!("/repos/{OWNER}/{REPO}/");
    let Some(rest) = r.url.path().strip_prefix(&repo) else {
        return not_found();
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let id = |p: &str| p.parse::<u64>().ok();
    match (r.method.as_str(), parts.as_slice()) {
        ("POST", ["deployments"]) => {
            let id = s.id();
            let environment = body["environment"].as_str().unwrap_or("production");
            let sha = body["ref"].as_str().unwrap_or_default().to_string();
            s.deployments
                .insert(id, (environment.to_string(), sha, body["payload"].clone()));
            s.statuses.insert(id, vec![]);
            ResponseTemplate::new(201).set_body_json(json!({"id": id, "environment": environment}))
        }
        ("GET", ["deployments"]) => {
            let environment = query(r, "environment");
            let sha = query(r, "sha");
            // Newest first, as GitHub lists them.
            let listed = s
                .deployments
                .iter()
                .rev()
                .filter(|(_, (env, _, _))| environment.as_ref().is_none_or(|e| e == env))
                .filter(|(_, (_, at, _))| sha.as_ref().is_none_or(|s| s == at))
                .map(|(id, (env, sha, payload))| {
                    json!({"id": id, "environment": env, "sha": sha, "payload": payload})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(page(r, listed))
        }
        ("POST", ["deployments", d, "statuses"]) => {
            match id(d).and_then(|d| s.statuses.get_mut(&d)) {
                Some(statuses) => {
                    statuses.push(body.clone());
                    ResponseTemplate::new(201)
                        .set_body_json(json!({"id": statuses.len(), "state": body["state"]}))
                }
                None => not_found(),
            }
        }
        ("GET", ["deployments", d, "statuses"]) => match id(d).and_then(|d| s.statuses.get(&d)) {
            Some(statuses) => {
                let listed = statuses.iter().rev().cloned().collect();
                ResponseTemplate::new(200).set_body_json(page(r, listed))
            }
            None => not_found(),
        },
        ("GET", ["commits", sha, "pulls"]) => {
            let listed = s.pulls.get(*sha).cloned().unwrap_or_default();
            ResponseTemplate::new(200).set_body_json(page(r, listed))
        }
        ("GET", ["issues", issue, "comments"]) => {
            let issue = id(issue);
            let listed = s
                .comments
                .iter()
                .filter(|(_, (i, _))| Some(*i) == issue)
                .map(|(id, (_, b))| json!({"id": id, "body": b, "user": {"login": "github-actions[bot]"}}))
                .collect();
            ResponseTemplate::new(200).set_body_json(page(r, listed))
        }
        ("POST", ["issues", issue, "comments"]) => {
            let Some(issue) = id(issue) else {
                return not_found();
            };
            let id = s.id();
            let text = body["body"].as_str().unwrap_or_default().to_string();
            s.comments.insert(id, (issue, text.clone()));
            ResponseTemplate::new(201).set_body_json(json!({"id": id, "body": text}))
        }
        ("PATCH", ["issues", "comments", c]) => match id(c).and_then(|c| s.comments.get_mut(&c)) {
            Some((_, text)) => {
                *text = body["body"].as_str().unwrap_or_default().to_string();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": c.parse::<u64>().unwrap(), "body": text}))
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
}
