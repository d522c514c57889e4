//! The ports bundle as one capability object: [`Ports`] implements every
//! port trait its fields implement, by delegating to them, so a step is
//! generic over one parameter bounded by the traits it uses
//! (`async fn switch<W: ParameterStore + LoadBalancer + Services + Prefixed>(aws: &W, …)`).
//! A Lambda that wires [`crate::ports::Unused`] in place of a port still fails
//! to compile when a step it calls needs that port. [`Signals`] bundles the
//! monitor's metrics, probes and clock the same way, and [`WithSignals`]
//! joins the two.
//!
//! Each port's delegation is written once, as a macro used by every bundle
//! (the methods a trait gives by default are delegated too, so that an
//! adapter's own faster version is the one called).

use std::future::Future;

use crate::ports::{
    AlarmState, Alarms, Alerts, Bounds, Clock, ContainerImage, ExecutionInfo, ExecutionStatus,
    Executions, LoadBalancer, MetricQuery, MetricWindow, Metrics, Parameter, ParameterStore,
    PortResult, Ports, ProbeResult, PutMode, PutOutcome, Route, RouteActions, ServiceInfo,
    Services, VersionCheck, VersionProber,
};

/// Where the app's records live (the parameter prefix, `/bluegreen`).
pub trait Prefixed {
    fn prefix(&self) -> &str;
}

macro_rules! parameter_store_via {
    ($field:ident) => {
        fn get(&self, name: &str) -> impl Future<Output = PortResult<Option<Parameter>>> + Send {
            self.$field.get(name)
        }
        fn get_many(
            &self,
            names: &[String],
        ) -> impl Future<Output = PortResult<Vec<Option<Parameter>>>> + Send {
            self.$field.get_many(names)
        }
        fn put(
            &self,
            name: &str,
            value: &str,
            mode: PutMode,
        ) -> impl Future<Output = PortResult<PutOutcome>> + Send {
            self.$field.put(name, value, mode)
        }
        fn delete(&self, name: &str) -> impl Future<Output = PortResult<()>> + Send {
            self.$field.delete(name)
        }
    };
}

macro_rules! load_balancer_via {
    ($field:ident) => {
        fn read_actions(
            &self,
            route: &Route,
        ) -> impl Future<Output = PortResult<RouteActions>> + Send {
            self.$field.read_actions(route)
        }
        fn write_actions(
            &self,
            route: &Route,
            actions: &RouteActions,
        ) -> impl Future<Output = PortResult<RouteActions>> + Send {
            self.$field.write_actions(route, actions)
        }
        fn healthy_targets(
            &self,
            target_group_arn: &str,
        ) -> impl Future<Output = PortResult<usize>> + Send {
            self.$field.healthy_targets(target_group_arn)
        }
    };
}

macro_rules! services_via {
    ($field:ident) => {
        fn describe(
            &self,
            cluster: &str,
            service: &str,
        ) -> impl Future<Output = PortResult<ServiceInfo>> + Send {
            self.$field.describe(cluster, service)
        }
        fn images(
            &self,
            task_definition_arn: &str,
        ) -> impl Future<Output = PortResult<Vec<ContainerImage>>> + Send {
            self.$field.images(task_definition_arn)
        }
        fn register_with_image(
            &self,
            task_definition_arn: &str,
            container: &str,
            image: &str,
        ) -> impl Future<Output = PortResult<String>> + Send {
            self.$field
                .register_with_image(task_definition_arn, container, image)
        }
        fn update(
            &self,
            cluster: &str,
            service: &str,
            task_definition: Option<&str>,
            desired: Option<i32>,
        ) -> impl Future<Output = PortResult<()>> + Send {
            self.$field
                .update(cluster, service, task_definition, desired)
        }
        fn scaling_bounds(
            &self,
            cluster: &str,
            services: &[&str],
        ) -> impl Future<Output = PortResult<Vec<Option<Bounds>>>> + Send {
            self.$field.scaling_bounds(cluster, services)
        }
        fn set_scaling_bounds(
            &self,
            cluster: &str,
            service: &str,
            bounds: Bounds,
        ) -> impl Future<Output = PortResult<()>> + Send {
            self.$field.set_scaling_bounds(cluster, service, bounds)
        }
    };
}

macro_rules! alerts_via {
    ($field:ident) => {
        fn publish(
            &self,
            topic_arn: &str,
            subject: &str,
            message: &str,
        ) -> impl Future<Output = PortResult<()>> + Send {
            self.$field.publish(topic_arn, subject, message)
        }
    };
}

macro_rules! executions_via {
    ($field:ident) => {
        fn execution(
            &self,
            execution_arn: &str,
        ) -> impl Future<Output = PortResult<ExecutionInfo>> + Send {
            self.$field.execution(execution_arn)
        }
        fn status(
            &self,
            execution_arn: &str,
        ) -> impl Future<Output = PortResult<ExecutionStatus>> + Send {
            self.$field.status(execution_arn)
        }
        fn stop(
            &self,
            execution_arn: &str,
            cause: &str,
        ) -> impl Future<Output = PortResult<()>> + Send {
            self.$field.stop(execution_arn, cause)
        }
    };
}

macro_rules! metrics_via {
    ($field:ident) => {
        fn target_group_window(
            &self,
            load_balancer: &str,
            target_group: &str,
            start: time::OffsetDateTime,
            end: time::OffsetDateTime,
        ) -> impl Future<Output = PortResult<MetricWindow>> + Send {
            self.$field
                .target_group_window(load_balancer, target_group, start, end)
        }
        fn metric_values(
            &self,
            queries: &[MetricQuery],
            start: time::OffsetDateTime,
            end: time::OffsetDateTime,
        ) -> impl Future<Output = PortResult<Vec<Option<f64>>>> + Send {
            self.$field.metric_values(queries, start, end)
        }
    };
}

macro_rules! alarms_via {
    ($field:ident) => {
        fn alarm_states(
            &self,
            names: &[String],
        ) -> impl Future<Output = PortResult<Vec<AlarmState>>> + Send {
            self.$field.alarm_states(names)
        }
    };
}

macro_rules! prober_via {
    ($field:ident) => {
        fn probe_version(
            &self,
            url: &str,
            count: u32,
            timeout: std::time::Duration,
            check: &VersionCheck,
        ) -> impl Future<Output = Vec<ProbeResult>> + Send {
            self.$field.probe_version(url, count, timeout, check)
        }
    };
}

macro_rules! clock_via {
    ($field:ident) => {
        fn now(&self) -> time::OffsetDateTime {
            self.$field.now()
        }
        fn sleep_until(&self, t: time::OffsetDateTime) -> impl Future<Output = ()> + Send {
            self.$field.sleep_until(t)
        }
    };
}

impl<P, L, S, A, E> Prefixed for Ports<P, L, S, A, E> {
    fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl<P: ParameterStore, L: Sync + Send, S: Sync + Send, A: Sync + Send, E: Sync + Send>
    ParameterStore for Ports<P, L, S, A, E>
{
    parameter_store_via!(params);
}

impl<P: Sync + Send, L: LoadBalancer, S: Sync + Send, A: Sync + Send, E: Sync + Send> LoadBalancer
    for Ports<P, L, S, A, E>
{
    load_balancer_via!(lb);
}

impl<P: Sync + Send, L: Sync + Send, S: Services, A: Sync + Send, E: Sync + Send> Services
    for Ports<P, L, S, A, E>
{
    services_via!(services);
}

impl<P: Sync + Send, L: Sync + Send, S: Sync + Send, A: Alerts, E: Sync + Send> Alerts
    for Ports<P, L, S, A, E>
{
    alerts_via!(alerts);
}

impl<P: Sync + Send, L: Sync + Send, S: Sync + Send, A: Sync + Send, E: Executions> Executions
    for Ports<P, L, S, A, E>
{
    executions_via!(executions);
}

/// Where the monitor's signals come from: metrics and alarms (CloudWatch),
/// the version probes, and time.
pub struct Signals<M, Pr, C> {
    pub metrics: M,
    pub prober: Pr,
    pub clock: C,
}

impl<M: Metrics, Pr: Sync + Send, C: Sync + Send> Metrics for Signals<M, Pr, C> {
    metrics_via!(metrics);
}

impl<M: Alarms, Pr: Sync + Send, C: Sync + Send> Alarms for Signals<M, Pr, C> {
    alarms_via!(metrics);
}

impl<M: Sync + Send, Pr: VersionProber, C: Sync + Send> VersionProber for Signals<M, Pr, C> {
    prober_via!(prober);
}

impl<M: Sync + Send, Pr: Sync + Send, C: Clock> Clock for Signals<M, Pr, C> {
    clock_via!(clock);
}

/// The ports and the monitor's signals as one object: what a monitor call,
/// or deploy-idle's alarm check, is given.
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
    parameter_store_via!(ports);
}

impl<P: LoadBalancer, S: Sync> LoadBalancer for WithSignals<'_, P, S> {
    load_balancer_via!(ports);
}

impl<P: Services, S: Sync> Services for WithSignals<'_, P, S> {
    services_via!(ports);
}

impl<P: Alerts, S: Sync> Alerts for WithSignals<'_, P, S> {
    alerts_via!(ports);
}

impl<P: Executions, S: Sync> Executions for WithSignals<'_, P, S> {
    executions_via!(ports);
}

impl<P: Sync, S: Metrics> Metrics for WithSignals<'_, P, S> {
    metrics_via!(signals);
}

impl<P: Sync, S: Alarms> Alarms for WithSignals<'_, P, S> {
    alarms_via!(signals);
}

impl<P: Sync, S: VersionProber> VersionProber for WithSignals<'_, P, S> {
    prober_via!(signals);
}

impl<P: Sync, S: Clock> Clock for WithSignals<'_, P, S> {
    clock_via!(signals);
}
