//! One fresh look at everything a step decides from: the stored records
//! (config, state, lock, fence) in one parameter read, and the world they
//! describe (the production route's actions, each color's ECS service and
//! healthy targets) in one round of parallel calls.

pub mod routing;
pub mod split;

use crate::color::Color;
use crate::error::{Error, Result};
use crate::parse;
use crate::ports::{LoadBalancer, Parameter, ParameterStore, RouteActions, ServiceInfo, Services};
use crate::records::config::AppConfig;
use crate::records::fence::Fence;
use crate::records::lock::Lock;
use crate::records::state::AppState;
use crate::records::store::AppStore;
use crate::world::routing::{Weights, weights_of};

pub use crate::color::PerColor;

/// The stored records of an app.
#[derive(Debug, Clone)]
pub struct Records {
    pub config: AppConfig,
    pub state: Option<AppState>,
    pub lock: Option<Lock>,
    pub fence: Option<Fence>,
    /// The scaling record of an app that autoscales (see `scaling`).
    pub scaling: Option<crate::records::scaling::ScalingRecord>,
    /// The plain active-environment value scripts read.
    pub active_environment: Option<String>,
    /// A rollback announcing it is deciding (see `announcement`).
    pub deciding: Option<crate::records::announcement::Announcement>,
    /// The migrations run and the schema's position (see `migrations`).
    pub migrations: crate::records::migrations::MigrationRecord,
}

impl Records {
    /// Whether the stored state and the active-environment value are both
    /// `state` already: a step writes them only when either differs.
    pub fn state_is(&self, state: &AppState) -> bool {
        self.state.as_ref() == Some(state)
            && self.active_environment.as_deref() == Some(state.active_color.as_str())
    }
}

/// The world as read now, beside the records.
#[derive(Debug, Clone)]
pub struct World {
    pub records: Records,
    /// The production route's whole action list.
    pub production: RouteActions,
    /// Its forward weights, exactly.
    pub weights: Weights,
    pub services: PerColor<ServiceInfo>,
    pub healthy: PerColor<usize>,
}

impl World {
    pub fn config(&self) -> &AppConfig {
        &self.records.config
    }

    pub fn state(&self) -> Option<&AppState> {
        self.records.state.as_ref()
    }

    /// The colors production sends traffic to now.
    pub fn serving(&self) -> impl Iterator<Item = Color> + '_ {
        Color::BOTH.into_iter().filter(|c| self.weights.serves(*c))
    }

    /// The largest running count among the colors serving now, other than
    /// `except`: what production needs from a color that takes their traffic.
    pub fn serving_running_except(&self, except: Color) -> i32 {
        self.serving()
            .filter(|c| *c != except)
            .map(|c| self.services.get(c).running)
            .max()
            .unwrap_or(0)
    }

    pub fn task_definition(&self, color: Color) -> &str {
        &self.services.get(color).task_definition
    }
}

/// Reads config, state, lock, fence, scaling record, active environment and
/// a rollback's announcement in one call.
pub async fn read_records<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
) -> Result<Records> {
    let names: Vec<String> = [
        "config",
        "state",
        "lock",
        "rollback-fence",
        "scaling",
        "active-environment",
        crate::records::announcement::LEAF,
        "migrations",
    ]
    .iter()
    .map(|leaf| store.parameter(app, leaf))
    .collect();
    crate::records::config::validate_app_name("request", "app", app)?;
    let got = store.params().get_many(&names).await?;
    records_from(store, app, &names, got)
}

fn records_from<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
    names: &[String],
    got: Vec<Option<Parameter>>,
) -> Result<Records> {
    let mut got = got.into_iter();
    let mut next = || got.next().flatten();
    let config = match next() {
        Some(p) => AppConfig::parse(app, &names[0], &p.value)?,
        None => {
            return Err(Error::UnknownApp {
                app: app.to_string(),
                parameter: names[0].clone(),
            });
        }
    };
    let state = next()
        .map(|p| store.parse_state(&names[1], &p.value))
        .transpose()?;
    let lock = next()
        .map(|p| parse::json(&format!("lock {}", names[2]), &p.value))
        .transpose()?;
    let fence = crate::records::fence::parse_fence(&names[3], next().as_ref())?;
    let scaling = next()
        .map(|p| parse::json(&format!("scaling record {}", names[4]), &p.value))
        .transpose()?;
    let active_environment = next().map(|p| p.value);
    let deciding = next().and_then(|p| crate::records::announcement::parse(&p.value));
    let migrations = next()
        .map(|p| parse::json(&format!("migration record {}", names[7]), &p.value))
        .transpose()?
        .unwrap_or_default();
    Ok(Records {
        config,
        state,
        lock,
        fence,
        scaling,
        active_environment,
        deciding,
        migrations,
    })
}

/// Reads the world of `config`'s app: the production route, both services and
/// both target groups' health, all at once.
pub async fn read_world<W: LoadBalancer + Services>(
    aws: &W,
    config: &AppConfig,
) -> Result<(
    RouteActions,
    Weights,
    PerColor<ServiceInfo>,
    PerColor<usize>,
)> {
    let route = config.production.route();
    let (actions, blue, green, blue_h, green_h) = tokio::join!(
        aws.read_actions(&route),
        aws.describe(&config.cluster, &config.blue.service),
        aws.describe(&config.cluster, &config.green.service),
        aws.healthy_targets(&config.blue.target_group_arn),
        aws.healthy_targets(&config.green.target_group_arn),
    );
    let actions = actions?;
    let weights = weights_of(config, &route, &actions)?;
    Ok((
        actions,
        weights,
        PerColor {
            blue: blue?,
            green: green?,
        },
        PerColor {
            blue: blue_h?,
            green: green_h?,
        },
    ))
}

/// Records and world. With `known` (a config read earlier, e.g. by a warm
/// Lambda) both are read in one round of parallel calls; if the stored config
/// turns out to differ, the world is read again for the stored one.
pub async fn observe<W>(
    store: &AppStore<'_, W>,
    app: &str,
    known: Option<&AppConfig>,
) -> Result<World>
where
    W: ParameterStore + LoadBalancer + Services,
{
    let (records, world) = match known {
        Some(config) => {
            let (records, world) =
                tokio::join!(read_records(store, app), read_world(store.aws(), config));
            let records = records?;
            if &records.config == config {
                (records, world?)
            } else {
                let world = read_world(store.aws(), &records.config).await?;
                (records, world)
            }
        }
        None => {
            let records = read_records(store, app).await?;
            let world = read_world(store.aws(), &records.config).await?;
            (records, world)
        }
    };
    let (production, weights, services, healthy) = world;
    Ok(World {
        records,
        production,
        weights,
        services,
        healthy,
    })
}

/// Worlds built in memory for the pure steps' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::ports::{Forward, WeightedTarget};

    pub(crate) const BLUE_TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a-blue/1";
    pub(crate) const GREEN_TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a-green/2";
    pub(crate) const BLUE_TD: &str = "td:1";
    pub(crate) const GREEN_TD: &str = "td:2";

    /// App `a`, as its config file would say with nothing optional set.
    pub(crate) fn config() -> AppConfig {
        let doc = serde_json::json!({
            "app": "a", "cluster": "c",
            "blue": {"service": "a-blue", "target_group_arn": BLUE_TG},
            "green": {"service": "a-green", "target_group_arn": GREEN_TG},
            "production": {"listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2"}
        });
        AppConfig::parse("a", "config", &doc.to_string()).expect("the fixture's config")
    }

    pub(crate) fn service(task_definition: &str, tasks: i32) -> ServiceInfo {
        ServiceInfo {
            task_definition: task_definition.into(),
            desired: tasks,
            running: tasks,
            deployments: 1,
        }
    }

    /// v2 live on green (td:2), v1 warm on blue (td:1), both at 2 tasks, the
    /// listener at `blue`/`green`: the world after a release, to roll back.
    pub(crate) fn released(blue: u32, green: u32) -> World {
        let state = AppState {
            active_task_definition: Some(GREEN_TD.into()),
            previous_task_definition: Some(BLUE_TD.into()),
            previous_version: Some("v1".into()),
            switched_at: Some(time::OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1)),
            ..AppState::initial(Color::Green, Some("v2".into()))
        };
        world(blue, green, Some(state))
    }

    /// App `a` with production split `blue`/`green`, blue running td:1
    /// and green td:2 at 2 healthy tasks each, and `state` recorded.
    pub(crate) fn world(blue: u32, green: u32, state: Option<AppState>) -> World {
        World {
            records: Records {
                config: config(),
                state,
                lock: None,
                fence: None,
                scaling: None,
                active_environment: None,
                deciding: None,
                migrations: Default::default(),
            },
            production: RouteActions::forward_only(Forward {
                targets: vec![
                    WeightedTarget {
                        target_group_arn: BLUE_TG.into(),
                        weight: blue,
                    },
                    WeightedTarget {
                        target_group_arn: GREEN_TG.into(),
                        weight: green,
                    },
                ],
                stickiness_seconds: None,
            }),
            weights: Weights { blue, green },
            services: PerColor {
                blue: service(BLUE_TD, 2),
                green: service(GREEN_TD, 2),
            },
            healthy: PerColor { blue: 2, green: 2 },
        }
    }
}
