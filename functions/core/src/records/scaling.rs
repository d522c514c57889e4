//! Services that autoscale (config `autoscaling`): a scaling policy moves a
//! service's desired count between its scalable target's min and max, so it
//! would undo what a release does by desired count alone — an idle color
//! with no traffic scales in to its minimum before the switch, and a
//! scaled-down color scales back up to it. Instead, the bounds themselves
//! follow the release:
//!
//! - deploy: both colors' bounds are recorded (`<prefix>/<app>/scaling`, once
//!   per execution, before anything changes), then each color's minimum is
//!   held at its task count: the idle one at the active one's (it must carry
//!   production), the active one at its own (it must take everything back on
//!   a rollback while traffic shifts);
//! - the last switch step: the new color takes the recorded serving bounds,
//!   so its policies size it by real traffic from then on; the old color
//!   stays held through the warm window;
//! - scale-down: the old color's minimum goes to `idle_capacity_after_window`;
//! - abort and any rollback: the color that serves takes the recorded serving
//!   bounds back, the other its recorded idle bounds.
//!
//! Decisions are pure functions of what was read ([`hold`], [`settled`]);
//! [`apply`] changes a target only where it differs, so every step may run
//! twice.

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::color::Color;
use crate::color::PerColor;
use crate::error::{Error, Result};
use crate::parse;
use crate::ports::{Bounds, ParameterStore, PutMode, Services};
use crate::records::config::AppConfig;
use crate::records::fence::Fence;
use crate::records::store::AppStore;

/// What each color's bounds were before a release changed any: written by
/// deploy-idle before its first change, kept for the whole release (a rerun
/// of the same execution finds it and keeps the originals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingRecord {
    /// The deployment that wrote it (its lock holder).
    pub execution: String,
    /// The color the release was deployed to.
    pub idle_color: Color,
    /// The serving color's bounds: what production runs with.
    pub serving: Bounds,
    /// The idle color's bounds at rest.
    pub idle: Bounds,
    /// Set once the bounds were settled by it (handed over at the switch,
    /// or given back by abort or rollback). A record left unsettled belongs
    /// to a deployment stopped while it held the bounds: the bounds the
    /// targets have then are held ones, and the next release keeps this
    /// record's instead of reading them.
    #[serde(default)]
    pub settled: bool,
}

impl ScalingRecord {
    /// The bounds for a world where `serving` serves all traffic.
    pub fn settled(&self, serving: Color) -> PerColor<Bounds> {
        let of = |c: Color| {
            if c == serving {
                self.serving
            } else {
                self.idle
            }
        };
        PerColor {
            blue: of(Color::Blue),
            green: of(Color::Green),
        }
    }
}

/// `bounds` with the minimum raised to `count` (and the maximum, if below):
/// policies may scale out, never in below what the release needs.
pub fn hold(bounds: Bounds, count: i32) -> Bounds {
    let count = count.max(0);
    Bounds {
        min: bounds.min.max(count),
        max: bounds.max.max(count),
    }
}

/// Each color's bounds now; `None` when the app does not autoscale. A color
/// without a scalable target while the config says it autoscales is a config
/// error: a release would leave production without its policies.
pub async fn read(
    services: &impl Services,
    config: &AppConfig,
) -> Result<Option<PerColor<Bounds>>> {
    if !config.autoscaling {
        return Ok(None);
    }
    let names = [config.blue.service.as_str(), config.green.service.as_str()];
    let found = services.scaling_bounds(&config.cluster, &names).await?;
    let get = |i: usize| {
        found.get(i).copied().flatten().ok_or_else(|| {
            Error::bad_input(
                format!("config of `{}`", config.app),
                "autoscaling",
                format!(
                    "is on, but ECS service `{}` has no scalable target (register one: \
                     `aws application-autoscaling register-scalable-target --service-namespace ecs \
                     --scalable-dimension ecs:service:DesiredCount --resource-id service/{}/{} \
                     --min-capacity N --max-capacity M`), or turn `autoscaling` off",
                    names[i],
                    cluster_name(&config.cluster),
                    names[i]
                ),
            )
        })
    };
    Ok(Some(PerColor {
        blue: get(0)?,
        green: get(1)?,
    }))
}

/// The cluster's name, from a name or an ARN (`…:cluster/<name>`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit_once(":cluster/").map_or(cluster, |(_, n)| n)
}

/// Sets `color`'s bounds to `wanted` unless they are already; whether it changed.
pub async fn apply(
    services: &impl Services,
    config: &AppConfig,
    color: Color,
    now: Bounds,
    wanted: Bounds,
) -> Result<bool> {
    if now == wanted {
        return Ok(false);
    }
    let service = &config.color(color).service;
    services
        .set_scaling_bounds(&config.cluster, service, wanted)
        .await?;
    info!(app = %config.app, %service, from = %now, to = %wanted, "set the scalable target's bounds");
    Ok(true)
}

/// Sets both colors' bounds (the one taking traffic first).
pub async fn apply_both(
    services: &impl Services,
    config: &AppConfig,
    first: Color,
    now: &PerColor<Bounds>,
    wanted: &PerColor<Bounds>,
) -> Result<()> {
    for color in [first, first.other()] {
        apply(services, config, color, *now.get(color), *wanted.get(color)).await?;
    }
    Ok(())
}

/// The app's scaling record, if any.
pub async fn record<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
) -> Result<Option<ScalingRecord>> {
    let name = store.parameter(app, "scaling");
    match store.params().get(&name).await? {
        Some(p) => parse::json(&format!("scaling record {name}"), &p.value).map(Some),
        None => Ok(None),
    }
}

/// Records `record` unless this execution already has (a rerun keeps the
/// bounds read before its first attempt changed any). Returns the record in
/// force.
pub async fn remember<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
    record: ScalingRecord,
) -> Result<ScalingRecord> {
    let record = match self::record(store, app).await? {
        Some(kept) if kept.execution == record.execution => return Ok(kept),
        Some(unsettled) if !unsettled.settled => ScalingRecord {
            serving: unsettled.serving,
            idle: unsettled.idle,
            ..record
        },
        _ => record,
    };
    save(store, app, &record).await?;
    Ok(record)
}

async fn save<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
    record: &ScalingRecord,
) -> Result<()> {
    let json = serde_json::to_string(&record).expect("scaling record serialises");
    store
        .params()
        .put(&store.parameter(app, "scaling"), &json, PutMode::Overwrite)
        .await?;
    Ok(())
}

/// Marks `record` settled (after its bounds were applied).
async fn mark_settled<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
    record: &ScalingRecord,
) -> Result<()> {
    if record.settled {
        return Ok(());
    }
    let settled = ScalingRecord {
        settled: true,
        ..record.clone()
    };
    save(store, app, &settled).await
}

/// Abort and rollback: `serving` takes the recorded serving bounds back, the
/// other color its idle bounds. Without a record (no release since the app
/// autoscales) nothing is known to restore, and nothing is changed; with
/// `of_execution`, only that execution's record, or one left unsettled.
pub async fn settle<W: ParameterStore + Services>(
    store: &AppStore<'_, W>,
    config: &AppConfig,
    serving: Color,
    of_execution: Option<&str>,
) -> Result<bool> {
    let services = store.aws();
    if !config.autoscaling {
        return Ok(false);
    }
    let Some(record) = record(store, &config.app).await? else {
        tracing::warn!(app = %config.app, "no scaling record: the scalable targets are left as they are");
        return Ok(false);
    };
    // Another execution's record is applied only while unsettled: then it
    // belongs to a deployment stopped while it held the bounds, whose
    // originals it keeps. A settled one may be a finished release whose old
    // color is held warm on purpose.
    if record.settled && of_execution.is_some_and(|e| e != record.execution) {
        return Ok(false);
    }
    let Some(now) = read(services, config).await? else {
        return Ok(false);
    };
    give_back(store, config, serving, &record, &now).await?;
    Ok(true)
}

/// `serving` takes `record`'s serving bounds back and the other color its
/// idle ones (see [`after_rollback`]), from the bounds `now` read; then the
/// record is settled.
pub async fn give_back<W: ParameterStore + Services>(
    store: &AppStore<'_, W>,
    config: &AppConfig,
    serving: Color,
    record: &ScalingRecord,
    now: &PerColor<Bounds>,
) -> Result<()> {
    let wanted = after_rollback(record, serving, now);
    apply_both(store.aws(), config, serving, now, &wanted).await?;
    mark_settled(store, &config.app, record).await
}

/// The record a rollback to `target` settles by: the app's, or, when there
/// is none (no release since the app autoscales), one made now from the
/// bounds the colors have before the rollback changes any: the color it
/// leaves serves with the serving bounds, `target` idles with the idle ones.
pub async fn record_for_rollback<P: ParameterStore>(
    store: &AppStore<'_, P>,
    config: &AppConfig,
    me: &str,
    target: Color,
    now: &PerColor<Bounds>,
) -> Result<ScalingRecord> {
    if let Some(kept) = record(store, &config.app).await? {
        return Ok(kept);
    }
    let first = ScalingRecord {
        execution: me.to_string(),
        idle_color: target,
        serving: *now.get(target.other()),
        idle: *now.get(target),
        settled: false,
    };
    remember(store, &config.app, first).await
}

/// A rollback to `target`: it serves with the serving bounds, the color left
/// idles with the idle ones (see [`record_for_rollback`]).
pub async fn settle_rollback<W: ParameterStore + Services>(
    store: &AppStore<'_, W>,
    config: &AppConfig,
    me: &str,
    target: Color,
) -> Result<bool> {
    let services = store.aws();
    let Some(now) = read(services, config).await? else {
        return Ok(false);
    };
    let record = record_for_rollback(store, config, me, target, &now).await?;
    give_back(store, config, target, &record, &now).await?;
    Ok(true)
}

/// The bounds after a rollback (or an abort) to `target`: the recorded ones
/// by role, except that production's maximum is never lowered. The record
/// may be weeks old (taken before the release that is rolled back), and the
/// team may have raised production's maximum since, on the color that served
/// it: the color taking production back keeps the highest maximum either
/// color has. Only the maximum: a minimum read now may be a hold at a task
/// count (a release's, or a fenced step's that landed late, or one a
/// concurrent settle has yet to give back) that cannot be told from a floor
/// the team set, and a held minimum kept forever would stop the policies
/// from scaling in (the simulation found both, seeds 4545 and 24384). Pure,
/// and the same on a retry: the maximums only rise under it.
pub fn after_rollback(
    record: &ScalingRecord,
    target: Color,
    now: &PerColor<Bounds>,
) -> PerColor<Bounds> {
    let mut wanted = record.settled(target);
    let serving = wanted.get_mut(target);
    serving.max = serving
        .max
        .max(now.get(Color::Blue).max)
        .max(now.get(Color::Green).max);
    wanted
}

/// Gives back the bounds a deployment stopped while it held them (its
/// record unsettled), when `fenced` says a rollback fenced that deployment:
/// for a rollback whose decision the world has moved past, the hold is
/// still that deployment's leftover, and nobody else gives it back. A
/// record of any other deployment (a newer release holding the bounds on
/// purpose) is left alone.
pub async fn give_back_fenced_hold<W: ParameterStore + Services>(
    store: &AppStore<'_, W>,
    config: &AppConfig,
    serving: Color,
    fenced: impl Fn(&str) -> bool,
) -> Result<bool> {
    if !config.autoscaling {
        return Ok(false);
    }
    match record(store, &config.app).await? {
        Some(r) if !r.settled && fenced(&r.execution) => {
            settle(store, config, serving, Some(&r.execution)).await
        }
        _ => Ok(false),
    }
}

/// A step of a deployment that a rollback fenced off may have changed bounds
/// after the rollback settled them: once the rollback has decided, its
/// decision is applied again. (While it is pending, the rollback has yet to
/// settle them, and does so last.) Not over a release the fence does not
/// stop: one that took the app (its lock) since holds the bounds on
/// purpose, and its unsettled record is its own (a rollback finishing its
/// decision late, a call having hung, found one mid-switch: simulation
/// seed 6542).
pub async fn honour_fence<W: ParameterStore + Services>(
    store: &AppStore<'_, W>,
    config: &AppConfig,
    fence: &Fence,
) -> Result<()> {
    let Some(serving) = fence.split.and_then(|s| s.sole()) else {
        return Ok(());
    };
    if !config.autoscaling {
        return Ok(());
    }
    let Some(record) = record(store, &config.app).await? else {
        return Ok(());
    };
    if !record.settled
        && !fence.fences(&record.execution)
        && store
            .lock(&config.app)
            .await?
            .is_some_and(|l| l.holder == record.execution)
    {
        tracing::info!(app = %config.app, holder = %record.execution,
            "a release the rollback did not stop holds the app and its bounds: left to it");
        return Ok(());
    }
    let Some(now) = read(store.aws(), config).await? else {
        return Ok(());
    };
    give_back(store, config, serving, &record, &now).await
}

/// The last switch step: `new` serves everything, and takes the recorded
/// serving bounds (its policies size it by real traffic from now on); the
/// other color's minimum stays held at its task count through the warm
/// window, ready for a rollback. Returns whether any bounds changed.
pub async fn hand_over<W: ParameterStore + Services>(
    store: &AppStore<'_, W>,
    config: &AppConfig,
    new: Color,
    desired: &PerColor<i32>,
) -> Result<bool> {
    let services = store.aws();
    let Some(now) = read(services, config).await? else {
        return Ok(false);
    };
    let record = record(store, &config.app).await?;
    let wanted = PerColor::from_fn(|c| match &record {
        Some(r) if c == new => r.serving,
        _ => hold(*now.get(c), *desired.get(c)),
    });
    let mut changed = false;
    for color in [new, new.other()] {
        changed |= apply(services, config, color, *now.get(color), *wanted.get(color)).await?;
    }
    if let Some(r) = &record {
        mark_settled(store, &config.app, r).await?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVING: Bounds = Bounds { min: 2, max: 10 };
    const IDLE: Bounds = Bounds { min: 0, max: 10 };

    #[test]
    fn holding_raises_the_minimum_and_never_lowers_anything() {
        assert_eq!(hold(IDLE, 4), Bounds { min: 4, max: 10 });
        assert_eq!(hold(SERVING, 1), SERVING);
        assert_eq!(
            hold(Bounds { min: 0, max: 3 }, 5),
            Bounds { min: 5, max: 5 }
        );
    }

    #[test]
    fn settling_gives_the_serving_color_the_serving_bounds() {
        let r = ScalingRecord {
            execution: "e".into(),
            idle_color: Color::Green,
            serving: SERVING,
            idle: IDLE,
            settled: false,
        };
        let after_rollback = r.settled(Color::Blue);
        assert_eq!((after_rollback.blue, after_rollback.green), (SERVING, IDLE));
        let promoted = r.settled(Color::Green);
        assert_eq!((promoted.blue, promoted.green), (IDLE, SERVING));
    }

    #[test]
    fn a_rollback_never_caps_production_below_what_it_has_and_is_the_same_when_retried() {
        let record = |settled| ScalingRecord {
            execution: "e".into(),
            idle_color: Color::Green,
            serving: SERVING,
            idle: IDLE,
            settled,
        };
        let b = |min, max| Bounds { min, max };
        // (record settled?, blue now, green now) -> (blue after, green after),
        // rolling back to blue, which production left for green.
        let rows = [
            // Mid-release (record unsettled): green held at blue's 4 tasks;
            // the record as is, the hold is not kept.
            ((false, b(4, 10), b(4, 10)), (SERVING, IDLE)),
            // Weeks later: the team raised green's (production's) maximum.
            ((true, b(4, 10), b(2, 30)), (b(2, 30), IDLE)),
            // ... and its minimum: the record's (it may be a hold).
            ((true, b(4, 10), b(5, 30)), (b(2, 30), IDLE)),
        ];
        for ((settled, blue, green), (want_blue, want_green)) in rows {
            let mut r = record(settled);
            let now = PerColor { blue, green };
            let after = after_rollback(&r, Color::Blue, &now);
            assert_eq!(
                (after.blue, after.green),
                (want_blue, want_green),
                "from {blue} / {green}, settled {settled}"
            );
            // A retry after the first attempt applied both (the record
            // settled by it).
            r.settled = true;
            let again = after_rollback(&r, Color::Blue, &after);
            assert_eq!(again, after, "retried from {blue} / {green}");
        }
    }

    #[test]
    fn a_cluster_arn_names_its_cluster() {
        assert_eq!(
            cluster_name("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
            "prod"
        );
        assert_eq!(cluster_name("prod"), "prod");
    }
}
