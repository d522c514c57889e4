//! Every Lambda's calls are bounded in time: an answer that never comes
//! costs one attempt's timeout, then the call is retried or fails.

use std::time::Duration;

use tokio::net::TcpListener;

/// The config every Lambda builds its clients from carries the bounds.
#[tokio::test]
async fn the_lambdas_sdk_config_bounds_every_call() {
    let config = bluegreen_aws::sdk_config().await;
    let timeouts = config.timeout_config().expect("a timeout config");
    assert_eq!(
        timeouts.operation_attempt_timeout(),
        Some(bluegreen_aws::CALL_ATTEMPT_TIMEOUT)
    );
    assert_eq!(
        timeouts.operation_timeout(),
        Some(bluegreen_aws::CALL_TIMEOUT)
    );
    assert!(timeouts.connect_timeout().is_some());
}

/// An endpoint that takes the request and never answers: the adapter's call
/// ends with a port error once the attempts' time is up (the bounds scaled
/// down here, so that the test does not wait half a minute).
#[tokio::test]
async fn a_call_whose_answer_never_comes_fails_within_its_bounds() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((s, _)) = listener.accept().await {
            held.push(s); // read nothing, answer nothing
        }
    });
    let scaled = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(200))
        .operation_timeout(Duration::from_millis(900))
        .build();
    let config = super::support::sdk_config(&url)
        .await
        .to_builder()
        .timeout_config(scaled)
        .build();
    let ports = bluegreen_aws::ports(&config, "/bluegreen");
    // Without bounds the call would wait for ever: the outer timeout
    // would fire.
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        bluegreen_core::ports::ParameterStore::get(&ports.params, "/bluegreen/web/state"),
    )
    .await
    .expect("the call ends on its own bounds");
    let err = out.expect_err("no answer is an error");
    assert_eq!(
        err.kind,
        bluegreen_core::ports::PortErrorKind::Transient,
        "a timed-out call may be tried again: {err:?}"
    );
}
