//! The built-in catalogue: the platforms' standard objects, their fields, types, picklist values
//! and derivations, with the names the platforms really use.
//!
//! A spec's `object` blocks extend it (custom fields, custom objects) or replace a standard
//! picklist's values; `resolve` merges the two. The sandbox serves the same catalogue, so the
//! emulators and the compiler never disagree on what a `Case` is.

mod salesforce;
mod servicenow;
mod slack;

use crate::fx::HashMap;
use serde::Serialize;

pub use salesforce::EXTERNAL_POLYMORPHIC_TARGETS as SALESFORCE_EXTERNAL_TARGETS;
pub use servicenow::TASK_TABLES as SERVICENOW_TASK_TABLES;
pub use slack::{SlackAction, SlackParam, SLACK_ACTIONS};

/// The kinds of system a `system` declaration can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    Salesforce,
    ServiceNow,
    Slack,
}

impl SystemKind {
    pub const ALL: [SystemKind; 3] = [
        SystemKind::Salesforce,
        SystemKind::ServiceNow,
        SystemKind::Slack,
    ];

    /// The name used in `system ALIAS: KIND`.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemKind::Salesforce => "salesforce",
            SystemKind::ServiceNow => "servicenow",
            SystemKind::Slack => "slack",
        }
    }

    pub fn from_name(name: &str) -> Option<SystemKind> {
        SystemKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The implicit id field every object of this platform has.
    pub fn id_field(self) -> &'static str {
        match self {
            SystemKind::Salesforce => "Id",
            SystemKind::ServiceNow => "sys_id",
            SystemKind::Slack => "id",
        }
    }

    /// Whether `name` follows the platform's rule for custom fields and objects
    /// (Salesforce: ends in `__c`; ServiceNow: starts with `u_` or `x_`).
    pub fn is_custom_name(self, name: &str) -> bool {
        match self {
            SystemKind::Salesforce => name.ends_with("__c") && name.len() > 3,
            SystemKind::ServiceNow => {
                (name.starts_with("u_") || name.starts_with("x_")) && name.len() > 2
            }
            SystemKind::Slack => false,
        }
    }
}

/// The type of a field, as the language sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FieldType {
    /// Free text, with the platform's maximum length when it has one.
    Text {
        max_len: Option<u32>,
    },
    Number,
    Bool,
    Datetime,
    /// The record's own id (Salesforce `Id`, ServiceNow `sys_id`).
    Id,
    /// A reference to a record of one of these objects (several for polymorphic references
    /// such as `Task.WhatId`).
    Ref {
        targets: Vec<String>,
    },
    /// A closed set of values; ServiceNow's integer choices are strings (`"1"`, `"-5"`).
    Picklist {
        values: Vec<String>,
    },
}

impl FieldType {
    pub fn text() -> Self {
        FieldType::Text { max_len: None }
    }

    pub fn text_n(n: u32) -> Self {
        FieldType::Text { max_len: Some(n) }
    }

    pub fn reference(target: &str) -> Self {
        FieldType::Ref {
            targets: vec![target.to_string()],
        }
    }

    pub fn picklist(values: &[&str]) -> Self {
        FieldType::Picklist {
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    /// A short word for messages: `text`, `picklist`, `ref(Account)`.
    pub fn describe(&self) -> String {
        match self {
            FieldType::Text { max_len: None } => "text".into(),
            FieldType::Text { max_len: Some(n) } => format!("text({n})"),
            FieldType::Number => "number".into(),
            FieldType::Bool => "bool".into(),
            FieldType::Datetime => "datetime".into(),
            FieldType::Id => "id".into(),
            FieldType::Ref { targets } => format!("ref({})", targets.join(" | ")),
            FieldType::Picklist { .. } => "picklist".into(),
        }
    }
}

/// One field of an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    pub ty: FieldType,
    /// An external id or other stable key (`unique` in the language).
    pub unique: bool,
    /// Set by the platform, never by a client (ids, auto numbers, audit stamps, formulas).
    pub read_only: bool,
    /// A create without it fails (`REQUIRED_FIELD_MISSING` on Salesforce).
    pub required: bool,
    /// Derived field: the fields of the same record it is computed from (`from(...)`).
    pub derived_from: Vec<String>,
    /// For references: the name a path walks through (Salesforce `AccountId` -> `Account`;
    /// ServiceNow walks use the field's own name).
    pub relationship: Option<String>,
    /// Whether the field came from the built-in catalogue (false for a spec's custom fields).
    pub standard: bool,
}

impl FieldDef {
    pub fn new(name: &str, label: &str, ty: FieldType) -> Self {
        FieldDef {
            name: name.to_string(),
            label: label.to_string(),
            ty,
            unique: false,
            read_only: false,
            required: false,
            derived_from: Vec::new(),
            relationship: None,
            standard: true,
        }
    }

    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn derived(mut self, from: &[&str]) -> Self {
        self.derived_from = from.iter().map(|f| f.to_string()).collect();
        self.read_only = true;
        self
    }

    pub fn relationship(mut self, name: &str) -> Self {
        self.relationship = Some(name.to_string());
        self
    }
}

/// One object (Salesforce sObject, ServiceNow table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    /// Salesforce: the 3-character id prefix (`500` for Case).
    pub key_prefix: Option<String>,
    /// The auto-number field and its format, e.g. `CaseNumber` / `{00000000}` or
    /// `number` / `INC{0000000}`.
    pub auto_number: Option<(String, String)>,
    pub fields: Vec<FieldDef>,
    pub standard: bool,
}

impl ObjectDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The reference field a relationship name walks through (`Account` -> `AccountId`).
    pub fn relationship(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.relationship.as_deref() == Some(name))
    }
}

/// All objects of all platforms. Lookups are hash-based (objects and fields alike): checking a
/// spec with many mappings never scans the catalogue.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    systems: HashMap<SystemKind, HashMap<String, IndexedObject>>,
}

/// An object as the catalogue holds it: its definition and its indexes by field and by
/// relationship name. Public so that `resolve` can build a spec's object on a worker thread,
/// indexes included, and hand it over whole ([`Catalog::insert_indexed`]) instead of the
/// catalogue indexing every field again on the resolving thread.
#[derive(Clone, Debug)]
pub struct IndexedObject {
    def: ObjectDef,
    /// field name -> index into `def.fields`
    fields: HashMap<String, usize>,
    /// relationship name -> index into `def.fields`
    relationships: HashMap<String, usize>,
}

impl IndexedObject {
    pub fn new(def: ObjectDef) -> Self {
        let mut entry = IndexedObject {
            def,
            fields: HashMap::default(),
            relationships: HashMap::default(),
        };
        entry.fields.reserve(entry.def.fields.len());
        for (i, f) in entry.def.fields.iter().enumerate() {
            entry.fields.insert(f.name.clone(), i);
            if let Some(rel) = &f.relationship {
                entry.relationships.insert(rel.clone(), i);
            }
        }
        entry
    }

    pub fn def(&self) -> &ObjectDef {
        &self.def
    }

    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.get(name).and_then(|&i| self.def.fields.get(i))
    }

    /// Room for `additional` more fields (an `object` block's, counted before it is read).
    pub fn reserve(&mut self, additional: usize) {
        self.def.fields.reserve_exact(additional);
        self.fields.reserve(additional);
    }

    /// Adds a field, or replaces the field of the same name (whose index entries stay).
    pub fn put_field(&mut self, field: FieldDef) {
        match self.fields.get(&field.name) {
            Some(&i) => {
                if let Some(slot) = self.def.fields.get_mut(i) {
                    *slot = field;
                }
            }
            None => {
                self.fields
                    .insert(field.name.clone(), self.def.fields.len());
                if let Some(rel) = &field.relationship {
                    self.relationships
                        .insert(rel.clone(), self.def.fields.len());
                }
                self.def.fields.push(field);
            }
        }
    }
}

impl Catalog {
    /// The platforms' standard objects.
    pub fn builtin() -> Self {
        let mut catalog = Catalog::default();
        for object in salesforce::objects() {
            catalog.insert(SystemKind::Salesforce, object);
        }
        for object in servicenow::objects() {
            catalog.insert(SystemKind::ServiceNow, object);
        }
        catalog
    }

    /// Adds or replaces an object.
    pub fn insert(&mut self, kind: SystemKind, object: ObjectDef) {
        self.systems
            .entry(kind)
            .or_default()
            .insert(object.name.clone(), IndexedObject::new(object));
    }

    /// Adds or replaces an object already indexed (what [`Catalog::insert`] does with a
    /// definition, without indexing it here).
    pub fn insert_indexed(&mut self, kind: SystemKind, object: IndexedObject) {
        self.systems
            .entry(kind)
            .or_default()
            .insert(object.def.name.clone(), object);
    }

    pub fn object(&self, kind: SystemKind, name: &str) -> Option<&ObjectDef> {
        self.entry(kind, name).map(|e| &e.def)
    }

    /// An object with its indexes.
    pub fn indexed(&self, kind: SystemKind, name: &str) -> Option<&IndexedObject> {
        self.systems.get(&kind)?.get(name)
    }

    fn entry(&self, kind: SystemKind, name: &str) -> Option<&IndexedObject> {
        self.indexed(kind, name)
    }

    pub fn field(&self, kind: SystemKind, object: &str, field: &str) -> Option<&FieldDef> {
        self.entry(kind, object)?.field(field)
    }

    /// The reference field a relationship name walks through (`Case` + `Account` -> `AccountId`).
    pub fn relationship(&self, kind: SystemKind, object: &str, name: &str) -> Option<&FieldDef> {
        let entry = self.entry(kind, object)?;
        entry
            .relationships
            .get(name)
            .and_then(|&i| entry.def.fields.get(i))
    }

    /// Adds a field to an object, or replaces the field of the same name. Returns false when
    /// the object does not exist.
    pub fn put_field(&mut self, kind: SystemKind, object: &str, field: FieldDef) -> bool {
        let Some(entry) = self.systems.get_mut(&kind).and_then(|m| m.get_mut(object)) else {
            return false;
        };
        entry.put_field(field);
        true
    }

    /// Object names of one platform, sorted (for suggestions and listings).
    pub fn object_names(&self, kind: SystemKind) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .systems
            .get(&kind)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        names
    }

    /// Every object of one platform, sorted by name.
    pub fn objects(&self, kind: SystemKind) -> Vec<&ObjectDef> {
        let mut objects: Vec<&ObjectDef> = self
            .systems
            .get(&kind)
            .map(|m| m.values().map(|e| &e.def).collect())
            .unwrap_or_default();
        objects.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        objects
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
