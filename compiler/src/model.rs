//! The resolved spec: every name looked up, every path turned into a [`FieldRef`] with a known
//! type. `resolve` builds it from the AST; the checks and the Plan read only this.
//!
//! INVARIANT: everything in a [`Model`] resolved. Items whose names did not resolve were reported
//! by `resolve` and left out, so one typo gives one diagnostic, not a cascade.

use crate::catalog::{Catalog, FieldDef, FieldType, IndexedObject, SystemKind};
use crate::fx::HashMap;
use crate::span::Span;
use crate::syntax::ast;
use std::fmt;
use std::sync::Arc;

/// A name inside a resolved reference (system alias, object, field). Shared, not owned: the
/// resolver hands out one allocation per distinct name ([`Names`]), so cloning a [`FieldRef`]
/// into the claims, the mentions, the dependency graph and the Plan builder is three reference
/// count increments, not three string copies (at 100,000 mappings, millions of small
/// allocations). `Arc`, not `Rc`: the checks read the model from two threads.
pub type Name = Arc<str>;

/// One [`Name`] per distinct text, so equal names share their allocation.
#[derive(Debug, Default)]
pub struct Names {
    known: crate::fx::HashSet<Name>,
}

impl Names {
    pub fn get(&mut self, text: &str) -> Name {
        if let Some(name) = self.known.get(text) {
            return Name::clone(name);
        }
        let name: Name = Arc::from(text);
        self.known.insert(Name::clone(&name));
        name
    }
}

/// An object of a declared system: `sf.Case`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    pub system: Name,
    pub object: Name,
}

impl ObjRef {
    pub fn field(&self, field: Name) -> FieldRef {
        FieldRef {
            system: Name::clone(&self.system),
            object: Name::clone(&self.object),
            field,
        }
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.system, self.object)
    }
}

/// A field of an object of a declared system: `sf.Case.Subject`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldRef {
    pub system: Name,
    pub object: Name,
    pub field: Name,
}

impl FieldRef {
    pub fn object_ref(&self) -> ObjRef {
        ObjRef {
            system: Name::clone(&self.system),
            object: Name::clone(&self.object),
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.system, self.object, self.field)
    }
}

/// A resolved thing together with the span of the text that named it.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

/// A path that reads a value, possibly walking references: `sf.Case.Account.Tier__c` is the
/// field `sf.Account.Tier__c` reached from `sf.Case` through `sf.Case.AccountId`.
#[derive(Clone, Debug, PartialEq)]
pub struct ValuePath {
    /// The object the path starts at.
    pub root: ObjRef,
    /// The reference fields walked, in order (empty for a plain field).
    pub walk: Vec<FieldRef>,
    /// The field read at the end.
    pub field: FieldRef,
    pub ty: FieldType,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct System {
    pub alias: String,
    pub kind: SystemKind,
    pub decl: ast::SystemDecl,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub name: String,
    pub name_span: Span,
    pub left: Spanned<FieldRef>,
    pub right: Spanned<FieldRef>,
    pub span: Span,
}

/// One field claimed by an `own` block (a `*` entry claims every field of the object).
#[derive(Clone, Debug, PartialEq)]
pub struct OwnClaim {
    pub field: FieldRef,
    pub span: Span,
    pub star: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub name: String,
    pub name_span: Span,
    pub left: Spanned<ObjRef>,
    pub right: Spanned<ObjRef>,
    pub key: Option<LinkKey>,
    pub opens: Vec<Open>,
    pub mappings: Vec<Mapping>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkKey {
    pub left: Spanned<FieldRef>,
    pub right: Spanned<FieldRef>,
    pub span: Span,
}

/// `open B.Obj when CONDITION`: create the twin on `target` when the other side matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Open {
    pub target: Spanned<ObjRef>,
    pub condition: Cond,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub link: String,
    pub source: Spanned<FieldRef>,
    pub target: Spanned<FieldRef>,
    pub map: Option<ast::ValueMap>,
    /// The identity named by `via`, by index into [`Model::identities`].
    pub via: Option<Spanned<usize>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    pub name: String,
    pub name_span: Span,
    pub trigger: Trigger,
    pub guard: Option<Cond>,
    pub steps: Vec<Step>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    Becomes {
        field: Spanned<FieldRef>,
        value: ast::Literal,
    },
    Changes {
        field: Spanned<FieldRef>,
    },
    Created {
        object: Spanned<ObjRef>,
    },
}

impl Trigger {
    pub fn object(&self) -> ObjRef {
        match self {
            Trigger::Becomes { field, .. } | Trigger::Changes { field } => field.node.object_ref(),
            Trigger::Created { object } => object.node.clone(),
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Trigger::Becomes { field, .. } | Trigger::Changes { field } => field.span,
            Trigger::Created { object } => object.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// `open B.Obj via LINK`: the twin through the link (index into [`Model::links`]).
    Open {
        target: Spanned<ObjRef>,
        link: usize,
        span: Span,
    },
    /// `SYS.create Obj { ... }`
    Create {
        object: Spanned<ObjRef>,
        assignments: Vec<Assignment>,
        span: Span,
    },
    /// `SYS.update Obj { ... }`: the trigger record, or its twin through `link`.
    Update {
        object: Spanned<ObjRef>,
        link: Option<usize>,
        assignments: Vec<Assignment>,
        span: Span,
    },
    /// `[let NAME =] SYS.action(...)`
    Action {
        binding: Option<Spanned<String>>,
        system: String,
        action: String,
        args: Vec<Arg>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub field: Spanned<FieldRef>,
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: String,
    pub value: Value,
    pub span: Span,
}

/// A value in a workflow step or an alert.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Literal(ast::Literal),
    /// A string with `{...}` holes.
    Template(Template),
    Path(ValuePath),
    /// A `let` name bound by an earlier step.
    Binding(Spanned<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Text(String),
    Path(ValuePath),
    Binding(Spanned<String>),
    Metric(Spanned<Metric>),
}

/// A runtime figure the policy's alerts can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Number of dead letters.
    DeadLetter,
    /// Age of the oldest pending event (a duration).
    Lag,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::DeadLetter, Metric::Lag];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::DeadLetter => "dead_letter",
            Metric::Lag => "lag",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Compare {
        left: Operand,
        op: ast::CmpOp,
        right: Operand,
        span: Span,
    },
    In {
        left: Operand,
        list: Vec<ast::Literal>,
        span: Span,
    },
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Path(ValuePath),
    Metric(Spanned<Metric>),
    Literal(ast::Literal),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Policy {
    pub retry: Option<Retry>,
    pub dead_letter_after_retry: bool,
    pub alerts: Vec<Alert>,
    pub reconcile_every_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff_ms: Option<(u64, u64)>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub system: String,
    pub action: String,
    pub args: Vec<Arg>,
    pub condition: Cond,
    pub span: Span,
}

/// A custom field a spec declared (for the unused-declaration warning).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomField {
    pub field: FieldRef,
    pub span: Span,
}

/// Fields and identities a spec names anywhere (see [`Model::mentions`]).
#[derive(Clone, Debug, Default)]
pub struct Mentions {
    pub fields: crate::fx::HashSet<FieldRef>,
    /// Identity names used by a `via` (or the declared identity a misspelt `via` most likely
    /// meant).
    pub identities: crate::fx::HashSet<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub name: Option<String>,
    pub systems: Vec<System>,
    /// The built-in catalogue merged with the spec's `object` blocks.
    pub catalog: Catalog,
    pub custom_fields: Vec<CustomField>,
    /// Every name the spec mentions, including in items left out of the model because another
    /// of their names did not resolve. `seam::unused` counts these as uses, so a typo elsewhere
    /// in an item does not also report what the item uses.
    pub mentions: Mentions,
    pub identities: Vec<Identity>,
    pub owns: Vec<OwnClaim>,
    pub links: Vec<Link>,
    pub workflows: Vec<Workflow>,
    pub policy: Policy,
    system_index: HashMap<String, usize>,
}

impl Model {
    pub fn with_catalog(catalog: Catalog) -> Self {
        Model {
            catalog,
            ..Model::default()
        }
    }

    pub fn add_system(&mut self, system: System) {
        self.system_index
            .insert(system.alias.clone(), self.systems.len());
        self.systems.push(system);
    }

    pub fn system(&self, alias: &str) -> Option<&System> {
        self.system_index
            .get(alias)
            .and_then(|&i| self.systems.get(i))
    }

    pub fn kind(&self, alias: &str) -> Option<SystemKind> {
        self.system(alias).map(|s| s.kind)
    }

    /// The catalogue entry of a resolved field.
    pub fn field_def(&self, field: &FieldRef) -> Option<&FieldDef> {
        let kind = self.kind(&field.system)?;
        self.catalog.field(kind, &field.object, &field.field)
    }

    pub fn field_type(&self, field: &FieldRef) -> Option<&FieldType> {
        self.field_def(field).map(|f| &f.ty)
    }
}

/// [`Model::field_def`] for many fields: each object's catalogue entry is looked up once and
/// remembered by the addresses of its two shared names, so a field costs one hash of two
/// numbers and its own name's lookup, instead of three string-keyed lookups (system, object,
/// field). The checks ask this for every mapping's two fields (at 100,000 mappings, ~400,000
/// lookups over a table of ~4,000 objects).
///
/// INVARIANT: an entry holds the two names its key was made from (a clone of each, made once per
/// object, on the miss), so no key's address can be freed and reused by another name while
/// `self` lives, whatever the caller passes. Equal names at two addresses (the resolver's
/// threads each intern their own) are only two entries for the same object.
pub struct FieldDefs<'m> {
    model: &'m Model,
    objects: HashMap<(usize, usize), KeptObject<'m>>,
}

/// An object's catalogue entry (if any), with the names its key's addresses belong to.
struct KeptObject<'m> {
    _names: (Name, Name),
    entry: Option<&'m IndexedObject>,
}

impl<'m> FieldDefs<'m> {
    pub fn new(model: &'m Model) -> Self {
        FieldDefs {
            model,
            objects: HashMap::default(),
        }
    }

    /// What [`Model::field_def`] returns for `field`.
    pub fn get(&mut self, field: &FieldRef) -> Option<&'m FieldDef> {
        let key = (address(&field.system), address(&field.object));
        let model = self.model;
        let object = self
            .objects
            .entry(key)
            .or_insert_with(|| KeptObject {
                _names: (field.system.clone(), field.object.clone()),
                entry: model
                    .kind(&field.system)
                    .and_then(|kind| model.catalog.indexed(kind, &field.object)),
            })
            .entry;
        object?.field(&field.field)
    }

    pub fn field_type(&mut self, field: &FieldRef) -> Option<&'m FieldType> {
        self.get(field).map(|f| &f.ty)
    }
}

fn address(name: &Name) -> usize {
    Arc::as_ptr(name).cast::<u8>() as usize
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn equal_names_share_one_allocation() {
        let mut names = Names::default();
        let a = names.get("Subject");
        let b = names.get(&String::from("Subject"));
        let c = names.get("Status");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "Status");
    }

    /// Whatever the names' addresses (shared, separate copies of equal names, unknown
    /// systems, objects and fields), the cache answers what `Model::field_def` answers.
    #[test]
    fn field_defs_answer_what_field_def_answers() {
        let (model, diagnostics) = crate::resolve::resolve(
            &crate::syntax::parse(
                "seam t\n\
                 system sf: salesforce { url = env(\"U\") auth = oauth_client_credentials(client_id = env(\"A\"), client_secret = env(\"B\")) }\n\
                 object sf.Case { Tier__c: text }\n",
            )
            .unwrap(),
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let mut names = Names::default();
        let mut other = Names::default();
        let mut fields = Vec::new();
        for system in ["sf", "snow", "nope"] {
            for object in ["Case", "Account", "Nope__c"] {
                for field in ["Subject", "Tier__c", "Name", "Id", "Nope__c"] {
                    for interner in [&mut names, &mut other] {
                        fields.push(FieldRef {
                            system: interner.get(system),
                            object: interner.get(object),
                            field: interner.get(field),
                        });
                    }
                    fields.push(FieldRef {
                        system: system.into(),
                        object: object.into(),
                        field: field.into(),
                    });
                }
            }
        }
        let mut defs = FieldDefs::new(&model);
        let mut found = 0;
        for _ in 0..2 {
            for f in &fields {
                let cached = defs.get(f).map(|d| d as *const FieldDef);
                let direct = model.field_def(f).map(|d| d as *const FieldDef);
                assert_eq!(cached, direct, "{f}");
                found += usize::from(direct.is_some());
            }
        }
        assert!(found > 0);
    }

    #[test]
    fn a_field_ref_orders_and_prints_as_its_strings() {
        let f = |s: &str, o: &str, n: &str| FieldRef {
            system: s.into(),
            object: o.into(),
            field: n.into(),
        };
        assert!(f("sf", "Case", "B") < f("sf", "Case", "a"));
        assert!(f("sf", "Case", "Z") < f("snow", "Case", "A"));
        assert_eq!(f("sf", "Case", "Subject").to_string(), "sf.Case.Subject");
    }
}
