//! Chat notices with the real HTTP sender: a webhook's URL is a credential
//! (Slack's carries its token), so it shows in no log line, error or result,
//! whatever goes wrong with it.

use std::sync::{Arc, Mutex};

use bluegreen_core::records::notifications::NoticeKind;
use bluegreen_core::steps::notify::{Notice, send_to_chat};
use bluegreen_e2e::PREFIX;
use bluegreen_e2e::memory::{self, AppOptions};
use serde_json::json;

const TOKEN: &str = "xoxb-T0K3N";

/// Log lines written while the guard lives (this thread's subscriber).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_webhook_url_shows_in_no_log_error_or_result() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish(),
    );
    let app = memory::provision("notify-logs", AppOptions::default());
    let mut config: serde_json::Value =
        serde_json::from_str(&app.parameter("config").expect("a config")).unwrap();
    config["notifications"] = json!({"slack": true, "webhook": true});
    app.put_config(&config);
    // Nothing listens on port 1; the other host does not exist.
    for (leaf, url) in [
        (
            "slack-webhook-url",
            format!("http://127.0.0.1:1/services/{TOKEN}"),
        ),
        (
            "webhook-url",
            format!("http://user:{TOKEN}@no-such-host.invalid/hook?token={TOKEN}"),
        ),
    ] {
        app.world()
            .params
            .insert(format!("{PREFIX}/{}/{leaf}", app.name), (url, 1));
    }
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let sender = bluegreen_lambda::Hooks::new(bluegreen_lambda::HookHttp::default(), &sdk);
    let config = bluegreen_core::records::config::AppConfig::parse(
        &app.name,
        "config",
        &app.parameter("config").unwrap(),
    )
    .unwrap();
    let notice = Notice::new(
        NoticeKind::RolledBack,
        &app.name,
        "rolled back".into(),
        "why".into(),
        time::OffsetDateTime::now_utc(),
    );
    let sent = send_to_chat(&app.ports(), PREFIX, &sender, &config, &notice).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|s| !s.sent), "{sent:?}");
    let results = serde_json::to_string(&sent).unwrap();
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("a chat notice was not sent"), "{logged}");
    assert!(!results.contains(TOKEN), "{results}");
    // Even at TRACE, where the HTTP stack names the hosts it connects to,
    // no path, credential or query is logged.
    assert!(!logged.contains(TOKEN), "{logged}");
}
