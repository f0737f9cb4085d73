//! Lookups the per-platform catalogue tests share.

#![allow(clippy::panic)]

use super::{FieldDef, FieldType, ObjectDef};
use std::collections::HashMap;

/// A platform's objects by name.
pub fn by_name(objects: Vec<ObjectDef>) -> HashMap<String, ObjectDef> {
    objects.into_iter().map(|o| (o.name.clone(), o)).collect()
}

/// A field that must exist.
pub fn field<'a>(
    objects: &'a HashMap<String, ObjectDef>,
    object: &str,
    name: &str,
) -> &'a FieldDef {
    objects
        .get(object)
        .and_then(|o| o.field(name))
        .unwrap_or_else(|| panic!("{object}.{name} missing"))
}

/// The values of a field that must be a picklist (a choice list on ServiceNow).
pub fn values(f: &FieldDef) -> Vec<&str> {
    match &f.ty {
        FieldType::Picklist { values } => values.iter().map(String::as_str).collect(),
        other => panic!("{} is {}, not a picklist", f.name, other.describe()),
    }
}
