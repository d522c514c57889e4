//! A release's task definition given as a document: the JSON that
//! `aws ecs register-task-definition --cli-input-json` takes, as
//! `amazon-ecs-render-task-definition` writes it or a team keeps it in its
//! repository. Checked before anything changes (each problem named by its
//! path), stripped of the fields that only describe a registered revision, and
//! marked with a digest of itself so that a rerun finds the revision its first
//! run registered instead of adding another.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ports::RevisionTag;

/// The tag that carries the document's digest on the revision registered
/// from it.
pub const DOCUMENT_TAG: &str = "bluegreen:document";
/// Tags bluegreen writes itself; a document's own are dropped (they are
/// recomputed), so a revision described and rendered again keeps its digest.
const OWN_TAG_PREFIX: &str = "bluegreen:";

/// The request fields of ECS RegisterTaskDefinition (API reference, 2026).
const REGISTER_FIELDS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "tags",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// What DescribeTaskDefinition adds to a registered revision: a rendered file
/// made from one carries them, and RegisterTaskDefinition refuses them.
const DESCRIBED_ONLY: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// A checked task-definition document, without bluegreen's own tags.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinitionDocument(Map<String, Value>);

impl TaskDefinitionDocument {
    /// Checks `value` as found at `field` of `source`. Also takes the whole
    /// answer of `aws ecs describe-task-definition` (`{"taskDefinition":
    /// {...}, "tags": [...]}`).
    pub fn parse(source: &str, field: &str, value: &Value) -> Result<Self> {
        let bad = |at: String, problem: String| Error::bad_input(source, at, problem);
        // `field` is empty for a document of its own (a file).
        let path = |sub: &str| match field {
            "" => sub.to_string(),
            _ => format!("{field}.{sub}"),
        };
        let Value::Object(given) = value else {
            return Err(bad(
                if field.is_empty() {
                    "(document)"
                } else {
                    field
                }
                .to_string(),
                "must be a task definition (a JSON object) or a task-definition ARN".to_string(),
            ));
        };
        let mut doc = match given.get("taskDefinition") {
            Some(Value::Object(inner)) => {
                let mut inner = inner.clone();
                if let Some(tags) = given.get("tags") {
                    inner.insert("tags".to_string(), tags.clone());
                }
                inner
            }
            _ => given.clone(),
        };
        for key in DESCRIBED_ONLY {
            doc.remove(*key);
        }
        if let Some(unknown) = doc.keys().find(|k| !REGISTER_FIELDS.contains(&k.as_str())) {
            return Err(bad(
                path(unknown),
                "is not a field of ECS RegisterTaskDefinition".to_string(),
            ));
        }
        match doc.get("family") {
            Some(Value::String(f)) if valid_family(f) => {}
            Some(_) => {
                return Err(bad(
                    path("family"),
                    "must be 1 to 255 letters, digits, hyphens or underscores".to_string(),
                ));
            }
            None => {
                return Err(bad(
                    path("family"),
                    "is missing: the family of the app's services".to_string(),
                ));
            }
        }
        let containers = match doc.get("containerDefinitions") {
            Some(Value::Array(c)) if !c.is_empty() => c,
            _ => {
                return Err(bad(
                    path("containerDefinitions"),
                    "must list at least one container".to_string(),
                ));
            }
        };
        let mut names = BTreeSet::new();
        for (i, container) in containers.iter().enumerate() {
            let at = path(&format!("containerDefinitions[{i}]"));
            for key in ["name", "image"] {
                if container
                    .get(key)
                    .and_then(Value::as_str)
                    .is_none_or(|s| s.trim().is_empty())
                {
                    return Err(bad(
                        format!("{at}.{key}"),
                        "must be a non-empty string".into(),
                    ));
                }
            }
            let name = container["name"].as_str().unwrap_or_default();
            if !names.insert(name) {
                return Err(bad(
                    format!("{at}.name"),
                    format!("`{name}` names two containers"),
                ));
            }
        }
        if let Some(tags) = doc.get_mut("tags") {
            let Value::Array(list) = tags else {
                return Err(bad(
                    path("tags"),
                    "must be a list of {\"key\", \"value\"}".to_string(),
                ));
            };
            list.retain(|t| {
                !t.get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.starts_with(OWN_TAG_PREFIX))
            });
            if list.is_empty() {
                doc.remove("tags");
            }
        }
        Ok(TaskDefinitionDocument(doc))
    }

    pub fn family(&self) -> &str {
        self.0["family"].as_str().unwrap_or_default()
    }

    /// The checked document, without bluegreen's tags (what an execution
    /// input carries).
    pub fn into_request(self) -> Map<String, Value> {
        self.0
    }

    /// The document as sent to RegisterTaskDefinition, and the tag it
    /// carries there: a digest of the document (and of `also`, a mark of
    /// its own, such as a redeploy's), so that the family's latest revision
    /// carrying it is this document registered.
    pub fn to_register(&self, also: Option<&RevisionTag>) -> (Map<String, Value>, RevisionTag) {
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_vec(&self.0).unwrap_or_default());
        if let Some(tag) = also {
            hasher.update(format!("\n{}={}", tag.key, tag.value));
        }
        let digest = RevisionTag {
            key: DOCUMENT_TAG.to_string(),
            value: hex::encode(&hasher.finalize()[..16]),
        };
        let mut doc = self.0.clone();
        let tags = doc
            .entry("tags")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = tags {
            for tag in std::iter::once(&digest).chain(also) {
                list.push(json!({"key": tag.key, "value": tag.value}));
            }
        }
        (doc, digest)
    }
}

/// ECS: "Up to 255 letters (uppercase and lowercase), numbers, underscores,
/// and hyphens are allowed."
fn valid_family(family: &str) -> bool {
    !family.is_empty()
        && family.len() <= 255
        && family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "td.json";

    fn parse(value: Value) -> Result<TaskDefinitionDocument> {
        TaskDefinitionDocument::parse(SOURCE, "release.task_definition", &value)
    }

    fn rendered() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/checkout:4",
            "family": "checkout",
            "revision": 4,
            "status": "ACTIVE",
            "compatibilities": ["EC2", "FARGATE"],
            "registeredAt": "2026-12-01T10:00:00Z",
            "containerDefinitions": [
                {"name": "app", "image": "checkout:v2", "essential": true},
                {"name": "envoy", "image": "envoy:1.31"}
            ],
            "cpu": "256",
            "memory": "512"
        })
    }

    #[test]
    fn a_rendered_file_loses_what_only_describes_a_registered_revision() {
        let doc = parse(rendered()).unwrap();
        let (sent, _) = doc.to_register(None);
        for key in DESCRIBED_ONLY {
            assert!(!sent.contains_key(*key), "{key} is sent");
        }
        assert_eq!(doc.family(), "checkout");
        let images: Vec<&str> = sent["containerDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["image"].as_str().unwrap())
            .collect();
        assert_eq!(images, ["checkout:v2", "envoy:1.31"]);
    }

    #[test]
    fn a_describe_answer_is_unwrapped_with_its_tags_and_without_ours() {
        let doc = parse(json!({
            "taskDefinition": rendered(),
            "tags": [{"key": "team", "value": "payments"}, {"key": "bluegreen:document", "value": "old"}]
        }))
        .unwrap();
        let (sent, digest) = doc.to_register(None);
        assert_eq!(
            sent["tags"],
            json!([{"key": "team", "value": "payments"}, {"key": DOCUMENT_TAG, "value": digest.value}])
        );
        // Registered, described and rendered again: the same digest.
        assert_eq!(
            parse(Value::Object(sent)).unwrap().to_register(None).1,
            digest
        );
    }

    #[test]
    fn the_digest_changes_with_the_document_and_with_a_redeploys_mark() {
        let doc = parse(rendered()).unwrap();
        let mut other = rendered();
        other["containerDefinitions"][0]["image"] = json!("checkout:v3");
        let other = parse(other).unwrap();
        let mark = RevisionTag {
            key: "bluegreen:redeploy".into(),
            value: "e1".into(),
        };
        let plain = doc.to_register(None).1;
        assert_ne!(plain, other.to_register(None).1);
        assert_ne!(plain, doc.to_register(Some(&mark)).1);
        assert_eq!(
            doc.to_register(Some(&mark)).0["tags"][1]["key"],
            "bluegreen:redeploy"
        );
    }

    #[test]
    fn a_file_of_its_own_names_paths_from_its_top() {
        let err = TaskDefinitionDocument::parse("td.json", "", &json!({"family": "checkout"}));
        assert_eq!(
            err.unwrap_err().to_string(),
            "td.json is invalid at `containerDefinitions`: must list at least one container"
        );
    }

    #[test]
    fn each_problem_is_named_by_its_path() {
        let cases = [
            (json!("checkout:v2"), "release.task_definition"),
            (
                json!({"family": "checkout", "containerDefinitions": [{"name": "app", "image": "x"}], "cpus": 1}),
                "release.task_definition.cpus",
            ),
            (
                json!({"containerDefinitions": [{"name": "app", "image": "x"}]}),
                "release.task_definition.family",
            ),
            (
                json!({"family": "check out", "containerDefinitions": [{"name": "app", "image": "x"}]}),
                "release.task_definition.family",
            ),
            (
                json!({"family": "checkout", "containerDefinitions": []}),
                "release.task_definition.containerDefinitions",
            ),
            (
                json!({"family": "checkout", "containerDefinitions": [{"name": "app"}]}),
                "release.task_definition.containerDefinitions[0].image",
            ),
            (
                json!({"family": "checkout", "containerDefinitions": [{"name": "app", "image": "x"}, {"name": "app", "image": "y"}]}),
                "release.task_definition.containerDefinitions[1].name",
            ),
            (
                json!({"family": "checkout", "containerDefinitions": [{"name": "app", "image": "x"}], "tags": {"a": "b"}}),
                "release.task_definition.tags",
            ),
        ];
        for (value, field) in cases {
            match parse(value.clone()) {
                Err(Error::BadInput {
                    field: f, document, ..
                }) => {
                    assert_eq!((f.as_str(), document.as_str()), (field, SOURCE), "{value}");
                }
                other => panic!("{value}: {other:?}"),
            }
        }
    }
}
