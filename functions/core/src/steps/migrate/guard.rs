//! The rollback guard: once a contract migration has run (or while one
//! runs), the release it retired cannot run on the schema. A rollback that
//! would send production to it is refused before anything changes, whatever
//! asked for it (the state machine, the emergency topic, the CLI).

use crate::error::{Error, Result};
use crate::records::migrations::{MigrationPhase, RunStatus};
use crate::world::World;

/// Refuses with [`Error::SchemaContracted`] when all production traffic is
/// on one color and the other (where a rollback goes) runs a release the
/// schema no longer allows, as ECS says. A split production has both
/// releases running on the schema already: it is left to the rollback.
pub fn refuse_if_contracted(world: &World) -> Result<()> {
    let Some(live) = world.weights.sole() else {
        return Ok(());
    };
    let target = live.other();
    let target_td = world.task_definition(target);
    if target_td.is_empty() {
        return Ok(());
    }
    let record = &world.records.migrations;
    let app = world.config().app.clone();
    let label = |td: &str| {
        world
            .state()
            .and_then(|s| {
                if s.previous_task_definition.as_deref() == Some(td) {
                    s.previous_version.clone()
                } else if s.active_task_definition.as_deref() == Some(td) {
                    s.active_version.clone()
                } else {
                    None
                }
            })
            .unwrap_or_else(|| td.to_string())
    };
    // A contract that runs now has begun to take away what the other
    // release needs.
    if let Some(running) = record.runs.iter().rev().find(|r| {
        r.phase == MigrationPhase::Contract
            && r.status == RunStatus::Running
            && r.task_definition != target_td
    }) {
        return Err(Error::SchemaContracted {
            app,
            target: label(target_td),
            contracted: format!(
                "{} (its contract migration is running: task {})",
                running.version, running.task_arn
            ),
        });
    }
    // A contract about to run: any rollback from now on is refused, so that
    // none can move traffic once its task has started.
    if let Some(intent) = record
        .contract_intent
        .as_ref()
        .filter(|i| i.task_definition != target_td)
    {
        return Err(Error::SchemaContracted {
            app,
            target: label(target_td),
            contracted: format!(
                "{} (its contract migration is about to run, since {})",
                intent.version, intent.at
            ),
        });
    }
    match &record.contracted {
        Some(contracted) if contracted.forbids(target_td) => Err(Error::SchemaContracted {
            app,
            target: contracted
                .retired_version
                .clone()
                .filter(|_| contracted.retired_task_definition.as_deref() == Some(target_td))
                .unwrap_or_else(|| label(target_td)),
            contracted: format!("{} at {}", contracted.version, contracted.at),
        }),
        _ => Ok(()),
    }
}
