//! Model -> Plan. Pure translation: the model is already resolved, so every path here has a
//! catalogue entry; the Plan only drops spans and keeps what the runtime needs.

use super::*;
use crate::catalog::{FieldType, SystemKind};
use crate::fx::{HashMap, HashSet};
use crate::model::{self, Model};
use crate::syntax::ast;

impl Plan {
    /// Builds the plan of a model. Meant for a model without errors (`seam compile` refuses
    /// others), but total: whatever the model holds is translated.
    pub fn from_model(model: &Model) -> Plan {
        let mut plan = Plan::from_model_unhashed(model);
        plan.spec_hash = plan.content_hash();
        plan
    }

    /// [`Plan::from_model`] without `spec_hash` (left empty), for readers that do not show it
    /// (`seam table`): the hash serialises the whole plan once more.
    pub fn from_model_unhashed(model: &Model) -> Plan {
        let mut plan = Plan::build(model, true);
        plan.ownership = ownership(model);
        plan
    }

    /// [`Plan::from_model_unhashed`] but for the ownership list and the links' mapping lists
    /// (`left_to_right`, `right_to_left`), left empty, for a writer that serialises those from
    /// the model instead ([`ModelParts`], `seam compile`): they are the plan's largest part (a
    /// [`FieldPath`] for every mapping's source and target, twice) and no name of them is
    /// copied there.
    pub fn skeleton(model: &Model) -> Plan {
        Plan::build(model, false)
    }

    fn build(model: &Model, with_mappings: bool) -> Plan {
        let mut touched = Touched::default();
        let links: Vec<PlanLink> = model
            .links
            .iter()
            .map(|l| link(model, l, &mut touched, with_mappings))
            .collect();
        let workflows = model
            .workflows
            .iter()
            .map(|w| workflow(w, model, &mut touched))
            .collect();
        let identities = model
            .identities
            .iter()
            .map(|i| {
                touched.field(&i.left.node);
                touched.field(&i.right.node);
                PlanIdentity {
                    name: i.name.clone(),
                    left: field_path(&i.left.node),
                    right: field_path(&i.right.node),
                }
            })
            .collect();
        let policy = policy(&model.policy, &mut touched);
        Plan {
            plan_version: PLAN_VERSION,
            spec_hash: String::new(),
            seam: model.name.clone().unwrap_or_default(),
            systems: model.systems.iter().map(system).collect(),
            objects: objects(model, &touched),
            ownership: Vec::new(),
            identities,
            links,
            workflows,
            policy,
        }
    }
}

/// The fields the plan reads or writes, per object: system -> object -> fields. Hashed on the
/// shared names and looked up by reference (a lookup clones no name; a new entry clones an
/// `Arc`), then sorted once by [`Touched::objects`]; every mapping touches two fields.
#[derive(Default)]
struct Touched {
    fields: HashMap<model::Name, HashMap<model::Name, HashSet<model::Name>>>,
}

impl Touched {
    fn of(&mut self, system: &model::Name, object: &model::Name) -> &mut HashSet<model::Name> {
        self.fields
            .entry(model::Name::clone(system))
            .or_default()
            .entry(model::Name::clone(object))
            .or_default()
    }

    fn field(&mut self, f: &model::FieldRef) {
        let fields = self.of(&f.system, &f.object);
        if !fields.contains(&*f.field) {
            fields.insert(model::Name::clone(&f.field));
        }
    }

    /// [`Touched::field`] of every mapping's source and target. A link's mappings are almost
    /// all between its two objects, so their fields are gathered per side and the side's set
    /// is looked up once, not once per field.
    fn link_fields(&mut self, l: &model::Link) {
        let (left, right) = (&l.left.node, &l.right.node);
        let on =
            |o: &model::ObjRef, f: &model::FieldRef| o.system == f.system && o.object == f.object;
        let mut lefts = Vec::with_capacity(l.mappings.len());
        let mut rights = Vec::with_capacity(l.mappings.len());
        for m in &l.mappings {
            for f in [&m.source.node, &m.target.node] {
                if on(left, f) {
                    lefts.push(&f.field);
                } else if on(right, f) {
                    rights.push(&f.field);
                } else {
                    self.field(f);
                }
            }
        }
        for (object, names) in [(left, lefts), (right, rights)] {
            if names.is_empty() {
                continue;
            }
            let fields = self.of(&object.system, &object.object);
            for name in names {
                if !fields.contains(&**name) {
                    fields.insert(model::Name::clone(name));
                }
            }
        }
    }

    fn object(&mut self, o: &model::ObjRef) {
        self.of(&o.system, &o.object);
    }

    fn path(&mut self, p: &model::ValuePath) {
        self.object(&p.root);
        for w in &p.walk {
            self.field(w);
        }
        self.field(&p.field);
    }

    /// Every touched object with its fields, sorted by system, then object (the order of
    /// [`model::ObjRef`]).
    fn objects(&self) -> Vec<(&model::Name, &model::Name, &HashSet<model::Name>)> {
        let mut out: Vec<_> = self
            .fields
            .iter()
            .flat_map(|(system, objects)| {
                objects
                    .iter()
                    .map(move |(object, fields)| (system, object, fields))
            })
            .collect();
        out.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        out
    }
}

fn system(s: &model::System) -> PlanSystem {
    let mut out = PlanSystem {
        alias: s.alias.clone(),
        kind: match s.kind {
            SystemKind::Salesforce => PlanSystemKind::Salesforce,
            SystemKind::ServiceNow => PlanSystemKind::Servicenow,
            SystemKind::Slack => PlanSystemKind::Slack,
        },
        url: None,
        auth: None,
        webhook_secret: None,
    };
    for setting in &s.decl.settings {
        match (setting.name.name.as_str(), &setting.value) {
            ("url", value) => out.url = setting_value(value),
            ("webhook_secret", ast::Expr::Env { var, .. }) => {
                out.webhook_secret = Some(EnvRef {
                    env: var.value.clone(),
                })
            }
            ("auth", ast::Expr::Func { name, args, .. }) => {
                out.auth = Some(PlanAuth {
                    scheme: String::from(name.name.as_str()),
                    params: args
                        .iter()
                        .filter_map(|a| {
                            // INVARIANT: a checked spec has only env() credentials; a literal
                            // that slipped through is dropped, never copied into the plan.
                            let value = match &a.value {
                                ast::Expr::Env { var, .. } => SettingValue::Env(EnvRef {
                                    env: var.value.clone(),
                                }),
                                _ => return None,
                            };
                            Some(AuthParam {
                                name: String::from(a.name.name.as_str()),
                                value,
                            })
                        })
                        .collect(),
                })
            }
            _ => {}
        }
    }
    out
}

fn setting_value(e: &ast::Expr) -> Option<SettingValue> {
    match e {
        ast::Expr::Env { var, .. } => Some(SettingValue::Env(EnvRef {
            env: var.value.clone(),
        })),
        ast::Expr::Literal(ast::Literal {
            kind: ast::LitKind::Str(s),
            ..
        }) => Some(SettingValue::Literal(s.value.clone())),
        _ => None,
    }
}

fn objects(model: &Model, touched: &Touched) -> Vec<PlanObject> {
    touched
        .objects()
        .into_iter()
        .filter_map(|(system, object, fields)| {
            let kind = model.kind(system)?;
            let def = model.catalog.object(kind, object)?;
            let fields: Vec<PlanField> = def
                .fields
                .iter()
                .filter(|f| fields.contains(f.name.as_str()))
                .map(|f| PlanField {
                    name: f.name.clone(),
                    ty: plan_type(&f.ty),
                    unique: f.unique || f.ty == FieldType::Id,
                    read_only: f.read_only,
                    derived_from: f.derived_from.clone(),
                })
                .collect();
            Some(PlanObject {
                system: String::from(&**system),
                object: String::from(&**object),
                custom: !def.standard || def.fields.iter().any(|f| !f.standard),
                fields,
            })
        })
        .collect()
}

pub(super) fn plan_type(t: &FieldType) -> PlanType {
    match t {
        FieldType::Text { max_len } => PlanType::Text { max_len: *max_len },
        FieldType::Number => PlanType::Number,
        FieldType::Bool => PlanType::Bool,
        FieldType::Datetime => PlanType::Datetime,
        FieldType::Id => PlanType::Id,
        FieldType::Ref { targets } => PlanType::Ref {
            targets: targets.clone(),
        },
        FieldType::Picklist { values } => PlanType::Picklist {
            values: values.clone(),
        },
    }
}

/// One mapping's write, as the ownership list sorts it: the rank of its source's object
/// ([`rank_objects`]), its source, its target, its link's name.
type Write<'m> = (u32, &'m model::FieldRef, &'m model::FieldRef, &'m str);

/// The plan's ownership list as views of the model: each entry what [`FieldOwnership`] holds,
/// serialised to the same JSON, with no name copied. `seam compile` writes the plan's
/// ownership from this ([`Plan::from_model_but_ownership`]).
pub struct OwnershipView<'m> {
    writes: Vec<Write<'m>>,
}

/// An entry of an [`OwnershipView`]: a source and the writes of it (at least one), in order.
pub struct OwnershipEntry<'v, 'm> {
    writes: &'v [Write<'m>],
}

impl<'m> OwnershipView<'m> {
    pub fn of(model: &'m Model) -> OwnershipView<'m> {
        OwnershipView {
            writes: sorted_writes(model),
        }
    }

    /// [`OwnershipView::of`] in an order computed before ([`OwnershipOrder::of`] the same
    /// model), with no sorting here: a pass over the mappings.
    pub fn in_order(model: &'m Model, order: &OwnershipOrder) -> OwnershipView<'m> {
        let writes = unsorted_writes(model);
        if order.0.len() != writes.len() {
            // Not this model's order: sort here.
            return OwnershipView::of(model);
        }
        let sorted = order
            .0
            .iter()
            .filter_map(|&i| writes.get(i as usize).copied())
            .collect();
        OwnershipView { writes: sorted }
    }

    /// The entries, in the order of the plan's `ownership`.
    pub fn entries(&self) -> Vec<OwnershipEntry<'_, 'm>> {
        let mut out = Vec::new();
        let mut rest = self.writes.as_slice();
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|w| w.1 == first.1).count();
            let (writes, after) = rest.split_at(n);
            out.push(OwnershipEntry { writes });
            rest = after;
        }
        out
    }
}

impl OwnershipEntry<'_, '_> {
    /// As the plan holds it.
    fn owned(&self) -> Option<FieldOwnership> {
        let source = self.writes.first()?.1;
        Some(FieldOwnership {
            field: field_path(source),
            owner: String::from(&*source.system),
            replicas: self
                .writes
                .iter()
                .map(|(_, _, target, link)| Replica {
                    field: field_path(target),
                    link: link.to_string(),
                })
                .collect(),
        })
    }
}

/// A [`FieldPath`]'s JSON from the model's names.
struct PathView<'m>(&'m model::FieldRef);

impl serde::Serialize for PathView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FieldPath", 3)?;
        st.serialize_field("system", &*self.0.system)?;
        st.serialize_field("object", &*self.0.object)?;
        st.serialize_field("field", &*self.0.field)?;
        st.end()
    }
}

/// A [`Replica`]'s JSON.
struct ReplicaView<'w, 'm>(&'w Write<'m>);

impl serde::Serialize for ReplicaView<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Replica", 2)?;
        st.serialize_field("field", &PathView(self.0 .2))?;
        st.serialize_field("link", self.0 .3)?;
        st.end()
    }
}

/// A [`FieldOwnership`]'s JSON (an entry always has a write; an empty one, which
/// [`OwnershipView::entries`] never makes, is `null`).
impl serde::Serialize for OwnershipEntry<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let Some(first) = self.writes.first() else {
            return s.serialize_unit();
        };
        let mut st = s.serialize_struct("FieldOwnership", 3)?;
        st.serialize_field("field", &PathView(first.1))?;
        st.serialize_field("owner", &*first.1.system)?;
        st.serialize_field("replicas", &Replicas(self.writes))?;
        st.end()
    }
}

struct Replicas<'w, 'm>(&'w [Write<'m>]);

impl serde::Serialize for Replicas<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ReplicaView))
    }
}

/// Every mapping source, its owner and its replicas, sorted by field; a field's replicas in
/// the order of the links and mappings that write them.
fn ownership(model: &Model) -> Vec<FieldOwnership> {
    OwnershipView::of(model)
        .entries()
        .iter()
        .filter_map(OwnershipEntry::owned)
        .collect()
}

/// Every mapping's write, sorted by source; a source's writes in the order of the links and
/// mappings that write them.
///
/// Sorted on the model's shared names (a stable sort keeps that order among equal sources),
/// so no string is made. The sort key is the rank of the source's object among the sources'
/// distinct objects (few: one per object a link reads) and then the field's name: one number
/// and, within an object, one name compared instead of three names. Ranks follow the order of
/// (system, object), and [`model::Name`] orders as its text, so this is the order of
/// [`FieldPath`].
fn sorted_writes(model: &Model) -> Vec<Write<'_>> {
    let mut writes = unsorted_writes(model);
    rank_objects(&mut writes);
    writes.sort_by(write_order);
    writes
}

fn write_order(a: &Write<'_>, b: &Write<'_>) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then_with(|| a.1.field.cmp(&b.1.field))
}

/// Every mapping's write in the model's order (ranks not set).
fn unsorted_writes(model: &Model) -> Vec<Write<'_>> {
    let mut writes: Vec<Write<'_>> =
        Vec::with_capacity(model.links.iter().map(|l| l.mappings.len()).sum());
    for l in &model.links {
        // The plan lists a link's left-to-right mappings before its right-to-left ones.
        let forward = l.mappings.iter().filter(|m| reads_left(l, m));
        let back = l.mappings.iter().filter(|m| !reads_left(l, m));
        for m in forward.chain(back) {
            writes.push((0, &m.source.node, &m.target.node, l.name.as_str()));
        }
    }
    writes
}

/// The order of a model's ownership list ([`OwnershipView`]) as positions in its mappings'
/// writes: it borrows nothing, so it can be sorted beside the checks and outlive the borrow
/// (`check_and_plan_parts`), and [`OwnershipView::in_order`] then only gathers the writes.
pub struct OwnershipOrder(Vec<u32>);

impl OwnershipOrder {
    pub fn of(model: &Model) -> OwnershipOrder {
        let mut writes = unsorted_writes(model);
        rank_objects(&mut writes);
        let Ok(n) = u32::try_from(writes.len()) else {
            // Too many to number: `in_order` sorts them itself.
            return OwnershipOrder(Vec::new());
        };
        let mut order: Vec<u32> = (0..n).collect();
        // A stable sort of positions by their writes' order is the writes' stable sort.
        order.sort_by(
            |&a, &b| match (writes.get(a as usize), writes.get(b as usize)) {
                (Some(a), Some(b)) => write_order(a, b),
                _ => std::cmp::Ordering::Equal,
            },
        );
        OwnershipOrder(order)
    }
}

/// Sets each write's first element to the rank of its source's object in the (system,
/// object) order of the sources' distinct objects. Consecutive writes mostly share an object
/// (a link's mappings), so the previous one's rank is reused when it does.
fn rank_objects(writes: &mut [Write<'_>]) {
    let mut ranks: HashMap<(&str, &str), u32> = HashMap::default();
    for w in writes.iter() {
        ranks.entry((&*w.1.system, &*w.1.object)).or_insert(0);
    }
    let mut objects: Vec<(&str, &str)> = ranks.keys().copied().collect();
    objects.sort_unstable();
    for (rank, object) in (0u32..).zip(&objects) {
        if let Some(r) = ranks.get_mut(object) {
            *r = rank;
        }
    }
    let mut last: Option<(&model::FieldRef, u32)> = None;
    for w in writes.iter_mut() {
        let source = w.1;
        let rank = match last {
            Some((prev, rank)) if prev.system == source.system && prev.object == source.object => {
                rank
            }
            _ => ranks
                .get(&(&*source.system, &*source.object))
                .copied()
                .unwrap_or(0),
        };
        w.0 = rank;
        last = Some((source, rank));
    }
}

// `String::from(&*name)`, not `name.to_string()`: an `Arc<str>` has no `ToString` shortcut,
// so `to_string` goes through `Display` and the formatter's padding, several times the cost
// of the copy, on every name of the plan.
fn field_path(f: &model::FieldRef) -> FieldPath {
    FieldPath {
        system: String::from(&*f.system),
        object: String::from(&*f.object),
        field: String::from(&*f.field),
    }
}

fn object_path(o: &model::ObjRef) -> ObjectPath {
    ObjectPath {
        system: String::from(&*o.system),
        object: String::from(&*o.object),
    }
}

/// A link of the plan; its mapping lists only if `with_mappings` (its touched fields always).
fn link(model: &Model, l: &model::Link, touched: &mut Touched, with_mappings: bool) -> PlanLink {
    touched.object(&l.left.node);
    touched.object(&l.right.node);
    let key = l.key.as_ref().map(|k| {
        touched.field(&k.left.node);
        touched.field(&k.right.node);
        LinkKey {
            left: field_path(&k.left.node),
            right: field_path(&k.right.node),
        }
    });
    let open = l
        .opens
        .iter()
        .map(|o| OpenRule {
            target: object_path(&o.target.node),
            when: condition(&o.condition, touched),
        })
        .collect();
    touched.link_fields(l);
    let (mut left_to_right, mut right_to_left) = (Vec::new(), Vec::new());
    if with_mappings {
        let forward = l.mappings.iter().filter(|m| reads_left(l, m)).count();
        left_to_right.reserve_exact(forward);
        right_to_left.reserve_exact(l.mappings.len() - forward);
    }
    for m in l.mappings.iter().filter(|_| with_mappings) {
        let pm = mapping(model, m);
        if reads_left(l, m) {
            left_to_right.push(pm);
        } else {
            right_to_left.push(pm);
        }
    }
    PlanLink {
        name: l.name.clone(),
        left: object_path(&l.left.node),
        right: object_path(&l.right.node),
        key,
        open,
        left_to_right,
        right_to_left,
    }
}

/// Whether a mapping of the link reads its left object (and so writes its right one).
fn reads_left(l: &model::Link, m: &model::Mapping) -> bool {
    m.source.node.system == l.left.node.system && m.source.node.object == l.left.node.object
}

fn mapping(model: &Model, m: &model::Mapping) -> PlanMapping {
    PlanMapping {
        source: field_path(&m.source.node),
        target: field_path(&m.target.node),
        value_map: m.map.as_ref().map(value_map),
        via: via(model, m),
    }
}

fn via(model: &Model, m: &model::Mapping) -> Option<IdentityTranslation> {
    let v = m.via.as_ref()?;
    let identity = model.identities.get(v.node)?;
    // The identity key on the source's side is read; the other side's is matched.
    let source_side_left = identity.left.node.system == m.source.node.system;
    let (source_key, target_key) = if source_side_left {
        (&identity.left.node, &identity.right.node)
    } else {
        (&identity.right.node, &identity.left.node)
    };
    Some(IdentityTranslation {
        identity: identity.name.clone(),
        source_key: field_path(source_key),
        target_key: field_path(target_key),
    })
}

/// A plan's parts that `seam compile` writes from the model rather than from the plan (whose
/// [`Plan::skeleton`] leaves them empty): the ownership list, and each link with its mapping
/// lists. Written, they are the bytes of the whole plan's (`Plan::write_pretty_with` and its
/// siblings).
#[derive(Clone, Copy)]
pub struct ModelParts<'a> {
    pub ownership: &'a [OwnershipEntry<'a, 'a>],
    pub links: &'a [LinkEntry<'a>],
}

/// A link of a [`Plan::skeleton`] with its mapping lists from the model: serialises as the
/// whole plan's [`PlanLink`].
pub struct LinkEntry<'a> {
    plan: &'a PlanLink,
    link: &'a model::Link,
    model: &'a Model,
}

impl<'a> LinkEntry<'a> {
    /// The entries of a skeleton's links (`links`, built from `model`, in its order).
    pub fn all(links: &'a [PlanLink], model: &'a Model) -> Vec<LinkEntry<'a>> {
        links
            .iter()
            .zip(&model.links)
            .map(|(plan, link)| LinkEntry { plan, link, model })
            .collect()
    }
}

impl serde::Serialize for LinkEntry<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let PlanLink {
            name,
            left,
            right,
            key,
            open,
            left_to_right: _,
            right_to_left: _,
        } = self.plan;
        let mut st = s.serialize_struct("PlanLink", 7)?;
        st.serialize_field("name", name)?;
        st.serialize_field("left", left)?;
        st.serialize_field("right", right)?;
        match key {
            Some(key) => st.serialize_field("key", key)?,
            None => st.skip_field("key")?,
        }
        st.serialize_field("open", open)?;
        st.serialize_field("left_to_right", &Mappings(self, true))?;
        st.serialize_field("right_to_left", &Mappings(self, false))?;
        st.end()
    }
}

/// A link's mappings that read its left object (`true`) or its right one, in source order.
struct Mappings<'e, 'a>(&'e LinkEntry<'a>, bool);

impl serde::Serialize for Mappings<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Mappings(entry, forward) = *self;
        s.collect_seq(
            entry
                .link
                .mappings
                .iter()
                .filter(|m| reads_left(entry.link, m) == forward)
                .map(|m| MappingView(entry.model, m)),
        )
    }
}

/// A [`PlanMapping`]'s JSON from the model: the paths from its names, a value map or an
/// identity translation (rare) made for the moment.
struct MappingView<'a>(&'a Model, &'a model::Mapping);

impl serde::Serialize for MappingView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let MappingView(model, m) = *self;
        let mut st = s.serialize_struct("PlanMapping", 4)?;
        st.serialize_field("source", &PathView(&m.source.node))?;
        st.serialize_field("target", &PathView(&m.target.node))?;
        match m.map.as_ref().map(value_map) {
            Some(map) => st.serialize_field("value_map", &map)?,
            None => st.skip_field("value_map")?,
        }
        match via(model, m) {
            Some(via) => st.serialize_field("via", &via)?,
            None => st.skip_field("via")?,
        }
        st.end()
    }
}

fn value_map(map: &ast::ValueMap) -> ValueMap {
    let mut out = ValueMap {
        arms: Vec::new(),
        default: None,
    };
    for arm in &map.arms {
        match &arm.pattern {
            ast::MapPattern::Value(v) => out.arms.push(MapArm {
                from: literal(v),
                to: literal(&arm.value),
            }),
            ast::MapPattern::Default(_) => out.default = Some(literal(&arm.value)),
        }
    }
    out
}

pub(super) fn literal(l: &ast::Literal) -> Literal {
    match &l.kind {
        ast::LitKind::Str(s) => Literal::String(s.value.clone()),
        ast::LitKind::Number(n) => Literal::Number(*n),
        ast::LitKind::Bool(b) => Literal::Bool(*b),
        ast::LitKind::Duration(d) => Literal::Duration(d.millis),
    }
}

fn condition(c: &model::Cond, touched: &mut Touched) -> Condition {
    match c {
        model::Cond::Compare {
            left, op, right, ..
        } => Condition::Compare {
            left: operand(left, touched),
            op: match op {
                ast::CmpOp::Eq => CompareOp::Eq,
                ast::CmpOp::Ne => CompareOp::Ne,
                ast::CmpOp::Lt => CompareOp::Lt,
                ast::CmpOp::Le => CompareOp::Le,
                ast::CmpOp::Gt => CompareOp::Gt,
                ast::CmpOp::Ge => CompareOp::Ge,
            },
            right: operand(right, touched),
        },
        model::Cond::In { left, list, .. } => Condition::In {
            left: operand(left, touched),
            values: list.iter().map(literal).collect(),
        },
        model::Cond::And(a, b) => {
            let mut conditions = Vec::new();
            flatten(a, true, &mut conditions, touched);
            flatten(b, true, &mut conditions, touched);
            Condition::All { conditions }
        }
        model::Cond::Or(a, b) => {
            let mut conditions = Vec::new();
            flatten(a, false, &mut conditions, touched);
            flatten(b, false, &mut conditions, touched);
            Condition::Any { conditions }
        }
        model::Cond::Not(a) => Condition::Not {
            condition: Box::new(condition(a, touched)),
        },
    }
}

/// Collects the operands of a chain of `and` (or of `or`) into one list.
fn flatten(c: &model::Cond, and: bool, out: &mut Vec<Condition>, touched: &mut Touched) {
    match (c, and) {
        (model::Cond::And(a, b), true) | (model::Cond::Or(a, b), false) => {
            flatten(a, and, out, touched);
            flatten(b, and, out, touched);
        }
        _ => out.push(condition(c, touched)),
    }
}

fn operand(o: &model::Operand, touched: &mut Touched) -> Operand {
    match o {
        model::Operand::Path(p) => Operand::Field {
            path: value_path(p, touched),
        },
        model::Operand::Metric(m) => Operand::Metric {
            metric: metric(m.node),
        },
        model::Operand::Literal(l) => Operand::Literal { value: literal(l) },
    }
}

fn metric(m: model::Metric) -> Metric {
    match m {
        model::Metric::DeadLetter => Metric::DeadLetter,
        model::Metric::Lag => Metric::Lag,
    }
}

fn value_path(p: &model::ValuePath, touched: &mut Touched) -> ValuePath {
    touched.path(p);
    ValuePath {
        root: object_path(&p.root),
        walk: p.walk.iter().map(field_path).collect(),
        field: field_path(&p.field),
    }
}

fn workflow(w: &model::Workflow, model: &Model, touched: &mut Touched) -> PlanWorkflow {
    let trigger = match &w.trigger {
        model::Trigger::Becomes { field, value } => {
            touched.field(&field.node);
            PlanTrigger::Becomes {
                field: field_path(&field.node),
                value: literal(value),
            }
        }
        model::Trigger::Changes { field } => {
            touched.field(&field.node);
            PlanTrigger::Changes {
                field: field_path(&field.node),
            }
        }
        model::Trigger::Created { object } => {
            touched.object(&object.node);
            PlanTrigger::Created {
                object: object_path(&object.node),
            }
        }
    };
    PlanWorkflow {
        name: w.name.clone(),
        trigger,
        guard: w.guard.as_ref().map(|g| condition(g, touched)),
        steps: w.steps.iter().map(|s| step(s, model, touched)).collect(),
    }
}

fn step(s: &model::Step, model: &Model, touched: &mut Touched) -> PlanStep {
    let link_name = |i: usize| {
        model
            .links
            .get(i)
            .map(|l| l.name.clone())
            .unwrap_or_default()
    };
    match s {
        model::Step::Open { target, link, .. } => PlanStep::Open {
            target: object_path(&target.node),
            link: link_name(*link),
        },
        model::Step::Create {
            object,
            assignments,
            ..
        } => {
            touched.object(&object.node);
            PlanStep::Create {
                object: object_path(&object.node),
                assignments: assignments.iter().map(|a| assignment(a, touched)).collect(),
            }
        }
        model::Step::Update {
            object,
            link,
            assignments,
            ..
        } => {
            touched.object(&object.node);
            PlanStep::Update {
                object: object_path(&object.node),
                link: link.map(link_name),
                assignments: assignments.iter().map(|a| assignment(a, touched)).collect(),
            }
        }
        model::Step::Action {
            binding,
            system,
            action,
            args,
            ..
        } => PlanStep::Action {
            bind: binding.as_ref().map(|b| b.node.clone()),
            system: system.clone(),
            action: action.clone(),
            args: args.iter().map(|a| arg(a, touched)).collect(),
        },
    }
}

fn assignment(a: &model::Assignment, touched: &mut Touched) -> PlanAssignment {
    touched.field(&a.field.node);
    PlanAssignment {
        field: field_path(&a.field.node),
        value: value(&a.value, touched),
    }
}

fn arg(a: &model::Arg, touched: &mut Touched) -> PlanArg {
    PlanArg {
        name: a.name.clone(),
        value: value(&a.value, touched),
    }
}

fn value(v: &model::Value, touched: &mut Touched) -> PlanValue {
    match v {
        model::Value::Literal(l) => PlanValue::Literal { value: literal(l) },
        model::Value::Template(t) => PlanValue::Template {
            parts: t
                .parts
                .iter()
                .map(|p| match p {
                    model::TemplatePart::Text(text) => TemplatePart::Text { text: text.clone() },
                    model::TemplatePart::Path(p) => TemplatePart::Field {
                        path: value_path(p, touched),
                    },
                    model::TemplatePart::Binding(b) => TemplatePart::Binding {
                        name: b.node.clone(),
                    },
                    model::TemplatePart::Metric(m) => TemplatePart::Metric {
                        metric: metric(m.node),
                    },
                })
                .collect(),
        },
        model::Value::Path(p) => PlanValue::Field {
            path: value_path(p, touched),
        },
        model::Value::Binding(b) => PlanValue::Binding {
            name: b.node.clone(),
        },
    }
}

fn policy(p: &model::Policy, touched: &mut Touched) -> PlanPolicy {
    PlanPolicy {
        retry: p.retry.as_ref().map(|r| RetryPolicy {
            attempts: r.attempts,
            backoff: r
                .backoff_ms
                .map(|(min_ms, max_ms)| Backoff { min_ms, max_ms }),
        }),
        dead_letter_after_retry: p.dead_letter_after_retry,
        alerts: p
            .alerts
            .iter()
            .map(|a| PlanAlert {
                system: a.system.clone(),
                action: a.action.clone(),
                args: a.args.iter().map(|x| arg(x, touched)).collect(),
                when: condition(&a.condition, touched),
            })
            .collect(),
        reconcile_every_ms: p.reconcile_every_ms,
    }
}
