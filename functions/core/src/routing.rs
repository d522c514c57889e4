//! Reading and writing the production split in terms of an app's two target
//! groups, over the [`LoadBalancer`] port.

use crate::color::Color;
use crate::config::AppConfig;
use crate::error::{Error, Result};
use crate::ports::{Forward, LoadBalancer, Route, WeightedTarget};
use crate::split::Split;

/// The split `forward` describes, in the app's colors.
pub fn split_of(config: &AppConfig, route: &Route, forward: &Forward) -> Result<Split> {
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
    Split::from_weights(blue, green).ok_or_else(|| Error::ForeignRoute {
        app: config.app.clone(),
        what: route.to_string(),
        found: "no target group with weight".to_string(),
    })
}

/// A forward action for `split` that names both target groups (weight 0 keeps
/// the idle group attached to the load balancer).
pub fn forward_for(config: &AppConfig, split: Split) -> Forward {
    Forward {
        targets: Color::BOTH
            .into_iter()
            .map(|c| WeightedTarget {
                target_group_arn: config.color(c).target_group_arn.clone(),
                weight: u32::from(split.weight(c)),
            })
            .collect(),
        stickiness_seconds: config.production.stickiness_seconds,
    }
}

/// The production split as the load balancer reports it now.
pub async fn read_split(lb: &impl LoadBalancer, config: &AppConfig) -> Result<Split> {
    let route = config.production.route();
    let forward = lb.read_forward(&route).await?;
    split_of(config, &route, &forward)
}

/// Sets the production split and verifies what the load balancer reports back.
/// `confirm_with_read` adds a separate read after the change; without it the
/// load balancer's answer to the change is the read-back (one call fewer, for
/// the emergency path).
pub async fn write_split(
    lb: &impl LoadBalancer,
    config: &AppConfig,
    split: Split,
    confirm_with_read: bool,
) -> Result<()> {
    let route = config.production.route();
    let wanted = forward_for(config, split);
    let mut reported = lb.write_forward(&route, &wanted).await?;
    if confirm_with_read {
        reported = lb.read_forward(&route).await?;
    }
    let actual = split_of(config, &route, &reported)?;
    if actual != split {
        return Err(Error::ReadBackMismatch {
            what: route.to_string(),
            expected: split.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Invariant 1: production traffic never gets weight on a color whose targets
/// are not healthy. Checks each color whose weight `to` raises above `from`.
pub async fn ensure_healthy_for(
    lb: &impl LoadBalancer,
    config: &AppConfig,
    from: Split,
    to: Split,
) -> Result<()> {
    for color in Color::BOTH {
        if to.weight(color) > from.weight(color) {
            let tg = &config.color(color).target_group_arn;
            if lb.healthy_targets(tg).await? == 0 {
                return Err(Error::NoHealthyTargets {
                    color,
                    target_group: tg.clone(),
                });
            }
        }
    }
    Ok(())
}
