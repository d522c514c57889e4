//! What each step needs to know, and nothing more. The steps take these
//! narrow requests; the Lambdas build them from the execution document
//! ([`crate::document::input`]), so the steps do not depend on the document's shape
//! (and the document's module may name the steps' results without a cycle).

use std::collections::BTreeMap;

use crate::color::Color;
use crate::document::outcomes::DeployOutcome;
use crate::document::outcomes::SwitchOutcome;
use crate::document::task_definition::TaskDefinitionDocument;
use crate::records::config::Strategy;
use crate::records::gates::{ApprovalDecision, Gates};

/// Who asks: the app, the release, and the execution if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub app: String,
    pub version: String,
    pub execution_arn: Option<String>,
}

impl Caller {
    /// The lock holder: the execution; a direct invoke (no execution) holds
    /// it under a name that a rerun of the same release recognises.
    pub fn holder(&self) -> String {
        match &self.execution_arn {
            Some(arn) => arn.clone(),
            None => format!("manual:{}:{}", self.app, self.version),
        }
    }
}

/// deploy-idle: the release to put on the idle color.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployRequest {
    pub caller: Caller,
    pub artifact: Artifact,
    /// Ship it even when this version already serves (fresh tasks).
    pub redeploy: bool,
    /// The release's strategy override (it sizes the lock's expiry).
    pub strategy: Option<Strategy>,
    /// The release's migrations, instead of the config's.
    pub migrations: Option<crate::records::migrations::Migrations>,
}

/// What a release ships.
#[derive(Debug, Clone, PartialEq)]
pub enum Artifact {
    /// The release container's new image.
    Image(String),
    /// New images for these containers (name → image).
    Images(BTreeMap<String, String>),
    /// A registered task definition, run as is.
    TaskDefinitionArn(String),
    /// A task definition to register.
    Document(TaskDefinitionDocument),
}

/// switch: the next step of this execution.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchRequest {
    pub caller: Caller,
    pub strategy: Option<Strategy>,
    /// The release's gates, instead of the config's.
    pub gates: Option<Gates>,
    /// The last decision at an approval gate of this document.
    pub approval: Option<ApprovalDecision>,
    /// This execution's previous switch result (another execution's is not
    /// passed: a copied document must not continue its steps).
    pub previous: Option<SwitchOutcome>,
    /// Where deploy-idle put the release: its color and task definition.
    pub deployed: Option<(Color, String)>,
}

/// The steps after deploy-idle that act on what it did: the readiness check
/// and the scale-down.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedRequest {
    pub caller: Caller,
    pub deployed: DeployOutcome,
}
