//! The release's task definition: given (an ARN, run as is), a revision of
//! what production runs with new images, or a document registered. Every
//! way is safe to rerun: a revision or a document registered by an earlier
//! attempt (whose answer may have been lost) is found again, not added.

use tracing::info;

use crate::error::{EXECUTION_INPUT, Error, Result};
use crate::ports::{ContainerImage, RevisionTag, Services};
use crate::records::config::AppConfig;

use super::plan::{NewImages, Release};

/// The ARN of the task definition `release` runs, registering it if needed.
pub(super) async fn task_definition(
    services: &impl Services,
    config: &AppConfig,
    release: &Release,
) -> Result<String> {
    match release {
        Release::TaskDefinition(arn) => Ok(arn.clone()),
        Release::Revision { images, base, mark } => {
            revision(services, config, base, images, mark.as_ref()).await
        }
        Release::Document { document, mark } => {
            let (request, digest) = document.to_register(mark.as_ref());
            let arn = services.register_document(&request, &digest).await?;
            info!(app = %config.app, %arn, "the release's task definition, registered from its document");
            Ok(arn)
        }
    }
}

/// The task definition with the release's images: a revision of `base`
/// (what production runs now, the serving color's) with only those images
/// changed. Not the idle color's: it may be older, and a release shipped
/// since as a task definition (environment, CPU, secrets) would be silently
/// undone. `base` itself when nothing changes and no `mark` asks for a
/// revision of its own. A rerun finds the revision its first run registered
/// (the adapter reuses the family's latest revision when it is the same), so
/// nothing new is added.
async fn revision(
    services: &impl Services,
    config: &AppConfig,
    base: &str,
    images: &NewImages,
    mark: Option<&RevisionTag>,
) -> Result<String> {
    let current = services.images(base).await?;
    let wanted: Vec<ContainerImage> = match images {
        NewImages::ReleaseContainer(image) => vec![ContainerImage {
            container: config.release_container(base, &current)?,
            image: image.clone(),
        }],
        NewImages::Named(named) => {
            if let Some(unknown) = named
                .keys()
                .find(|name| !current.iter().any(|c| &c.container == *name))
            {
                return Err(Error::bad_input(
                    EXECUTION_INPUT,
                    format!("release.images.{unknown}"),
                    format!(
                        "task definition {base} has no container `{unknown}` (it has: {})",
                        current
                            .iter()
                            .map(|c| c.container.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            named
                .iter()
                .map(|(container, image)| ContainerImage {
                    container: container.clone(),
                    image: image.clone(),
                })
                .collect()
        }
    };
    if mark.is_none() && wanted.iter().all(|w| current.contains(w)) {
        return Ok(base.to_string());
    }
    let arn = services.register_with_images(base, &wanted, mark).await?;
    info!(app = %config.app, %arn, images = ?wanted, redeploy = mark.is_some(), "the release's task definition");
    Ok(arn)
}
