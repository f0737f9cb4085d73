//! Reading values through paths that walk references: `sf.Case.Account.Tier__c` reads the
//! Case, takes its `AccountId`, and reads `Tier__c` of that Account.
//!
//! One call, [`read_paths`], reads every path a condition, template or step needs from one
//! root record: the root once with every root-level field any path needs, then each record
//! reached by a walk once, with every field needed there (a GET of the referenced record:
//! Salesforce `GET sobjects/Account/{id}`, ServiceNow `GET table/core_company/{sys_id}`). A
//! walk through an empty reference yields no value, not an error. Values are compared as text
//! ([`canonical`]).
//!
//! Kept apart from the link sync so other engine code (an `open ... when` through a reference)
//! can use the same reader. A Salesforce relationship query (`SELECT Account.Tier__c FROM
//! Case`) would save the GET of the first hop; the GET works the same on both platforms and at
//! any depth, so it is the one path here.

use seam_compiler::plan::{FieldPath, ObjectPath, ValuePath};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::connectors::Record;
use crate::engine::platform::{canonical, Platform};
use crate::engine::SyncError;

/// Where a walk arrives: the reference fields walked so far and the object reached.
type Node = (Vec<FieldPath>, ObjectPath);

/// The records read for a set of paths, by the walk that reached them.
#[derive(Debug, Default, Clone)]
pub struct PathValues {
    records: HashMap<Node, Option<Record>>,
}

fn object_of(f: &FieldPath) -> ObjectPath {
    ObjectPath {
        system: f.system.clone(),
        object: f.object.clone(),
    }
}

/// The object a path is at after `depth` hops, and the field it reads there.
fn step(path: &ValuePath, depth: usize) -> (ObjectPath, &str) {
    match path.walk.get(depth) {
        Some(reference) => (object_of(reference), reference.field.as_str()),
        None => (object_of(&path.field), path.field.field.as_str()),
    }
}

fn node(path: &ValuePath, depth: usize) -> Node {
    let walked = path.walk.iter().take(depth).cloned().collect();
    (walked, step(path, depth).0)
}

impl PathValues {
    /// The value a path reads, as text; `None` when empty or when a walk found no record.
    pub fn get(&self, path: &ValuePath) -> Option<String> {
        let rec = self.records.get(&node(path, path.walk.len()))?.as_ref()?;
        canonical(rec.get(&path.field.field))
    }

    /// The root record, or `None` when it does not exist (deleted).
    pub fn root(&self, root: &ObjectPath) -> Option<&Record> {
        self.records.get(&(Vec::new(), root.clone()))?.as_ref()
    }

    /// Whether the root record was found.
    pub fn found(&self, root: &ObjectPath) -> bool {
        self.root(root).is_some()
    }
}

/// Reads `paths` (all rooted at `root`) starting from the record `root_id`.
pub async fn read_paths(
    platforms: &HashMap<String, Platform>,
    root: &ObjectPath,
    root_id: &str,
    paths: &[&ValuePath],
) -> Result<PathValues, SyncError> {
    // Every node, with the fields wanted there; the root always, even with no paths.
    let mut wanted: BTreeMap<(usize, Node), BTreeSet<String>> = BTreeMap::new();
    wanted.entry((0, (Vec::new(), root.clone()))).or_default();
    for p in paths.iter().filter(|p| &p.root == root) {
        for depth in 0..=p.walk.len() {
            let field = step(p, depth).1.to_string();
            wanted
                .entry((depth, node(p, depth)))
                .or_default()
                .insert(field);
        }
    }
    let mut out = PathValues::default();
    // Sorted by depth: a node's parent is always read before it.
    for ((depth, (walked, object)), fields) in wanted {
        let id = match walked.last() {
            None => Some(root_id.to_string()),
            Some(reference) => {
                let parent: Node = (
                    walked.iter().take(depth - 1).cloned().collect(),
                    object_of(reference),
                );
                out.records
                    .get(&parent)
                    .and_then(|r| r.as_ref())
                    .and_then(|r| canonical(r.get(&reference.field)))
            }
        };
        let record = match id {
            Some(id) => read_one(platforms, &object, &id, &fields, &walked).await?,
            None => None,
        };
        out.records.insert((walked, object), record);
    }
    Ok(out)
}

async fn read_one(
    platforms: &HashMap<String, Platform>,
    object: &ObjectPath,
    id: &str,
    fields: &BTreeSet<String>,
    walked: &[FieldPath],
) -> Result<Option<Record>, SyncError> {
    let platform = platforms.get(&object.system).ok_or_else(|| {
        SyncError::permanent(format!(
            "system `{}` has no connector configured, so {object} cannot be read",
            object.system
        ))
    })?;
    let mut names: Vec<&str> = fields.iter().map(String::as_str).collect();
    if !names.contains(&platform.id_field()) {
        names.push(platform.id_field());
    }
    let how = match walked.last() {
        Some(r) => format!("reading {object} `{id}` (through {r})"),
        None => format!("reading {object} `{id}`"),
    };
    platform
        .get(&object.object, id, &names)
        .await
        .map_err(|e| SyncError::connector(&how, e))
}
