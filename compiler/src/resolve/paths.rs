//! Looking up systems, objects, fields and walked paths, with "did you mean" suggestions.

use super::Lookup;
use crate::catalog::{FieldType, SystemKind};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{FieldRef, ObjRef, Spanned, ValuePath};
use crate::suggest::{did_you_mean, nearest};
use crate::syntax::ast::{Ident, Path};

impl Lookup<'_> {
    pub(crate) fn lookup_system(&mut self, alias: &Ident) -> Option<SystemKind> {
        if let Some(kind) = self.model.kind(&alias.name) {
            return Some(kind);
        }
        let aliases: Vec<String> = self.model.systems.iter().map(|s| s.alias.clone()).collect();
        let help =
            did_you_mean(&alias.name, aliases.iter().map(String::as_str)).unwrap_or_else(|| {
                format!(
                    "declare it with `system {}: salesforce {{ ... }}` (or `servicenow`, `slack`)",
                    alias.name
                )
            });
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("unknown system `{}`", alias.name),
                alias.span,
            )
            .with_label("no `system` declares this alias")
            .with_help(help),
        );
        None
    }

    pub(crate) fn lookup_object(&mut self, system: &Ident, object: &Ident) -> Option<ObjRef> {
        let recent = self
            .recent
            .iter()
            .flatten()
            .find(|o| *o.object == *object.name.as_str() && *o.system == *system.name.as_str());
        if let Some(found) = recent {
            return Some(found.clone());
        }
        let kind = self.lookup_system(system)?;
        if self.model.catalog.object(kind, &object.name).is_some() {
            let found = ObjRef {
                system: self.names.get(&system.name),
                object: self.names.get(&object.name),
            };
            self.recent.rotate_right(1);
            if let Some(slot) = self.recent.first_mut() {
                *slot = Some(found.clone());
            }
            return Some(found);
        }
        let names = self.model.catalog.object_names(kind);
        let help = did_you_mean(&object.name, names.iter().copied()).unwrap_or_else(|| {
            match kind {
                SystemKind::Slack => "slack systems have no objects; use its actions (`create_channel`, `post`, `invite`) in workflow steps".to_string(),
                _ => format!(
                    "custom objects are declared with an `object {}.{} {{ ... }}` block",
                    system.name, object.name
                ),
            }
        });
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("unknown object `{}.{}`", system.name, object.name),
                object.span,
            )
            .with_label(format!("not an object of {}", kind.as_str()))
            .with_help(help),
        );
        None
    }

    pub(crate) fn lookup_field(&mut self, object: &ObjRef, field: &Ident) -> Option<FieldRef> {
        let kind = self.model.kind(&object.system)?;
        if self
            .model
            .catalog
            .field(kind, &object.object, &field.name)
            .is_some()
        {
            let found = object.field(self.names.get(&field.name));
            self.mentions.fields.insert(found.clone());
            return Some(found);
        }
        let near = self
            .model
            .catalog
            .object(kind, &object.object)
            .and_then(|o| nearest(&field.name, o.fields.iter().map(|f| f.name.as_str())))
            .map(str::to_string);
        // The field the author most likely meant counts as mentioned: a typo in its name must
        // not also report it as unused.
        if let Some(near) = &near {
            let near = self.names.get(near);
            self.mentions.fields.insert(object.field(near));
        }
        let help = near
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| custom_field_help(kind, object, &field.name));
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("unknown field `{}.{}`", object, field.name),
                field.span,
            )
            .with_label(format!("`{object}` has no such field"))
            .with_help(help),
        );
        None
    }

    /// `SYS.Object`
    pub(crate) fn object_path(&mut self, path: &Path) -> Option<Spanned<ObjRef>> {
        match path.segments.as_slice() {
            [system, object] => self.lookup_object(system, object).map(|node| Spanned {
                node,
                span: path.span,
            }),
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!(
                            "expected an object `system.Object`, found `{}`",
                            path_text(path)
                        ),
                        path.span,
                    )
                    .with_label("not an object")
                    .with_help(
                        "name the object with its system alias, e.g. `sf.Case` or `snow.incident`",
                    ),
                );
                None
            }
        }
    }

    /// `SYS.Object.field` with no walk (mappings, keys, identities, triggers).
    pub(crate) fn field_path(&mut self, path: &Path, what: &str) -> Option<Spanned<FieldRef>> {
        match path.segments.as_slice() {
            [system, object, field] => {
                let obj = self.lookup_object(system, object)?;
                self.lookup_field(&obj, field).map(|node| Spanned {
                    node,
                    span: path.span,
                })
            }
            [system, object, _, _, ..] => {
                // Resolve the start so a typo there is reported as such.
                self.lookup_object(system, object)?;
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("{what} cannot walk a reference: `{}`", path_text(path)),
                        path.span,
                    )
                    .with_label("walks through a reference")
                    .with_help(format!(
                        "{what} name a field of the object itself (`system.Object.field`); walks are allowed in conditions, templates and step values"
                    )),
                );
                None
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!(
                            "expected a field `system.Object.field`, found `{}`",
                            path_text(path)
                        ),
                        path.span,
                    )
                    .with_label("not a field")
                    .with_help("name the field with its system and object, e.g. `sf.Case.Subject`"),
                );
                None
            }
        }
    }

    /// `SYS.Object.field` or `SYS.Object.Rel.field...`: reads a value, walking references.
    pub(crate) fn value_path(&mut self, path: &Path) -> Option<ValuePath> {
        let [system, object, rest @ ..] = path.segments.as_slice() else {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!(
                        "expected a field `system.Object.field`, found `{}`",
                        path_text(path)
                    ),
                    path.span,
                )
                .with_label("not a field")
                .with_help("name the field with its system and object, e.g. `sf.Case.Subject`"),
            );
            return None;
        };
        let root = self.lookup_object(system, object)?;
        let kind = self.model.kind(&root.system)?;
        let Some((last, walks)) = rest.split_last() else {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!("`{}` names an object, not a field", path_text(path)),
                    path.span,
                )
                .with_label("expected a field after the object")
                .with_help(format!(
                    "add the field, e.g. `{}.{}.Id`",
                    system.name, object.name
                )),
            );
            return None;
        };
        let mut current = root.clone();
        let mut walk = Vec::new();
        for step in walks {
            let reference = self.walk(kind, &current, step)?;
            let target = match &self.model.field_type(&reference) {
                Some(FieldType::Ref { targets }) => targets.first().cloned(),
                _ => None,
            }?;
            walk.push(reference);
            current = ObjRef {
                system: current.system.clone(),
                object: self.names.get(&target),
            };
        }
        let field = self.lookup_field(&current, last)?;
        let ty = self.model.field_type(&field)?.clone();
        Some(ValuePath {
            root,
            walk,
            field,
            ty,
            span: path.span,
        })
    }

    /// One step of a walk: the reference field behind a relationship name.
    fn walk(&mut self, kind: SystemKind, from: &ObjRef, step: &Ident) -> Option<FieldRef> {
        if let Some(def) = self
            .model
            .catalog
            .relationship(kind, &from.object, &step.name)
        {
            if let FieldType::Ref { targets } = &def.ty {
                if targets.len() == 1 {
                    let reference = from.field(self.names.get(&def.name));
                    self.mentions.fields.insert(reference.clone());
                    return Some(reference);
                }
                let name = def.name.clone();
                let targets = targets.join(", ");
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("`{from}.{}` is polymorphic and cannot be walked", step.name),
                        step.span,
                    )
                    .with_label(format!("`{name}` may point to {targets}"))
                    .with_help("read the id itself, or walk from the record type you expect"),
                );
                return None;
            }
        }
        let candidates: Vec<String> = self
            .model
            .catalog
            .object(kind, &from.object)
            .map(|o| {
                o.fields
                    .iter()
                    .filter_map(|f| f.relationship.clone())
                    .collect()
            })
            .unwrap_or_default();
        let is_field = self
            .model
            .catalog
            .field(kind, &from.object, &step.name)
            .is_some();
        let help = if is_field {
            format!(
                "`{}` is a field, not a relationship: walk a reference by its relationship name{}",
                step.name,
                did_you_mean(&step.name, candidates.iter().map(String::as_str))
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )
        } else {
            did_you_mean(&step.name, candidates.iter().map(String::as_str)).unwrap_or_else(|| {
                "walk a reference by its relationship name (Salesforce `AccountId` -> `Account`, `X__c` -> `X__r`; ServiceNow uses the field's name)".to_string()
            })
        };
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("unknown relationship `{}` on `{from}`", step.name),
                step.span,
            )
            .with_label("not a reference that can be walked")
            .with_help(help),
        );
        None
    }
}

fn custom_field_help(kind: SystemKind, object: &ObjRef, field: &str) -> String {
    match kind {
        SystemKind::Salesforce if !field.ends_with("__c") => format!(
            "custom Salesforce fields end in `__c`; declare it in `object {object} {{ {field}__c: text }}`"
        ),
        SystemKind::ServiceNow if !(field.starts_with("u_") || field.starts_with("x_")) => format!(
            "custom ServiceNow fields start with `u_`; declare it in `object {object} {{ u_{field}: text }}`"
        ),
        _ => format!("declare it in an `object {object} {{ ... }}` block"),
    }
}

pub(crate) fn path_text(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}
