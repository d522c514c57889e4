//! Reading and writing the production split in terms of an app's two target
//! groups, over the [`LoadBalancer`] port. Only the forward action's weights
//! are ever changed; every other action, its order and the stickiness are
//! written back as they were read, and the whole list is compared after.

use std::fmt;

use crate::color::Color;
use crate::error::{Error, Result};
use crate::ports::{LoadBalancer, Route, RouteActions, WeightedTarget};
use crate::records::config::AppConfig;
use crate::world::split::Split;

/// The forward weights of the two colors exactly as the load balancer holds
/// them (relative, 0..=999 each). Any weight above zero is traffic: 1/999 is
/// not rounded to 0/100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub blue: u32,
    pub green: u32,
}

impl Weights {
    pub fn of(split: Split) -> Weights {
        Weights {
            blue: u32::from(split.blue),
            green: u32::from(split.green),
        }
    }

    pub fn weight(&self, color: Color) -> u32 {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }

    /// Whether `color` receives any production traffic.
    pub fn serves(&self, color: Color) -> bool {
        self.weight(color) > 0
    }

    /// `color`'s share of production traffic in whole percent, rounded
    /// down (0 when nothing has weight).
    pub fn percent(&self, color: Color) -> u8 {
        let total = u64::from(self.blue) + u64::from(self.green);
        match total {
            0 => 0,
            t => (u64::from(self.weight(color)) * 100 / t) as u8,
        }
    }

    /// The color that takes all traffic, if one does.
    pub fn sole(&self) -> Option<Color> {
        Color::BOTH
            .into_iter()
            .find(|c| self.serves(*c) && !self.serves(c.other()))
    }

    /// Whether these weights send exactly `split`'s shares.
    pub fn matches(&self, split: Split) -> bool {
        let total = u64::from(self.blue) + u64::from(self.green);
        total > 0
            && u64::from(self.blue) * 100 == u64::from(split.blue) * total
            && u64::from(self.green) * 100 == u64::from(split.green) * total
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Split::from_weights(self.blue, self.green) {
            Some(split) => split.fmt(f),
            None => write!(f, "blue weight {} / green weight {}", self.blue, self.green),
        }
    }
}

/// The weights `actions` forward with, in the app's colors.
pub fn weights_of(config: &AppConfig, route: &Route, actions: &RouteActions) -> Result<Weights> {
    let forward = actions.forward().ok_or_else(|| Error::ForeignRoute {
        app: config.app.clone(),
        what: route.to_string(),
        found: "no single forward action".to_string(),
    })?;
    let (mut blue, mut green) = (0u32, 0u32);
    for t in &forward.targets {
        match config.color_of_target_group(&t.target_group_arn) {
            Some(Color::Blue) => blue += t.weight,
            Some(Color::Green) => green += t.weight,
            None => {
                return Err(Error::ForeignRoute {
                    app: config.app.clone(),
                    what: route.to_string(),
                    found: t.target_group_arn.clone(),
                });
            }
        }
    }
    if blue == 0 && green == 0 {
        return Err(Error::ForeignRoute {
            app: config.app.clone(),
            what: route.to_string(),
            found: "no target group with weight".to_string(),
        });
    }
    Ok(Weights { blue, green })
}

/// Forward targets for `split` naming both target groups (weight 0 keeps the
/// idle group attached to the load balancer).
pub fn targets_for(config: &AppConfig, split: Split) -> Vec<WeightedTarget> {
    Color::BOTH
        .into_iter()
        .map(|c| WeightedTarget {
            target_group_arn: config.color(c).target_group_arn.clone(),
            weight: u32::from(split.weight(c)),
        })
        .collect()
}

/// The production weights as the load balancer reports them now.
pub async fn read_weights(lb: &impl LoadBalancer, config: &AppConfig) -> Result<Weights> {
    let route = config.production.route();
    let actions = lb.read_actions(&route).await?;
    weights_of(config, &route, &actions)
}

/// How many reads confirm a change before a stale answer counts as a mismatch.
const STALE_READS: usize = 4;

/// Sets `split` on `route`, keeping every action of `current` that is not the
/// forward's weights, and verifies the whole list the load balancer reports.
/// `confirm_with_read` adds a separate read after the change; without it the
/// load balancer's answer to the change is the read-back (one call fewer, for
/// the emergency path).
pub async fn write_split(
    lb: &impl LoadBalancer,
    config: &AppConfig,
    route: &Route,
    current: &RouteActions,
    split: Split,
    confirm_with_read: bool,
) -> Result<RouteActions> {
    let wanted = current.with_weights(&targets_for(config, split));
    let mut reported = lb.write_actions(route, &wanted).await?;
    if confirm_with_read && weights_of(config, route, &reported)?.matches(split) {
        // The change's own answer agrees. A describe right after a modify
        // may still answer the actions from before (the API is eventually
        // consistent): read again a few times before calling it a mismatch.
        for _ in 0..STALE_READS {
            reported = lb.read_actions(route).await?;
            if weights_of(config, route, &reported)?.matches(split) {
                break;
            }
        }
    }
    let actual = weights_of(config, route, &reported)?;
    if !actual.matches(split) {
        return Err(Error::ReadBackMismatch {
            what: route.to_string(),
            expected: split.to_string(),
            actual: actual.to_string(),
        });
    }
    let kept: Vec<_> = wanted.foreign().collect();
    let found: Vec<_> = reported.foreign().collect();
    if kept != found
        || wanted.forward().map(|f| f.stickiness_seconds)
            != reported.forward().map(|f| f.stickiness_seconds)
    {
        return Err(Error::ReadBackMismatch {
            what: route.to_string(),
            expected: format!("{} other action(s) kept: {kept:?}", kept.len()),
            actual: format!("{found:?}"),
        });
    }
    Ok(reported)
}

/// How many healthy targets `target` needs before it may take the traffic of
/// the colors serving now: their running count (the largest), times the
/// config's `min_healthy_fraction`, at least one.
/// Whether `target` has the healthy targets (and desired count) production
/// needs: as many as the largest running count among the other colors
/// serving now, times `min_healthy_fraction` (invariants 1 and 4).
pub fn can_carry(
    config: &AppConfig,
    weights: &Weights,
    services: &crate::color::PerColor<crate::ports::ServiceInfo>,
    healthy: &crate::color::PerColor<usize>,
    target: Color,
) -> bool {
    let serving = Color::BOTH
        .into_iter()
        .filter(|c| *c != target && weights.serves(*c))
        .map(|c| services.get(c).running)
        .max()
        .unwrap_or(0);
    let needed = healthy_needed(config, serving);
    *healthy.get(target) >= needed && services.get(target).desired as usize >= needed
}

pub fn healthy_needed(config: &AppConfig, serving_running: i32) -> usize {
    let n = (f64::from(serving_running.max(0)) * config.min_healthy_fraction).ceil() as usize;
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_weight_is_traffic() {
        let w = Weights {
            blue: 1,
            green: 999,
        };
        assert!(w.serves(Color::Blue));
        assert_eq!(w.sole(), None);
        assert!(!w.matches(Split::all(Color::Green)));
        assert_eq!(w.to_string(), "blue weight 1 / green weight 999");
        let w = Weights { blue: 0, green: 7 };
        assert_eq!(w.sole(), Some(Color::Green));
        assert!(w.matches(Split::all(Color::Green)));
        assert!(
            Weights {
                blue: 900,
                green: 100
            }
            .matches(Split::with(Color::Green, 10))
        );
    }
}
