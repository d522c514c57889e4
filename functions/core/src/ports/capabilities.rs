//! The ports bundle as one capability object: [`Ports`] implements every
//! port trait its fields implement, by delegating to them, so a step is
//! generic over one parameter bounded by the traits it uses
//! (`async fn switch<W: ParameterStore + LoadBalancer + Services + Prefixed>(aws: &W, …)`).
//! A Lambda declares its own object with [`capabilities!`](crate::capabilities!),
//! holding only the adapters it calls. [`Signals`] bundles the
//! monitor's metrics, probes and clock the same way, and [`WithSignals`]
//! joins the two.
//!
//! Each port's delegation is written once, as a macro used by every bundle
//! (the methods a trait gives by default are delegated too, so that an
//! adapter's own faster version is the one called).

use crate::ports::{
    Alarms, Alerts, Clock, Executions, LoadBalancer, Metrics, ParameterStore, Ports, Services,
    VersionProber,
};

/// Where the app's records live (the parameter prefix, `/bluegreen`).
pub trait Prefixed {
    fn prefix(&self) -> &str;
}

/// Declares a capability object: a struct with one field per adapter and the
/// parameter prefix, implementing each port trait named after its field by
/// delegating to that field. A Lambda declares the one it needs, so it links
/// only the SDK clients it calls and fails to compile when a step it runs
/// needs a port it lacks:
///
/// ```
/// # use bluegreen_core::ports::capabilities::Prefixed;
/// # #[derive(Clone)] struct Ssm;
/// # impl bluegreen_core::ports::ParameterStore for Ssm {
/// #     async fn get(&self, _: &str) -> bluegreen_core::ports::PortResult<Option<bluegreen_core::ports::Parameter>> { Ok(None) }
/// #     async fn put(&self, _: &str, _: &str, _: bluegreen_core::ports::PutMode) -> bluegreen_core::ports::PortResult<bluegreen_core::ports::PutOutcome> { unimplemented!() }
/// #     async fn delete(&self, _: &str) -> bluegreen_core::ports::PortResult<()> { Ok(()) }
/// # }
/// bluegreen_core::capabilities! {
///     /// What the smoke tests read: `{{ssm:…}}` values.
///     pub struct SmokeTestAws {
///         params: Ssm => ParameterStore,
///     }
/// }
/// let aws = SmokeTestAws { params: Ssm, prefix: "/bluegreen".into() };
/// assert_eq!(aws.prefix(), "/bluegreen");
/// ```
#[macro_export]
macro_rules! capabilities {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty => $($port:ident)&+ ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )+
            /// Where the app's records live (`/bluegreen`).
            pub prefix: ::std::string::String,
        }

        impl $crate::ports::capabilities::Prefixed for $name {
            fn prefix(&self) -> &str {
                &self.prefix
            }
        }

        $( $( $crate::__port_via!($port, $name, $field); )+ )+
    };
}

/// One port trait's implementation for a capability object, by its field.
#[doc(hidden)]
#[macro_export]
macro_rules! __port_via {
    (ParameterStore, $name:ident, $field:ident) => {
        impl $crate::ports::ParameterStore for $name {
            $crate::__parameter_store_via!($field);
        }
    };
    (LoadBalancer, $name:ident, $field:ident) => {
        impl $crate::ports::LoadBalancer for $name {
            $crate::__load_balancer_via!($field);
        }
    };
    (Services, $name:ident, $field:ident) => {
        impl $crate::ports::Services for $name {
            $crate::__services_via!($field);
        }
    };
    (Alerts, $name:ident, $field:ident) => {
        impl $crate::ports::Alerts for $name {
            $crate::__alerts_via!($field);
        }
    };
    (Executions, $name:ident, $field:ident) => {
        impl $crate::ports::Executions for $name {
            $crate::__executions_via!($field);
        }
    };
    (Metrics, $name:ident, $field:ident) => {
        impl $crate::ports::Metrics for $name {
            $crate::__metrics_via!($field);
        }
    };
    (Alarms, $name:ident, $field:ident) => {
        impl $crate::ports::Alarms for $name {
            $crate::__alarms_via!($field);
        }
    };
    (VersionProber, $name:ident, $field:ident) => {
        impl $crate::ports::VersionProber for $name {
            $crate::__prober_via!($field);
        }
    };
    (Clock, $name:ident, $field:ident) => {
        impl $crate::ports::Clock for $name {
            $crate::__clock_via!($field);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __parameter_store_via {
    ($field:ident) => {
        fn get(&self, name: &str) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Option<$crate::ports::Parameter>>> + Send {
            self.$field.get(name)
        }
        fn get_many(
            &self,
            names: &[String],
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Vec<Option<$crate::ports::Parameter>>>> + Send {
            self.$field.get_many(names)
        }
        fn put(
            &self,
            name: &str,
            value: &str,
            mode: $crate::ports::PutMode,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::PutOutcome>> + Send {
            self.$field.put(name, value, mode)
        }
        fn delete(&self, name: &str) -> impl ::std::future::Future<Output = $crate::ports::PortResult<()>> + Send {
            self.$field.delete(name)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __load_balancer_via {
    ($field:ident) => {
        fn read_actions(
            &self,
            route: &$crate::ports::Route,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::RouteActions>> + Send {
            self.$field.read_actions(route)
        }
        fn write_actions(
            &self,
            route: &$crate::ports::Route,
            actions: &$crate::ports::RouteActions,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::RouteActions>> + Send {
            self.$field.write_actions(route, actions)
        }
        fn healthy_targets(
            &self,
            target_group_arn: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<usize>> + Send {
            self.$field.healthy_targets(target_group_arn)
        }
        fn deregistration_delay(
            &self,
            target_group_arn: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<u64>> + Send {
            self.$field.deregistration_delay(target_group_arn)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __services_via {
    ($field:ident) => {
        fn describe(
            &self,
            cluster: &str,
            service: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::ServiceInfo>> + Send {
            self.$field.describe(cluster, service)
        }
        fn images(
            &self,
            task_definition_arn: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Vec<$crate::ports::ContainerImage>>> + Send {
            self.$field.images(task_definition_arn)
        }
        fn register_with_images(
            &self,
            task_definition_arn: &str,
            images: &[$crate::ports::ContainerImage],
            mark: Option<&$crate::ports::RevisionTag>,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<String>> + Send {
            self.$field
                .register_with_images(task_definition_arn, images, mark)
        }
        fn register_document(
            &self,
            document: &$crate::ports::RegisterRequest,
            mark: &$crate::ports::RevisionTag,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<String>> + Send {
            self.$field.register_document(document, mark)
        }
        fn update(
            &self,
            cluster: &str,
            service: &str,
            task_definition: Option<&str>,
            desired: Option<i32>,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<()>> + Send {
            self.$field
                .update(cluster, service, task_definition, desired)
        }
        fn scaling_bounds(
            &self,
            cluster: &str,
            services: &[&str],
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Vec<Option<$crate::ports::Bounds>>>> + Send {
            self.$field.scaling_bounds(cluster, services)
        }
        fn set_scaling_bounds(
            &self,
            cluster: &str,
            service: &str,
            bounds: $crate::ports::Bounds,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<()>> + Send {
            self.$field.set_scaling_bounds(cluster, service, bounds)
        }
        fn run_task(
            &self,
            task: &$crate::ports::OneOffTask,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<String>> + Send {
            self.$field.run_task(task)
        }
        fn find_task(
            &self,
            cluster: &str,
            started_by: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Option<String>>> + Send {
            self.$field.find_task(cluster, started_by)
        }
        fn describe_task(
            &self,
            cluster: &str,
            task_arn: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Option<$crate::ports::TaskStatus>>> + Send {
            self.$field.describe_task(cluster, task_arn)
        }
        fn stop_task(
            &self,
            cluster: &str,
            task_arn: &str,
            reason: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<()>> + Send {
            self.$field.stop_task(cluster, task_arn, reason)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __alerts_via {
    ($field:ident) => {
        fn publish(
            &self,
            topic_arn: &str,
            subject: &str,
            message: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<()>> + Send {
            self.$field.publish(topic_arn, subject, message)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __executions_via {
    ($field:ident) => {
        fn execution(
            &self,
            execution_arn: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::ExecutionInfo>> + Send {
            self.$field.execution(execution_arn)
        }
        fn status(
            &self,
            execution_arn: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::ExecutionStatus>> + Send {
            self.$field.status(execution_arn)
        }
        fn stop(
            &self,
            execution_arn: &str,
            cause: &str,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<()>> + Send {
            self.$field.stop(execution_arn, cause)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __metrics_via {
    ($field:ident) => {
        fn target_group_window(
            &self,
            load_balancer: &str,
            target_group: &str,
            start: $crate::__time::OffsetDateTime,
            end: $crate::__time::OffsetDateTime,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<$crate::ports::MetricWindow>> + Send {
            self.$field
                .target_group_window(load_balancer, target_group, start, end)
        }
        fn metric_values(
            &self,
            queries: &[$crate::ports::MetricQuery],
            start: $crate::__time::OffsetDateTime,
            end: $crate::__time::OffsetDateTime,
        ) -> impl ::std::future::Future<Output = $crate::ports::PortResult<Vec<Option<f64>>>> + Send {
            self.$field.metric_values(queries, start, end)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __alarms_via {
    ($field:ident) => {
        fn alarm_states(
            &self,
            names: &[String],
        ) -> impl ::std::future::Future<
            Output = $crate::ports::PortResult<Vec<$crate::ports::AlarmState>>,
        > + Send {
            self.$field.alarm_states(names)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __prober_via {
    ($field:ident) => {
        fn probe_version(
            &self,
            url: &str,
            count: u32,
            timeout: ::std::time::Duration,
            check: &$crate::ports::VersionCheck,
        ) -> impl ::std::future::Future<Output = Vec<$crate::ports::ProbeResult>> + Send {
            self.$field.probe_version(url, count, timeout, check)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __clock_via {
    ($field:ident) => {
        fn now(&self) -> $crate::__time::OffsetDateTime {
            self.$field.now()
        }
        fn sleep_until(
            &self,
            t: $crate::__time::OffsetDateTime,
        ) -> impl ::std::future::Future<Output = ()> + Send {
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
    crate::__parameter_store_via!(params);
}

impl<P: Sync + Send, L: LoadBalancer, S: Sync + Send, A: Sync + Send, E: Sync + Send> LoadBalancer
    for Ports<P, L, S, A, E>
{
    crate::__load_balancer_via!(lb);
}

impl<P: Sync + Send, L: Sync + Send, S: Services, A: Sync + Send, E: Sync + Send> Services
    for Ports<P, L, S, A, E>
{
    crate::__services_via!(services);
}

impl<P: Sync + Send, L: Sync + Send, S: Sync + Send, A: Alerts, E: Sync + Send> Alerts
    for Ports<P, L, S, A, E>
{
    crate::__alerts_via!(alerts);
}

impl<P: Sync + Send, L: Sync + Send, S: Sync + Send, A: Sync + Send, E: Executions> Executions
    for Ports<P, L, S, A, E>
{
    crate::__executions_via!(executions);
}

/// Where the monitor's signals come from: metrics and alarms (CloudWatch),
/// the version probes, and time.
pub struct Signals<M, Pr, C> {
    pub metrics: M,
    pub prober: Pr,
    pub clock: C,
}

impl<M: Metrics, Pr: Sync + Send, C: Sync + Send> Metrics for Signals<M, Pr, C> {
    crate::__metrics_via!(metrics);
}

impl<M: Alarms, Pr: Sync + Send, C: Sync + Send> Alarms for Signals<M, Pr, C> {
    crate::__alarms_via!(metrics);
}

impl<M: Sync + Send, Pr: VersionProber, C: Sync + Send> VersionProber for Signals<M, Pr, C> {
    crate::__prober_via!(prober);
}

impl<M: Sync + Send, Pr: Sync + Send, C: Clock> Clock for Signals<M, Pr, C> {
    crate::__clock_via!(clock);
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
    crate::__parameter_store_via!(ports);
}

impl<P: LoadBalancer, S: Sync> LoadBalancer for WithSignals<'_, P, S> {
    crate::__load_balancer_via!(ports);
}

impl<P: Services, S: Sync> Services for WithSignals<'_, P, S> {
    crate::__services_via!(ports);
}

impl<P: Alerts, S: Sync> Alerts for WithSignals<'_, P, S> {
    crate::__alerts_via!(ports);
}

impl<P: Executions, S: Sync> Executions for WithSignals<'_, P, S> {
    crate::__executions_via!(ports);
}

impl<P: Sync, S: Metrics> Metrics for WithSignals<'_, P, S> {
    crate::__metrics_via!(signals);
}

impl<P: Sync, S: Alarms> Alarms for WithSignals<'_, P, S> {
    crate::__alarms_via!(signals);
}

impl<P: Sync, S: VersionProber> VersionProber for WithSignals<'_, P, S> {
    crate::__prober_via!(signals);
}

impl<P: Sync, S: Clock> Clock for WithSignals<'_, P, S> {
    crate::__clock_via!(signals);
}
