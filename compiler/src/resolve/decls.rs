//! Systems, objects (custom fields), identities, `own` blocks and the policy.

use super::workflows::Scope;
use super::{Lookup, Resolver};
use crate::catalog::{FieldDef, FieldType, IndexedObject, ObjectDef, SystemKind};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fx::HashMap;
use crate::fx::HashSet;
use crate::model::{Alert, CustomField, Identity, ObjRef, OwnClaim, Retry, System};
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{
    Expr, FieldDecl, IdentityDecl, ObjectDecl, OwnDecl, OwnField, PolicyDecl, PolicyItem,
    SystemDecl, TypeKind,
};

/// Settings a `system` block accepts, per kind.
fn known_settings(kind: SystemKind) -> &'static [&'static str] {
    match kind {
        SystemKind::Salesforce => &[
            "url",
            "auth",
            "webhook_secret",
            "api_version",
            "organization_id",
        ],
        SystemKind::ServiceNow => &["url", "auth", "webhook_secret"],
        SystemKind::Slack => &["url", "auth", "webhook_url"],
    }
}

/// Authentication forms per kind, with their arguments.
fn auth_forms(kind: SystemKind) -> &'static [(&'static str, &'static [&'static str])] {
    match kind {
        SystemKind::Salesforce => &[
            ("oauth_client_credentials", &["client_id", "client_secret"]),
            (
                "oauth_password",
                &["client_id", "client_secret", "username", "password"],
            ),
            ("oauth_jwt", &["client_id", "username", "private_key"]),
        ],
        SystemKind::ServiceNow => &[
            ("basic", &["user", "password"]),
            (
                "oauth_password",
                &["client_id", "client_secret", "username", "password"],
            ),
            ("oauth_client_credentials", &["client_id", "client_secret"]),
        ],
        SystemKind::Slack => &[("bearer", &["token"])],
    }
}

impl Resolver {
    pub(crate) fn system(&mut self, decl: &SystemDecl) {
        if self.model.system(&decl.alias.name).is_some() {
            let first = self
                .model
                .system(&decl.alias.name)
                .map(|s| s.decl.alias.span)
                .unwrap_or_default();
            self.error(
                Diagnostic::error(
                    Code::NameDuplicate,
                    format!("system `{}` is declared twice", decl.alias.name),
                    decl.alias.span,
                )
                .with_label("declared again here")
                .with_secondary(first, "first declared here")
                .with_help("give each system its own alias"),
            );
            return;
        }
        let Some(kind) = SystemKind::from_name(&decl.kind.name) else {
            let help = did_you_mean(&decl.kind.name, SystemKind::ALL.map(|k| k.as_str()))
                .unwrap_or_else(|| "the kinds are `salesforce`, `servicenow` and `slack`".into());
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!("unknown system kind `{}`", decl.kind.name),
                    decl.kind.span,
                )
                .with_label("not a kind seam connects to")
                .with_help(help),
            );
            return;
        };
        let mut seen = HashMap::default();
        for setting in &decl.settings {
            if !self.unique_name("setting", &setting.name, &mut seen) {
                continue;
            }
            let known = known_settings(kind);
            if !known.contains(&setting.name.name.as_str()) {
                let help =
                    did_you_mean(&setting.name.name, known.iter().copied()).unwrap_or_else(|| {
                        format!("a {} system takes {}", kind.as_str(), backticked(known))
                    });
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!(
                            "unknown setting `{}` for a {} system",
                            setting.name.name,
                            kind.as_str()
                        ),
                        setting.name.span,
                    )
                    .with_label("not a setting")
                    .with_help(help),
                );
            } else if setting.name.name == "auth" {
                self.auth(kind, &setting.value);
            }
        }
        self.model.add_system(System {
            alias: String::from(decl.alias.name.as_str()),
            kind,
            decl: decl.clone(),
        });
    }

    fn auth(&mut self, kind: SystemKind, value: &Expr) {
        let forms = auth_forms(kind);
        let Expr::Func { name, args, span } = value else {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    "expected an authentication form",
                    value.span(),
                )
                .with_label("not an authentication form")
                .with_help(format!(
                    "a {} system authenticates with {}",
                    kind.as_str(),
                    forms
                        .iter()
                        .map(|(n, a)| format!("`{n}({})`", a.join(", ")))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )),
            );
            return;
        };
        let Some((_, params)) = forms.iter().find(|(n, _)| *n == name.name) else {
            let help =
                did_you_mean(&name.name, forms.iter().map(|(n, _)| *n)).unwrap_or_else(|| {
                    format!(
                        "a {} system authenticates with {}",
                        kind.as_str(),
                        backticked(&forms.iter().map(|(n, _)| *n).collect::<Vec<_>>())
                    )
                });
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!(
                        "unknown authentication `{}` for a {} system",
                        name.name,
                        kind.as_str()
                    ),
                    name.span,
                )
                .with_label("not an authentication form")
                .with_help(help),
            );
            return;
        };
        for arg in args {
            if !params.contains(&arg.name.name.as_str()) {
                let help = did_you_mean(&arg.name.name, params.iter().copied())
                    .unwrap_or_else(|| format!("`{}` takes {}", name.name, backticked(params)));
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("unknown argument `{}` of `{}`", arg.name.name, name.name),
                        arg.name.span,
                    )
                    .with_label("not an argument of this form")
                    .with_help(help),
                );
            }
        }
        let missing: Vec<&str> = params
            .iter()
            .copied()
            .filter(|p| !args.iter().any(|a| a.name.name == *p))
            .collect();
        if !missing.is_empty() {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!("`{}` is missing {}", name.name, backticked(&missing)),
                    *span,
                )
                .with_label("incomplete authentication")
                .with_help(format!(
                    "write `{}({})`, each value as `env(\"VAR\")`",
                    name.name,
                    params
                        .iter()
                        .map(|p| format!("{p} = ..."))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }

    /// Every `object` block, in order. The fields of different objects do not depend on each
    /// other, so on a large spec each object's fields are resolved by [`Lookup::object_fields`]
    /// (on two threads, see [`Resolver::each`]) and the objects recorded here in file order;
    /// what a block needs from the blocks before it (a duplicate, an unknown object's
    /// suggestions) is decided here, by [`Resolver::object`]. When two blocks would extend the
    /// same catalogue object (two aliases of one platform), every block goes through
    /// [`Resolver::object`] in order instead.
    pub(crate) fn objects<'a>(&mut self, decls: &[&'a ObjectDecl]) {
        let mut seen = HashMap::default();
        // At most one custom field per declared field: the list no longer grows by doubling
        // (each doubling copied it to memory touched for the first time).
        let declared: usize = decls.iter().map(|d| d.fields.len()).sum();
        self.model.custom_fields.reserve(declared);
        // Per block, the platform when its fields can be resolved on their own.
        let mut keys = HashSet::default();
        let mut catalogue_keys = HashSet::default();
        let mut shared = false;
        let mut alone = |decl: &'a ObjectDecl| {
            let kind = self.model.kind(&decl.system.name)?;
            let object = decl.object.name.as_str();
            if !keys.insert((decl.system.name.as_str(), object)) {
                return None;
            }
            shared |= !catalogue_keys.insert((kind, object));
            let known = self.model.catalog.object(kind, object).is_some();
            (known || (kind != SystemKind::Slack && kind.is_custom_name(object))).then_some(kind)
        };
        let alone: Vec<(&'a ObjectDecl, Option<SystemKind>)> =
            decls.iter().map(|&decl| (decl, alone(decl))).collect();
        if shared {
            for decl in decls {
                self.object(decl, &mut seen);
            }
            return;
        }
        let resolved = self.each(
            &alone,
            |(decl, _)| decl.fields.len() + 1,
            0,
            |lookup, &(decl, kind)| kind.map(|kind| lookup.object_fields(decl, kind)),
        );
        for ((decl, kind), (fields, diagnostics)) in alone.into_iter().zip(resolved) {
            match (kind, fields) {
                (Some(kind), Some((def, custom))) => {
                    seen.insert(
                        (
                            String::from(decl.system.name.as_str()),
                            String::from(decl.object.name.as_str()),
                        ),
                        decl.object.span,
                    );
                    self.diagnostics.extend(diagnostics);
                    self.model.catalog.insert_indexed(kind, def);
                    self.model.custom_fields.extend(custom);
                }
                _ => self.object(decl, &mut seen),
            }
        }
    }

    pub(crate) fn object(&mut self, decl: &ObjectDecl, seen: &mut HashMap<(String, String), Span>) {
        let Some(kind) = self.lookup().lookup_system(&decl.system) else {
            return;
        };
        let key = (
            String::from(decl.system.name.as_str()),
            String::from(decl.object.name.as_str()),
        );
        if let Some(&first) = seen.get(&key) {
            self.error(
                Diagnostic::error(
                    Code::NameDuplicate,
                    format!("object `{}.{}` is declared twice", key.0, key.1),
                    decl.object.span,
                )
                .with_label("second block")
                .with_secondary(first, "first declared here")
                .with_help("declare all of an object's fields in one `object` block"),
            );
            return;
        }
        seen.insert(key, decl.object.span);
        let obj = ObjRef {
            system: self.names.get(&decl.system.name),
            object: self.names.get(&decl.object.name),
        };
        if self.model.catalog.object(kind, &obj.object).is_none() {
            if kind == SystemKind::Slack || !kind.is_custom_name(&obj.object) {
                self.lookup().lookup_object(&decl.system, &decl.object);
                return;
            }
            self.model
                .catalog
                .insert(kind, new_object(kind, &obj.object));
        }
        let mut fields_seen = HashMap::default();
        for field in &decl.fields {
            if !self.unique_name("field", &field.name, &mut fields_seen) {
                continue;
            }
            let ty = convert_type(&field.ty.kind);
            let existing = self
                .model
                .catalog
                .field(kind, &obj.object, &field.name.name)
                .cloned();
            match existing {
                Some(std) if std.standard => {
                    if let (FieldType::Picklist { .. }, FieldType::Picklist { .. }) = (&std.ty, &ty)
                    {
                        self.model
                            .catalog
                            .put_field(kind, &obj.object, FieldDef { ty, ..std });
                    } else {
                        self.error(standard_redeclared(kind, &obj, field, &std));
                    }
                }
                _ if !kind.is_custom_name(&field.name.name) => {
                    let def = self.model.catalog.object(kind, &obj.object);
                    self.error(not_custom(kind, &obj, field, def));
                }
                _ => {
                    let def = custom_field(kind, field, ty);
                    self.model.catalog.put_field(kind, &obj.object, def);
                    self.model.custom_fields.push(CustomField {
                        field: obj.field(self.names.get(&field.name.name)),
                        span: field.name.span,
                    });
                }
            }
        }
    }

    /// Second pass over `object` blocks, once every object exists: `ref(...)` targets and
    /// `from(...)` derivations.
    pub(crate) fn object_derivations(&mut self, decl: &ObjectDecl) {
        let Some(kind) = self.model.kind(&decl.system.name) else {
            return;
        };
        if self.model.catalog.object(kind, &decl.object.name).is_none() {
            return;
        }
        for field in &decl.fields {
            if let TypeKind::Ref(target) = &field.ty.kind {
                if self.model.catalog.object(kind, &target.name).is_none() {
                    self.lookup().lookup_object(&decl.system, target);
                }
            }
            let Some(from) = &field.derived_from else {
                continue;
            };
            let obj = ObjRef {
                system: self.names.get(&decl.system.name),
                object: self.names.get(&decl.object.name),
            };
            let mut inputs = Vec::new();
            for input in from {
                if self.lookup().lookup_field(&obj, input).is_some() {
                    inputs.push(String::from(input.name.as_str()));
                }
            }
            if let Some(mut def) = self
                .model
                .catalog
                .field(kind, &obj.object, &field.name.name)
                .cloned()
            {
                def.derived_from = inputs;
                def.read_only = true;
                self.model.catalog.put_field(kind, &obj.object, def);
            }
        }
    }

    pub(crate) fn identity(&mut self, decl: &IdentityDecl) {
        if self.identity_index.contains_key(decl.name.name.as_str()) {
            let first = self
                .identity_index
                .get(decl.name.name.as_str())
                .and_then(|&i| self.model.identities.get(i))
                .map(|i| i.name_span)
                .unwrap_or_default();
            self.error(
                Diagnostic::error(
                    Code::NameDuplicate,
                    format!("identity `{}` is declared twice", decl.name.name),
                    decl.name.span,
                )
                .with_label("declared again here")
                .with_secondary(first, "first declared here")
                .with_help("rename one of them: identity names are unique in a file"),
            );
            return;
        }
        let left = self.lookup().field_path(&decl.left, "identity keys");
        let right = self.lookup().field_path(&decl.right, "identity keys");
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        self.identity_index.insert(
            String::from(decl.name.name.as_str()),
            self.model.identities.len(),
        );
        self.model.identities.push(Identity {
            name: String::from(decl.name.name.as_str()),
            name_span: decl.name.span,
            left,
            right,
            span: decl.span,
        });
    }

    pub(crate) fn policy(&mut self, decl: &PolicyDecl) {
        let mut retry_span: Option<Span> = None;
        for item in &decl.items {
            match item {
                PolicyItem::Retry {
                    attempts,
                    backoff,
                    span,
                    ..
                } => {
                    if let Some(first) = retry_span {
                        self.error(
                            Diagnostic::error(Code::NameDuplicate, "`retry` is set twice", *span)
                                .with_label("set again here")
                                .with_secondary(first, "first set here")
                                .with_help(
                                    "keep one `retry = N attempts, backoff MIN .. MAX` line",
                                ),
                        );
                        continue;
                    }
                    retry_span = Some(*span);
                    self.model.policy.retry = Some(Retry {
                        attempts: *attempts,
                        backoff_ms: backoff.as_ref().map(|(a, b)| (a.millis, b.millis)),
                        span: *span,
                    });
                }
                PolicyItem::DeadLetter { .. } => self.model.policy.dead_letter_after_retry = true,
                PolicyItem::Reconcile { every, .. } => {
                    self.model.policy.reconcile_every_ms = Some(every.millis)
                }
                PolicyItem::Alert {
                    call,
                    condition,
                    span,
                } => {
                    let mut scope = Scope::for_alerts();
                    let action = self.lookup().action(&mut scope, call);
                    let condition = self.lookup().condition(&mut scope, condition);
                    if let (Some((system, action, args)), Some(condition)) = (action, condition) {
                        self.model.policy.alerts.push(Alert {
                            system,
                            action,
                            args,
                            condition,
                            span: *span,
                        });
                    }
                }
                PolicyItem::Unknown(setting) => {
                    let known = ["retry", "dead_letter", "alert", "reconcile"];
                    let help = did_you_mean(&setting.name.name, known)
                        .unwrap_or_else(|| format!("the policy takes {}", backticked(&known)));
                    self.error(
                        Diagnostic::error(
                            Code::NameUnknown,
                            format!("unknown policy setting `{}`", setting.name.name),
                            setting.name.span,
                        )
                        .with_label("not a policy setting")
                        .with_help(help),
                    );
                }
            }
        }
    }
}

impl Lookup<'_> {
    /// The fields of an `object` block that is not a duplicate, of an object that exists or
    /// may be created: the object as the block leaves it, and its custom fields. What
    /// [`Resolver::object`] does to the catalogue, field by field, done on a copy of the
    /// object (with the same diagnostics, in the same order).
    pub(crate) fn object_fields(
        &mut self,
        decl: &ObjectDecl,
        kind: SystemKind,
    ) -> (IndexedObject, Vec<CustomField>) {
        let model = self.model;
        let obj = ObjRef {
            system: self.names.get(&decl.system.name),
            object: self.names.get(&decl.object.name),
        };
        // Built with its indexes, as the catalogue holds it, so that the resolving thread only
        // moves it in (it indexed every field again: at 100,000 mappings, 200,000 name copies
        // and inserts on the serial path).
        let mut def = match model.catalog.indexed(kind, &obj.object) {
            Some(def) => def.clone(),
            None => IndexedObject::new(new_object(kind, &obj.object)),
        };
        // Sized for every declared field at once: a large object grew its field list (and
        // maps) by doubling, copying and leaving up to half of each unused.
        let declared = decl.fields.len();
        def.reserve(declared);
        let mut custom = Vec::with_capacity(declared);
        let mut fields_seen: HashMap<&str, Span> = HashMap::default();
        fields_seen.reserve(declared);
        for field in &decl.fields {
            let name = field.name.name.as_str();
            if let Some(&first) = fields_seen.get(name) {
                self.error(super::duplicate_name("field", &field.name, first));
                continue;
            }
            fields_seen.insert(name, field.name.span);
            let ty = convert_type(&field.ty.kind);
            let existing = def.field(name);
            match existing {
                Some(std) if std.standard => {
                    if let (FieldType::Picklist { .. }, FieldType::Picklist { .. }) = (&std.ty, &ty)
                    {
                        let replaced = FieldDef { ty, ..std.clone() };
                        def.put_field(replaced);
                    } else {
                        let d = standard_redeclared(kind, &obj, field, std);
                        self.error(d);
                    }
                }
                _ if !kind.is_custom_name(name) => {
                    let d = not_custom(kind, &obj, field, Some(def.def()));
                    self.error(d);
                }
                _ => {
                    def.put_field(custom_field(kind, field, ty));
                    custom.push(CustomField {
                        field: obj.field(self.names.get(name)),
                        span: field.name.span,
                    });
                }
            }
        }
        (def, custom)
    }

    /// The claims of an `own` block, in order.
    pub(crate) fn own(&mut self, decl: &OwnDecl) -> Vec<OwnClaim> {
        let mut claims = Vec::new();
        if self.lookup_system(&decl.system).is_none() {
            return claims;
        }
        for entry in &decl.entries {
            let Some(obj) = self.lookup_object(&decl.system, &entry.object) else {
                continue;
            };
            match &entry.field {
                OwnField::Named(field) => {
                    if let Some(field) = self.lookup_field(&obj, field) {
                        claims.push(OwnClaim {
                            field,
                            span: entry.span,
                            star: false,
                        });
                    }
                }
                OwnField::All(_) => {
                    let kind = self.model.kind(&obj.system);
                    let names: Vec<String> = kind
                        .and_then(|k| self.model.catalog.object(k, &obj.object))
                        .map(|o| o.fields.iter().map(|f| f.name.clone()).collect())
                        .unwrap_or_default();
                    for name in names {
                        claims.push(OwnClaim {
                            field: obj.field(self.names.get(&name)),
                            span: entry.span,
                            star: true,
                        });
                    }
                }
            }
        }
        claims
    }

    pub(crate) fn identity_by_name(&mut self, name: &crate::syntax::ast::Ident) -> Option<usize> {
        if let Some(&i) = self.identity_index.get(name.name.as_str()) {
            self.mentions
                .identities
                .insert(String::from(name.name.as_str()));
            return Some(i);
        }
        let names: Vec<String> = self
            .model
            .identities
            .iter()
            .map(|i| i.name.clone())
            .collect();
        let near = crate::suggest::nearest(&name.name, names.iter().map(String::as_str));
        // The identity the author most likely meant is not also reported as unused.
        if let Some(near) = near {
            self.mentions.identities.insert(near.to_string());
        }
        let help =
            did_you_mean(&name.name, names.iter().map(String::as_str)).unwrap_or_else(|| {
                format!(
                    "declare it: `identity {} = sf.Account.Key__c <-> snow.core_company.u_key`",
                    name.name
                )
            });
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("unknown identity `{}`", name.name),
                name.span,
            )
            .with_label("no `identity` has this name")
            .with_help(help),
        );
        None
    }
}

/// A custom object as a block creates it: its id field only.
fn new_object(kind: SystemKind, name: &str) -> ObjectDef {
    ObjectDef {
        name: name.to_string(),
        label: name.to_string(),
        key_prefix: None,
        auto_number: None,
        fields: vec![FieldDef::new(kind.id_field(), "Record ID", FieldType::Id).read_only()],
        standard: false,
    }
}

/// A declared custom field's catalogue entry.
fn custom_field(kind: SystemKind, field: &FieldDecl, ty: FieldType) -> FieldDef {
    let mut def = FieldDef::new(&field.name.name, &field.name.name, ty);
    def.standard = false;
    def.unique = field.unique.is_some();
    if let TypeKind::Ref(target) = &field.ty.kind {
        def.relationship = Some(relationship_name(kind, &field.name.name, &target.name));
    }
    def
}

fn standard_redeclared(
    kind: SystemKind,
    obj: &ObjRef,
    field: &FieldDecl,
    std: &FieldDef,
) -> Diagnostic {
    Diagnostic::error(
        Code::NameDuplicate,
        format!(
            "`{obj}.{}` is a standard field and cannot be redeclared",
            field.name.name
        ),
        field.name.span,
    )
    .with_label(format!("already a {} field of `{obj}`", std.ty.describe()))
    .with_help(custom_hint(kind, &field.name.name))
}

/// A field that is neither a standard field of `def` nor named as a custom field.
fn not_custom(
    kind: SystemKind,
    obj: &ObjRef,
    field: &FieldDecl,
    def: Option<&ObjectDef>,
) -> Diagnostic {
    let help = def
        .and_then(|o| did_you_mean(&field.name.name, o.fields.iter().map(|f| f.name.as_str())))
        .unwrap_or_else(|| custom_hint(kind, &field.name.name));
    Diagnostic::error(
        Code::NameUnknown,
        format!("unknown field `{obj}.{}`", field.name.name),
        field.name.span,
    )
    .with_label(format!(
        "neither a standard field of `{obj}` nor a custom name"
    ))
    .with_help(help)
}

pub(crate) fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn convert_type(kind: &TypeKind) -> FieldType {
    match kind {
        TypeKind::Text(n) => FieldType::Text { max_len: *n },
        TypeKind::Number => FieldType::Number,
        TypeKind::Bool => FieldType::Bool,
        TypeKind::Datetime => FieldType::Datetime,
        TypeKind::Id => FieldType::Id,
        TypeKind::Ref(target) => FieldType::reference(&target.name),
        TypeKind::Picklist(values) => FieldType::Picklist {
            values: values.iter().map(|v| v.value.clone()).collect(),
        },
    }
}

/// How a path walks a custom reference: Salesforce `X__c` -> `X__r`; ServiceNow by field name.
fn relationship_name(kind: SystemKind, field: &str, _target: &str) -> String {
    match (kind, field.strip_suffix("__c")) {
        (SystemKind::Salesforce, Some(stem)) => format!("{stem}__r"),
        _ => field.to_string(),
    }
}

fn custom_hint(kind: SystemKind, name: &str) -> String {
    match kind {
        SystemKind::Salesforce => format!(
            "custom Salesforce fields end in `__c` (e.g. `{name}__c`); a standard field may only be redeclared to replace its picklist values"
        ),
        SystemKind::ServiceNow => format!(
            "custom ServiceNow fields start with `u_` (e.g. `u_{name}`); a standard field may only be redeclared to replace its choice values"
        ),
        SystemKind::Slack => "slack systems have no objects".into(),
    }
}
