//! Rule 5: identity and link keys are stable — `id` or `unique` fields, never a display name.

use crate::catalog::FieldType;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{FieldRef, Model, Spanned};

pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for identity in &model.identities {
        for side in [&identity.left, &identity.right] {
            unstable(
                model,
                side,
                &format!("identity `{}`", identity.name),
                &mut out,
            );
        }
        if identity.left.node.system == identity.right.node.system {
            out.push(
                Diagnostic::error(
                    Code::IdentityUnstableKey,
                    format!(
                        "identity `{}` matches two keys of the same system `{}`",
                        identity.name, identity.left.node.system
                    ),
                    identity.right.span,
                )
                .with_label("same system as the left side")
                .with_help("an identity matches the same entity on two different systems"),
            );
        }
    }
    for link in &model.links {
        match &link.key {
            Some(key) => {
                unstable(model, &key.left, &format!("link `{}`", link.name), &mut out);
                unstable(model, &key.right, &format!("link `{}`", link.name), &mut out);
            }
            None => out.push(
                Diagnostic::error(
                    Code::IdentityUnstableKey,
                    format!("link `{}` has no `key`", link.name),
                    link.name_span,
                )
                .with_label("the pair cannot be remembered on the platforms")
                .with_help(format!(
                    "add `key {}.Id <-> {}.correlation_id` (or another id / unique field on each side)",
                    link.left.node, link.right.node
                )),
            ),
        }
    }
    out
}

fn unstable(model: &Model, field: &Spanned<FieldRef>, owner: &str, out: &mut Vec<Diagnostic>) {
    let Some(def) = model.field_def(&field.node) else {
        return;
    };
    if def.ty == FieldType::Id || def.unique {
        return;
    }
    out.push(
        Diagnostic::error(
            Code::IdentityUnstableKey,
            format!("{owner} is keyed on `{}`, which is not a stable key", field.node),
            field.span,
        )
        .with_label(format!("a {} field, neither `id` nor `unique`", def.ty.describe()))
        .with_help(format!(
            "match on an id or an external-id field: declare it `unique` (e.g. `object {} {{ {}: text unique }}`) if the platform enforces it, never on a display name",
            field.node.object_ref(),
            field.node.field
        )),
    );
}
