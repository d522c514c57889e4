//! An internal load balancer, as most teams' services have: its test
//! listener is reachable from the VPC only, by the load balancer's DNS name.
//! The smoke-test function, placed in the VPC, reaches it; this machine
//! (the runner, a laptop) does not.

use super::*;

/// A release on an internal load balancer: the config's test URL is the
/// test listener's private URL, the smoke tests pass through it (the
/// listener routes them), and the release goes live. The same tests run
/// from outside the VPC (`bluegreen smoke`) cannot reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smoke_tests_reach_the_test_listener_by_its_private_url() {
    let (local, app) = setup_with(AppOptions {
        private_test_listener: true,
        ..quick()
    })
    .await;
    let scheme = app
        .app
        .elb
        .describe_load_balancers()
        .names(format!("{APP}-alb"))
        .send()
        .await
        .expect("describe the load balancer")
        .load_balancers()[0]
        .scheme()
        .cloned();
    assert_eq!(
        scheme,
        Some(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
    );
    let private_url = format!("http://{}:8080", app.app.dns_name);
    assert_eq!(app.app.config["test"]["url"], json!(private_url));

    // From outside the VPC: the tests cannot reach the listener.
    let dir = std::env::temp_dir().join(format!("bluegreen-private-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("smoke-tests.yml");
    std::fs::write(&spec, bluegreen_local::SMOKE_TESTS).unwrap();
    let outside = bluegreen(
        &local,
        &[
            "smoke",
            "--spec",
            spec.to_str().unwrap(),
            "--base-url",
            &private_url,
        ],
        "301",
    )
    .await;
    assert_eq!(outside.code, 1, "{}", outside.stdout);
    assert_eq!(app.test.requests(), 0, "nothing reached the test listener");

    // From the smoke-test function in the VPC: they pass through it.
    let run = deploy(&local, "v2", "302").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.outputs.contains("result=succeeded"), "{}", run.outputs);
    let routed = app.test.requests();
    assert!(
        routed >= 2,
        "the two smoke tests went through the test listener ({routed} requests)"
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
}
