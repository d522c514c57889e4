//! [`Metrics`] on CloudWatch: ALB target-group metrics and alarm states.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue,
};
use bluegreen_core::ports::{MetricWindow, Metrics, PortResult};
use bluegreen_core::steps::monitor::checks::MetricQuery;
use bluegreen_core::steps::monitor::{AlarmState, Alarms};
use time::OffsetDateTime;

use crate::error::port_error;

#[derive(Clone)]
pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        CloudWatchMetrics { client }
    }
}

/// One `AWS/ApplicationELB` metric of the target group `tg` behind `lb`, or
/// of the whole load balancer with `tg` `None` (the metrics CloudWatch has
/// per load balancer only, such as `HTTPCode_ELB_5XX_Count`).
fn query(
    id: &str,
    metric: &str,
    stat: &str,
    lb: &str,
    tg: Option<&str>,
    period: i32,
) -> MetricDataQuery {
    let mut dimensions = vec![Dimension::builder().name("LoadBalancer").value(lb).build()];
    if let Some(tg) = tg {
        dimensions.push(Dimension::builder().name("TargetGroup").value(tg).build());
    }
    let metric = Metric::builder()
        .namespace("AWS/ApplicationELB")
        .metric_name(metric)
        .set_dimensions(Some(dimensions))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(period)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// ALB metrics come in 60-second buckets: widen the window to whole minutes
/// and ask for one bucket spanning all of it.
fn window(start: OffsetDateTime, end: OffsetDateTime) -> (i64, i64, i32) {
    let from = start.unix_timestamp() / 60 * 60;
    let to = (end.unix_timestamp() + 59) / 60 * 60;
    let to = to.max(from + 60);
    (from, to, (to - from) as i32)
}

impl Metrics for CloudWatchMetrics {
    async fn target_group_window(
        &self,
        load_balancer: &str,
        target_group: &str,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> PortResult<MetricWindow> {
        let (from, to, period) = window(start, end);
        let out = self
            .client
            .get_metric_data()
            .start_time(DateTime::from_secs(from))
            .end_time(DateTime::from_secs(to))
            .scan_by(ScanBy::TimestampAscending)
            .metric_data_queries(query(
                "requests",
                "RequestCount",
                "Sum",
                load_balancer,
                Some(target_group),
                period,
            ))
            .metric_data_queries(query(
                "errors",
                "HTTPCode_Target_5XX_Count",
                "Sum",
                load_balancer,
                Some(target_group),
                period,
            ))
            .metric_data_queries(query(
                "p99",
                "TargetResponseTime",
                "p99",
                load_balancer,
                Some(target_group),
                period,
            ))
            .metric_data_queries(query(
                "p95",
                "TargetResponseTime",
                "p95",
                load_balancer,
                Some(target_group),
                period,
            ))
            .metric_data_queries(query(
                "p50",
                "TargetResponseTime",
                "p50",
                load_balancer,
                Some(target_group),
                period,
            ))
            .metric_data_queries(query(
                "lbrequests",
                "RequestCount",
                "Sum",
                load_balancer,
                None,
                period,
            ))
            .metric_data_queries(query(
                "elb5xx",
                "HTTPCode_ELB_5XX_Count",
                "Sum",
                load_balancer,
                None,
                period,
            ))
            .send()
            .await
            .map_err(|e| port_error("cloudwatch:GetMetricData", e))?;
        let values = |id: &str| -> Vec<f64> {
            out.metric_data_results()
                .iter()
                .find(|r| r.id.as_deref() == Some(id))
                .map(|r| r.values().to_vec())
                .unwrap_or_default()
        };
        // TargetResponseTime is in seconds; one bucket spans the window.
        let ms = |id: &str| values(id).into_iter().reduce(f64::max).map(|s| s * 1000.0);
        Ok(MetricWindow {
            requests: values("requests").iter().fold(0.0, |a, b| a + b),
            target_5xx: values("errors").iter().fold(0.0, |a, b| a + b),
            p99_ms: ms("p99"),
            p50_ms: ms("p50"),
            p95_ms: ms("p95"),
            lb_requests: values("lbrequests").iter().fold(0.0, |a, b| a + b),
            elb_5xx: values("elb5xx").iter().fold(0.0, |a, b| a + b),
        })
    }

    async fn metric_values(
        &self,
        queries: &[MetricQuery],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> PortResult<Vec<Option<f64>>> {
        if queries.is_empty() {
            return Ok(vec![]);
        }
        let (from, to, period) = window(start, end);
        let mut request = self
            .client
            .get_metric_data()
            .start_time(DateTime::from_secs(from))
            .end_time(DateTime::from_secs(to))
            .scan_by(ScanBy::TimestampAscending);
        for (i, q) in queries.iter().enumerate() {
            let mut metric = Metric::builder()
                .namespace(&q.namespace)
                .metric_name(&q.metric);
            for (name, value) in &q.dimensions {
                metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
            }
            request = request.metric_data_queries(
                MetricDataQuery::builder()
                    .id(format!("c{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric.build())
                            .period(period)
                            .stat(&q.statistic)
                            .build(),
                    )
                    .return_data(true)
                    .build(),
            );
        }
        let out = request
            .send()
            .await
            .map_err(|e| port_error("cloudwatch:GetMetricData", e))?;
        // One bucket spans the window; a server that splits it anyway gets
        // its buckets summed for counts and the extreme taken otherwise.
        Ok(queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let id = format!("c{i}");
                let values: Vec<f64> = out
                    .metric_data_results()
                    .iter()
                    .find(|r| r.id.as_deref() == Some(id.as_str()))
                    .map(|r| r.values().to_vec())
                    .unwrap_or_default();
                match q.statistic.as_str() {
                    "Sum" | "SampleCount" => values.into_iter().reduce(|a, b| a + b),
                    "Minimum" => values.into_iter().reduce(f64::min),
                    "Average" if values.len() > 1 => {
                        Some(values.iter().sum::<f64>() / values.len() as f64)
                    }
                    _ => values.into_iter().reduce(f64::max),
                }
            })
            .collect())
    }
}

impl Alarms for CloudWatchMetrics {
    async fn alarm_states(&self, names: &[String]) -> PortResult<Vec<AlarmState>> {
        // Both kinds: a name not in the answer has no alarm of either kind.
        let out = self
            .client
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(|e| port_error("cloudwatch:DescribeAlarms", e))?;
        let alarming = |state: Option<&StateValue>| state == Some(&StateValue::Alarm);
        let mut states: Vec<AlarmState> = out
            .metric_alarms()
            .iter()
            .filter_map(|a| {
                Some(AlarmState {
                    name: a.alarm_name.clone()?,
                    in_alarm: alarming(a.state_value.as_ref()),
                })
            })
            .chain(out.composite_alarms().iter().filter_map(|a| {
                Some(AlarmState {
                    name: a.alarm_name.clone()?,
                    in_alarm: alarming(a.state_value.as_ref()),
                })
            }))
            .collect();
        states.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_whole_minutes() {
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
        assert_eq!(window(at(125), at(130)), (120, 180, 60));
        assert_eq!(window(at(120), at(300)), (120, 300, 180));
    }
}
