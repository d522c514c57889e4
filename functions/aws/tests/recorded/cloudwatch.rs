//! The CloudWatch adapter against recorded CloudWatch answers (awsQuery XML),
//! served over HTTP by a local stand-in: the emulator cannot serve
//! percentiles, so this is where the p99 path is proven.

use bluegreen_core::ports::Metrics;

use crate::support::{recorded, sdk_config};

const GET_METRIC_DATA: &str = r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <GetMetricDataResult>
    <MetricDataResults>
      <member><Id>requests</Id><Label>RequestCount</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member><member>2026-11-22T10:01:00Z</member></Timestamps>
        <Values><member>700.0</member><member>500.0</member></Values></member>
      <member><Id>errors</Id><Label>HTTPCode_Target_5XX_Count</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>36.0</member></Values></member>
      <member><Id>p99</Id><Label>TargetResponseTime</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>1.25</member></Values></member>
      <member><Id>p95</Id><Label>TargetResponseTime</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>0.4</member></Values></member>
      <member><Id>p50</Id><Label>TargetResponseTime</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>0.085</member></Values></member>
      <member><Id>lbrequests</Id><Label>RequestCount</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member><member>2026-11-22T10:01:00Z</member></Timestamps>
        <Values><member>1400.0</member><member>1000.0</member></Values></member>
      <member><Id>elb5xx</Id><Label>HTTPCode_ELB_5XX_Count</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>48.0</member></Values></member>
    </MetricDataResults>
    <Messages/>
  </GetMetricDataResult>
  <ResponseMetadata><RequestId>4f0b8a6e-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</GetMetricDataResponse>"#;

const DESCRIBE_ALARMS: &str = r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <DescribeAlarmsResult>
    <MetricAlarms>
      <member><AlarmName>checkout-5xx</AlarmName><StateValue>ALARM</StateValue></member>
      <member><AlarmName>checkout-p99</AlarmName><StateValue>OK</StateValue></member>
    </MetricAlarms>
    <CompositeAlarms>
      <member><AlarmName>checkout-health</AlarmName><StateValue>ALARM</StateValue></member>
    </CompositeAlarms>
  </DescribeAlarmsResult>
  <ResponseMetadata><RequestId>4f0b8a6e-0000-4000-8000-000000000002</RequestId></ResponseMetadata>
</DescribeAlarmsResponse>"#;

async fn adapter(url: &str) -> bluegreen_aws::CloudWatchMetrics {
    bluegreen_aws::metrics(&sdk_config(url).await)
}

#[tokio::test]
async fn reads_sums_and_p99_for_the_target_group_over_whole_minutes() {
    let (url, seen) = recorded(GET_METRIC_DATA).await;
    let cw = adapter(&url).await;
    let at = |s: i64| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
    let window = cw
        .target_group_window(
            "app/shop/50dc6c495c0c9188",
            "targetgroup/shop-green/73e2d6bc24d8a067",
            at(1_800_000_030),
            at(1_800_000_100),
        )
        .await
        .expect("metrics");
    assert_eq!(window.requests, 1200.0);
    assert_eq!(window.target_5xx, 36.0);
    assert_eq!(window.p99_ms, Some(1250.0));
    assert_eq!(window.p95_ms, Some(400.0));
    assert_eq!(window.p50_ms, Some(85.0));
    // The load balancer's own 5xx (502/504 of a hanging target), per load balancer.
    assert_eq!(window.lb_requests, 2400.0);
    assert_eq!(window.elb_5xx, 48.0);

    let request = seen.lock().unwrap()[0].clone();
    let decoded = request.replace("%2F", "/");
    // The load balancer's own 5xx are asked for the whole load balancer:
    // CloudWatch has them with no target group dimension.
    let member = decoded
        .split('&')
        .find_map(|kv| {
            kv.strip_suffix(".Id=elb5xx")
                .and_then(|k| k.strip_prefix("MetricDataQueries.member."))
        })
        .expect("an elb5xx query");
    let dims = format!("MetricDataQueries.member.{member}.MetricStat.Metric.Dimensions.member.");
    assert!(
        decoded.contains(&format!("{dims}1.Name=LoadBalancer")),
        "{decoded}"
    );
    assert!(!decoded.contains(&format!("{dims}2.")), "{decoded}");
    for part in [
        "Action=GetMetricData",
        "MetricName=RequestCount",
        "MetricName=HTTPCode_Target_5XX_Count",
        "MetricName=TargetResponseTime",
        "Stat=p99",
        "Stat=p95",
        "Stat=p50",
        "MetricName=HTTPCode_ELB_5XX_Count",
        "Id=elb5xx",
        "Id=lbrequests",
        "Value=app/shop/50dc6c495c0c9188",
        "Value=targetgroup/shop-green/73e2d6bc24d8a067",
        "Namespace=AWS/ApplicationELB",
        // 1_800_000_030 rounded down, 1_800_000_100 up, to whole minutes: one 120 s bucket.
        "Period=120",
    ] {
        assert!(decoded.contains(part), "request lacks {part}: {decoded}");
    }
}

#[tokio::test]
async fn names_only_the_alarms_in_alarm_including_composites() {
    use bluegreen_core::steps::monitor::Alarms as _;
    let (url, seen) = recorded(DESCRIBE_ALARMS).await;
    let cw = adapter(&url).await;
    let names = vec![
        "checkout-5xx".to_string(),
        "checkout-p99".to_string(),
        "checkout-health".to_string(),
    ];
    let states = cw.alarm_states(&names).await.expect("alarms");
    let firing: Vec<&str> = states
        .iter()
        .filter(|a| a.in_alarm)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(firing, vec!["checkout-5xx", "checkout-health"]);
    let request = seen.lock().unwrap()[0].clone();
    assert!(
        request.contains("AlarmNames.member.1=checkout-5xx"),
        "{request}"
    );
}

#[tokio::test]
async fn an_empty_window_reads_as_zero_requests_and_no_p99() {
    const EMPTY: &str = r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricDataResult><MetricDataResults><member><Id>requests</Id><StatusCode>Complete</StatusCode><Timestamps/><Values/></member></MetricDataResults></GetMetricDataResult></GetMetricDataResponse>"#;
    let (url, _) = recorded(EMPTY).await;
    let cw = adapter(&url).await;
    let now = time::OffsetDateTime::now_utc();
    let w = cw
        .target_group_window("app/a/1", "targetgroup/b/2", now, now)
        .await
        .unwrap();
    assert_eq!((w.requests, w.target_5xx, w.p99_ms), (0.0, 0.0, None));
}

/// Which named alarms exist, of both kinds, with their state: a name left
/// out of the answer has no alarm (the monitor and deploy-idle rely on it).
#[tokio::test]
async fn reads_the_state_of_every_named_alarm_of_both_kinds() {
    use bluegreen_core::steps::monitor::{AlarmState, Alarms};
    let (url, seen) = recorded(DESCRIBE_ALARMS).await;
    let cw = adapter(&url).await;
    let names = vec![
        "checkout-5xx".to_string(),
        "checkout-p99".to_string(),
        "checkout-health".to_string(),
        "checkout-typo".to_string(),
    ];
    let states = cw.alarm_states(&names).await.expect("alarms");
    let state = |name: &str, in_alarm| AlarmState {
        name: name.into(),
        in_alarm,
    };
    assert_eq!(
        states,
        vec![
            state("checkout-5xx", true),
            state("checkout-health", true),
            state("checkout-p99", false),
        ]
    );
    let request = seen.lock().unwrap()[0].clone();
    // Without AlarmTypes, DescribeAlarms answers metric alarms only.
    for part in [
        "AlarmTypes.member.1=MetricAlarm",
        "AlarmTypes.member.2=CompositeAlarm",
        "AlarmNames.member.4=checkout-typo",
    ] {
        assert!(request.contains(part), "request lacks {part}: {request}");
    }
}

/// An app's business metrics as CloudWatch answers for them: orders (a
/// count, summed over the window's one bucket) and checkout latency (a
/// percentile); a metric with no data point has no value.
const CHECKS_METRIC_DATA: &str = r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <GetMetricDataResult>
    <MetricDataResults>
      <member><Id>c0</Id><Label>Orders</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>240.0</member></Values></member>
      <member><Id>c1</Id><Label>CheckoutLatency</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2026-11-22T10:00:00Z</member></Timestamps>
        <Values><member>812.5</member></Values></member>
      <member><Id>c2</Id><Label>Refunds</Label><StatusCode>Complete</StatusCode>
        <Timestamps/><Values/></member>
    </MetricDataResults>
    <Messages/>
  </GetMetricDataResult>
  <ResponseMetadata><RequestId>4f0b8a6e-0000-4000-8000-000000000003</RequestId></ResponseMetadata>
</GetMetricDataResponse>"#;

#[tokio::test]
async fn reads_the_apps_own_metrics_with_their_dimensions_and_statistics_in_one_request() {
    use bluegreen_core::steps::monitor::checks::MetricQuery;
    let (url, seen) = recorded(CHECKS_METRIC_DATA).await;
    let cw = adapter(&url).await;
    let at = |s: i64| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
    let q = |metric: &str, stat: &str| MetricQuery {
        namespace: "Shop".into(),
        metric: metric.into(),
        dimensions: vec![
            ("Color".into(), "green".into()),
            ("Service".into(), "checkout".into()),
        ],
        statistic: stat.into(),
    };
    let values = cw
        .metric_values(
            &[
                q("Orders", "Sum"),
                q("CheckoutLatency", "p95"),
                q("Refunds", "Sum"),
            ],
            at(1_800_000_000),
            at(1_800_000_180),
        )
        .await
        .expect("metrics");
    assert_eq!(values, vec![Some(240.0), Some(812.5), None]);

    let request = seen.lock().unwrap()[0].clone();
    let decoded = request.replace("%2F", "/");
    for part in [
        "Action=GetMetricData",
        "Namespace=Shop",
        "MetricName=Orders",
        "MetricName=CheckoutLatency",
        "Stat=Sum",
        "Stat=p95",
        "Name=Color",
        "Value=green",
        "Name=Service",
        "Value=checkout",
        "Period=180",
    ] {
        assert!(decoded.contains(part), "request lacks {part}: {decoded}");
    }
}
