//! The ports bundle as one capability object: [`Ports`] implements every
//! port trait its fields implement, by delegating to them, so a step is
//! generic over one parameter bounded by the traits it uses
//! (`async fn switch<W: ParameterStore + LoadBalancer + Services + Prefixed>(aws: &W, …)`).
//! A Lambda that wires [`crate::ports::Unused`] in place of a port still fails
//! to compile when a step it calls needs that port.

use std::future::Future;

use crate::monitor::checks::MetricQuery;
use crate::monitor::{AlarmState, Alarms, VersionCheck, VersionProber};
use crate::ports::{
    Alerts, Bounds, Clock, ContainerImage, ExecutionInfo, ExecutionStatus, Executions,
    LoadBalancer, MetricWindow, Metrics, Parameter, ParameterStore, PortResult, Ports, ProbeResult,
    PutMode, PutOutcome, Route, RouteActions, ServiceInfo, Services,
};

/// Where the app's records live (the parameter prefix, `/bluegreen`).
pub trait Prefixed {
    fn prefix(&self) -> &str;
}

impl<P, L, S, A, E> Prefixed for Ports<P, L, S, A, E> {
    fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl<P, L, S, A, E> ParameterStore for Ports<P, L, S, A, E>
where
    P: ParameterStore,
    L: Send + Sync,
    S: Send + Sync,
    A: Send + Sync,
    E: Send + Sync,
{
    fn get(&self, name: &str) -> impl Future<Output = PortResult<Option<Parameter>>> + Send {
        self.params.get(name)
    }
    fn get_many(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<Vec<Option<Parameter>>>> + Send {
        self.params.get_many(names)
    }
    fn put(
        &self,
        name: &str,
        value: &str,
        mode: PutMode,
    ) -> impl Future<Output = PortResult<PutOutcome>> + Send {
        self.params.put(name, value, mode)
    }
    fn delete(&self, name: &str) -> impl Future<Output = PortResult<()>> + Send {
        self.params.delete(name)
    }
}

impl<P, L, S, A, E> LoadBalancer for Ports<P, L, S, A, E>
where
    P: Send + Sync,
    L: LoadBalancer,
    S: Send + Sync,
    A: Send + Sync,
    E: Send + Sync,
{
    fn read_actions(&self, route: &Route) -> impl Future<Output = PortResult<RouteActions>> + Send {
        self.lb.read_actions(route)
    }
    fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> impl Future<Output = PortResult<RouteActions>> + Send {
        self.lb.write_actions(route, actions)
    }
    fn healthy_targets(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = PortResult<usize>> + Send {
        self.lb.healthy_targets(target_group_arn)
    }
}

impl<P, L, S, A, E> Services for Ports<P, L, S, A, E>
where
    P: Send + Sync,
    L: Send + Sync,
    S: Services,
    A: Send + Sync,
    E: Send + Sync,
{
    fn describe(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = PortResult<ServiceInfo>> + Send {
        self.services.describe(cluster, service)
    }
    fn images(
        &self,
        task_definition_arn: &str,
    ) -> impl Future<Output = PortResult<Vec<ContainerImage>>> + Send {
        self.services.images(task_definition_arn)
    }
    fn register_with_image(
        &self,
        task_definition_arn: &str,
        container: &str,
        image: &str,
    ) -> impl Future<Output = PortResult<String>> + Send {
        self.services
            .register_with_image(task_definition_arn, container, image)
    }
    fn update(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        desired: Option<i32>,
    ) -> impl Future<Output = PortResult<()>> + Send {
        self.services
            .update(cluster, service, task_definition, desired)
    }
    fn scaling_bounds(
        &self,
        cluster: &str,
        services: &[&str],
    ) -> impl Future<Output = PortResult<Vec<Option<Bounds>>>> + Send {
        self.services.scaling_bounds(cluster, services)
    }
    fn set_scaling_bounds(
        &self,
        cluster: &str,
        service: &str,
        bounds: Bounds,
    ) -> impl Future<Output = PortResult<()>> + Send {
        self.services.set_scaling_bounds(cluster, service, bounds)
    }
}

impl<P, L, S, A, E> Alerts for Ports<P, L, S, A, E>
where
    P: Send + Sync,
    L: Send + Sync,
    S: Send + Sync,
    A: Alerts,
    E: Send + Sync,
{
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        self.alerts.publish(topic_arn, subject, message)
    }
}

impl<P, L, S, A, E> Executions for Ports<P, L, S, A, E>
where
    P: Send + Sync,
    L: Send + Sync,
    S: Send + Sync,
    A: Send + Sync,
    E: Executions,
{
    fn execution(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = PortResult<ExecutionInfo>> + Send {
        self.executions.execution(execution_arn)
    }
    fn status(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = PortResult<ExecutionStatus>> + Send {
        self.executions.status(execution_arn)
    }
    fn stop(
        &self,
        execution_arn: &str,
        cause: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        self.executions.stop(execution_arn, cause)
    }
}

/// The ports and the monitor's signals (metrics, alarms, probes, time) as
/// one object: what a monitor call, or deploy-idle's alarm check, is given.
pub struct WithSignals<'a, P, S> {
    pub ports: &'a P,
    pub signals: &'a S,
}

impl<P: Prefixed, S> Prefixed for WithSignals<'_, P, S> {
    fn prefix(&self) -> &str {
        self.ports.prefix()
    }
}

impl<P: ParameterStore, S: Sync> ParameterStore for WithSignals<'_, P, S> {
    fn get(&self, name: &str) -> impl Future<Output = PortResult<Option<Parameter>>> + Send {
        self.ports.get(name)
    }
    fn get_many(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<Vec<Option<Parameter>>>> + Send {
        self.ports.get_many(names)
    }
    fn put(
        &self,
        name: &str,
        value: &str,
        mode: PutMode,
    ) -> impl Future<Output = PortResult<PutOutcome>> + Send {
        self.ports.put(name, value, mode)
    }
    fn delete(&self, name: &str) -> impl Future<Output = PortResult<()>> + Send {
        self.ports.delete(name)
    }
}

impl<P: Sync, S: Metrics> Metrics for WithSignals<'_, P, S> {
    fn target_group_window(
        &self,
        load_balancer: &str,
        target_group: &str,
        start: time::OffsetDateTime,
        end: time::OffsetDateTime,
    ) -> impl Future<Output = PortResult<MetricWindow>> + Send {
        self.signals
            .target_group_window(load_balancer, target_group, start, end)
    }
    fn metric_values(
        &self,
        queries: &[MetricQuery],
        start: time::OffsetDateTime,
        end: time::OffsetDateTime,
    ) -> impl Future<Output = PortResult<Vec<Option<f64>>>> + Send {
        self.signals.metric_values(queries, start, end)
    }
}

impl<P: Sync, S: Alarms> Alarms for WithSignals<'_, P, S> {
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<Vec<AlarmState>>> + Send {
        self.signals.alarm_states(names)
    }
}

impl<P: Sync, S: VersionProber> VersionProber for WithSignals<'_, P, S> {
    fn probe_version(
        &self,
        url: &str,
        count: u32,
        timeout: std::time::Duration,
        check: &VersionCheck,
    ) -> impl Future<Output = Vec<ProbeResult>> + Send {
        self.signals.probe_version(url, count, timeout, check)
    }
}

impl<P: Sync, S: Clock> Clock for WithSignals<'_, P, S> {
    fn now(&self) -> time::OffsetDateTime {
        self.signals.now()
    }
    fn sleep_until(&self, t: time::OffsetDateTime) -> impl Future<Output = ()> + Send {
        self.signals.sleep_until(t)
    }
}
