//! Database migrations inside the release (see `records::migrations`): the
//! expand before the idle color is updated (called by deploy-idle), the
//! contract once the previous release is no rollback target, and the guard
//! that refuses a rollback the schema no longer allows.

pub mod contract;
pub mod guard;
pub mod task;

use crate::error::Result;
use crate::ports::Services;
use crate::records::config::AppConfig;

pub use contract::{ContractOutcome, ContractRequest, contract};
pub use guard::refuse_if_contracted;
pub use task::{MigrationTask, Progress, migrate};

/// The container a migration replaces the command of: the one a release
/// updates.
pub async fn release_container(
    services: &impl Services,
    config: &AppConfig,
    task_definition: &str,
) -> Result<String> {
    let images = services.images(task_definition).await?;
    config.release_container(task_definition, &images)
}
