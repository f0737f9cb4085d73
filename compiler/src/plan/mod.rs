//! The compiled Plan: what the runtime executes, as versioned JSON.
//!
//! A Plan is built from a checked [`Model`](crate::model::Model) by [`Plan::from_model`]. It holds
//! no spans and no secret values: credentials are the *names* of environment variables. It
//! carries [`PLAN_VERSION`] (the schema of this JSON) and `spec_hash`, the SHA-256 of the plan's
//! own canonical JSON, so every runtime write can be traced to the exact plan, and a change that
//! only reformats the spec (or edits its comments) keeps the hash.
//!
//! The types here are the contract with the runtime: they derive `Deserialize` and
//! `JsonSchema`, and `spec/plan.schema.json` is generated from them (a test keeps it current).
//! Changing their JSON shape means bumping [`PLAN_VERSION`].

mod build;
mod json;
mod ser;

pub use build::{LinkEntry, ModelParts, OwnershipEntry, OwnershipOrder, OwnershipView};
pub use json::{HashedJson, HASH_PLACEHOLDER};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The version of the Plan's JSON schema. Bumped on every incompatible change.
pub const PLAN_VERSION: u32 = 1;

/// The compiled plan of one `.seam` spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// The schema version of this JSON ([`PLAN_VERSION`]).
    pub plan_version: u32,
    /// SHA-256 (lowercase hex) of the plan's canonical JSON with this field empty: it changes
    /// with what the spec means, not with how it is laid out.
    pub spec_hash: String,
    /// The name from `seam NAME`.
    pub seam: String,
    pub systems: Vec<PlanSystem>,
    /// The objects the plan touches, with only the fields it touches.
    pub objects: Vec<PlanObject>,
    /// Every field that crosses the seam: its owner and its replicas, sorted by field.
    pub ownership: Vec<FieldOwnership>,
    pub identities: Vec<PlanIdentity>,
    pub links: Vec<PlanLink>,
    pub workflows: Vec<PlanWorkflow>,
    pub policy: PlanPolicy,
}

impl Plan {
    /// The hash of a plan's content: SHA-256 of its compact JSON with `spec_hash` empty
    /// (whatever this plan's `spec_hash` holds). A large plan is serialised on every core.
    pub fn content_hash(&self) -> String {
        json::content_hash(self)
    }

    /// The JSON Schema of the Plan (what `spec/plan.schema.json` holds).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or_default()
    }
}

/// The platform of a system.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PlanSystemKind {
    Salesforce,
    Servicenow,
    Slack,
}

/// A setting's value: a literal (`"https://acme.my.salesforce.com"`) or an environment variable
/// the runtime reads at start (`{"env": "SF_URL"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SettingValue {
    Literal(String),
    Env(EnvRef),
}

/// The name of an environment variable that holds a value (never the value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnvRef {
    pub env: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanSystem {
    /// The alias paths use (`sf`).
    pub alias: String,
    pub kind: PlanSystemKind,
    /// The instance's base URL; absent when the spec leaves it to the runtime (Slack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<SettingValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<PlanAuth>,
    /// The environment variable holding the webhook signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<EnvRef>,
}

/// How the runtime authenticates: the scheme (`oauth_client_credentials`, `basic`, `bearer`)
/// and, per parameter, the environment variable that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanAuth {
    pub scheme: String,
    /// Parameter name -> value, in the order written.
    pub params: Vec<AuthParam>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuthParam {
    pub name: String,
    pub value: SettingValue,
}

/// `sf.Case`
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct ObjectPath {
    pub system: String,
    pub object: String,
}

/// `sf.Case.Subject`
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct FieldPath {
    pub system: String,
    pub object: String,
    pub field: String,
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.system, self.object)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.system, self.object, self.field)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanObject {
    pub system: String,
    pub object: String,
    /// Declared or extended by the spec rather than built in.
    pub custom: bool,
    pub fields: Vec<PlanField>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PlanType,
    /// An id or `unique` field: a stable key.
    pub unique: bool,
    /// Set by the platform; the runtime never writes it.
    pub read_only: bool,
    /// A derived field: computed by the platform from these fields of the same record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived_from: Vec<String>,
}

/// A field's type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PlanType {
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_len: Option<u32>,
    },
    Number,
    Bool,
    Datetime,
    Id,
    /// A reference to a record of one of these objects.
    Ref {
        targets: Vec<String>,
    },
    Picklist {
        values: Vec<String>,
    },
}

/// Who owns a field that crosses the seam, and where its replicas live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldOwnership {
    pub field: FieldPath,
    /// The system of record (the alias of the field's own system).
    pub owner: String,
    pub replicas: Vec<Replica>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Replica {
    pub field: FieldPath,
    /// The link whose mapping writes it.
    pub link: String,
}

/// `identity NAME = A.Obj.key <-> B.Obj.key`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanIdentity {
    pub name: String,
    pub left: FieldPath,
    pub right: FieldPath,
}

/// `link NAME: A.Obj <-> B.Obj { ... }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanLink {
    pub name: String,
    pub left: ObjectPath,
    pub right: ObjectPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<LinkKey>,
    /// When to create a twin, at most one rule per target side.
    pub open: Vec<OpenRule>,
    /// Mappings from the left object to the right one, in source order.
    pub left_to_right: Vec<PlanMapping>,
    /// Mappings from the right object to the left one, in source order.
    pub right_to_left: Vec<PlanMapping>,
}

/// `key A.Obj.f <-> B.Obj.g`: the right field stores the left record's key, written once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkKey {
    pub left: FieldPath,
    pub right: FieldPath,
}

/// `open B.Obj when CONDITION`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenRule {
    pub target: ObjectPath,
    pub when: Condition,
}

/// `A.Obj.f -> B.Obj.g [map {...}] [via IDENTITY]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanMapping {
    pub source: FieldPath,
    pub target: FieldPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_map: Option<ValueMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<IdentityTranslation>,
}

/// `map { "a" => "x" ... _ => "y" }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValueMap {
    pub arms: Vec<MapArm>,
    /// The `_` arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Literal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MapArm {
    pub from: Literal,
    pub to: Literal,
}

/// `via IDENTITY`: the source reference is translated by reading `source_key` on the
/// referenced record and finding the record whose `target_key` equals it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityTranslation {
    pub identity: String,
    pub source_key: FieldPath,
    pub target_key: FieldPath,
}

/// A literal value as written in the spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    /// A duration, in milliseconds.
    Duration(u64),
}

/// A condition tree (`open ... when`, workflow guards, alerts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    In {
        left: Operand,
        values: Vec<Literal>,
    },
    /// Every condition holds (nested `and`s are flattened).
    All {
        conditions: Vec<Condition>,
    },
    /// At least one holds (nested `or`s are flattened).
    Any {
        conditions: Vec<Condition>,
    },
    Not {
        condition: Box<Condition>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operand {
    Field { path: ValuePath },
    Metric { metric: Metric },
    Literal { value: Literal },
}

/// A runtime figure the policy's alerts read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The number of dead letters.
    DeadLetter,
    /// The age of the oldest pending event, in milliseconds.
    Lag,
}

/// A value read through a path, possibly walking references: `sf.Case.Account.Tier__c` starts
/// at `sf.Case`, walks `sf.Case.AccountId` and reads `sf.Account.Tier__c`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValuePath {
    pub root: ObjectPath,
    /// The reference fields walked, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub walk: Vec<FieldPath>,
    pub field: FieldPath,
}

/// `workflow NAME { on ... when ... do { ... } }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanWorkflow {
    pub name: String,
    pub trigger: PlanTrigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<Condition>,
    pub steps: Vec<PlanStep>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanTrigger {
    Becomes { field: FieldPath, value: Literal },
    Changes { field: FieldPath },
    Created { object: ObjectPath },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanStep {
    /// Create (or find) the twin through the link; the link's mappings and key write it.
    Open { target: ObjectPath, link: String },
    Create {
        object: ObjectPath,
        assignments: Vec<PlanAssignment>,
    },
    /// Update the trigger record, or its twin through `link`.
    Update {
        object: ObjectPath,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        assignments: Vec<PlanAssignment>,
    },
    /// A platform action (`chat.post(...)`); `bind` names its result for later steps.
    Action {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bind: Option<String>,
        system: String,
        action: String,
        args: Vec<PlanArg>,
    },
}

impl PlanStep {
    /// The step's head in the language's words, without its body or arguments:
    /// `open snow.incident via case_incident`, `sf.create Task`, `let bridge = chat.create_channel`.
    pub fn head(&self) -> String {
        match self {
            PlanStep::Open { target, link } => format!("open {target} via {link}"),
            PlanStep::Create { object, .. } => {
                format!("{}.create {}", object.system, object.object)
            }
            PlanStep::Update { object, .. } => {
                format!("{}.update {}", object.system, object.object)
            }
            PlanStep::Action {
                bind,
                system,
                action,
                ..
            } => match bind {
                Some(b) => format!("let {b} = {system}.{action}"),
                None => format!("{system}.{action}"),
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanAssignment {
    pub field: FieldPath,
    pub value: PlanValue,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanArg {
    pub name: String,
    pub value: PlanValue,
}

/// A value in a step or an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanValue {
    Literal {
        value: Literal,
    },
    /// A string with holes, pre-parsed: concatenate the parts.
    Template {
        parts: Vec<TemplatePart>,
    },
    Field {
        path: ValuePath,
    },
    /// The result of an earlier `let`.
    Binding {
        name: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplatePart {
    Text { text: String },
    Field { path: ValuePath },
    Binding { name: String },
    Metric { metric: Metric },
}

/// `policy { ... }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// `dead_letter = after retry`: an event that exhausts its retries is dead-lettered.
    pub dead_letter_after_retry: bool,
    pub alerts: Vec<PlanAlert>,
    /// `reconcile = every D`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_every_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetryPolicy {
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

/// Exponential backoff between `min_ms` and `max_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Backoff {
    pub min_ms: u64,
    pub max_ms: u64,
}

/// `alert SYS.action(...) when CONDITION`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanAlert {
    pub system: String,
    pub action: String,
    pub args: Vec<PlanArg>,
    pub when: Condition,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests;
