//! Where the served objects come from: the compiler's built-in catalogue, extended by custom
//! fields and objects from a JSON file (`--schema FILE`) or, later, a `.seam` spec.
//!
//! The JSON file's shape (every key optional except `name` and `type`):
//!
//! ```json
//! {
//!   "salesforce": {
//!     "Case": {"fields": [
//!       {"name": "Incident_Number__c", "type": "text", "max_len": 40, "unique": true},
//!       {"name": "Severity__c", "type": "picklist", "values": ["Sev1", "Sev2"], "required": false}
//!     ]},
//!     "Widget__c": {"label": "Widget", "key_prefix": "a01", "fields": [
//!       {"name": "Account__c", "type": "ref", "targets": ["Account"]}
//!     ]}
//!   },
//!   "servicenow": {
//!     "incident": {"fields": [{"name": "u_sf_case_id", "type": "text", "max_len": 18}]},
//!     "u_widget": {"auto_number": ["number", "WID{0000000}"], "fields": []}
//!   }
//! }
//! ```
//!
//! Types: `text` (`max_len`), `number`, `bool`, `datetime`, `id`, `ref` (`targets`),
//! `picklist` (`values`). Flags: `unique`, `required`, `read_only`. Fields of an object that
//! exists are added (or replace the field of the same name); an unknown object is created.

use crate::Error;
use seam_compiler::catalog::{Catalog, FieldDef, FieldType, ObjectDef, SystemKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    #[serde(default)]
    salesforce: BTreeMap<String, ObjectSpec>,
    #[serde(default)]
    servicenow: BTreeMap<String, ObjectSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectSpec {
    label: Option<String>,
    key_prefix: Option<String>,
    auto_number: Option<(String, String)>,
    #[serde(default)]
    fields: Vec<FieldSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    label: Option<String>,
    max_len: Option<u32>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    read_only: bool,
}

/// The catalogue the sandbox serves: built-in, plus `schema` (JSON) and `spec` (`.seam`).
pub fn load_catalog(schema: Option<&Path>, spec: Option<&Path>) -> Result<Catalog, Error> {
    let mut catalog = Catalog::builtin();
    if let Some(path) = spec {
        let src = std::fs::read_to_string(path)
            .map_err(|e| Error::Schema(format!("{}: {e}", path.display())))?;
        catalog = catalog_for_spec(&src)
            .map_err(|e| Error::Schema(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = schema {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Schema(format!("{}: {e}", path.display())))?;
        apply_json(&mut catalog, &text)
            .map_err(|e| Error::Schema(format!("{}: {e}", path.display())))?;
    }
    Ok(catalog)
}

/// `.seam` spec -> catalogue: the compiler's own reading, so the sandbox serves exactly the
/// objects and fields the spec declares. A spec with errors is refused with its first errors
/// (line, column, code, message), since serving a half-read schema would mislead.
fn catalog_for_spec(src: &str) -> Result<Catalog, String> {
    seam_compiler::catalog_for_spec(src).map_err(|diagnostics| {
        let index = seam_compiler::LineIndex::new(src);
        let mut lines: Vec<String> = diagnostics
            .iter()
            .take(5)
            .map(|d| {
                let (line, column) = d.line_col(&index);
                format!("{line}:{column}: {}: {}", d.code, d.message)
            })
            .collect();
        if diagnostics.len() > 5 {
            lines.push(format!(
                "... and {} more (run `seam check` on it)",
                diagnostics.len() - 5
            ));
        }
        format!("the spec has errors:\n  {}", lines.join("\n  "))
    })
}

/// Adds the objects and fields of a schema JSON text to `catalog`.
pub fn apply_json(catalog: &mut Catalog, text: &str) -> Result<(), String> {
    let file: SchemaFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (kind, objects) in [
        (SystemKind::Salesforce, file.salesforce),
        (SystemKind::ServiceNow, file.servicenow),
    ] {
        for (name, spec) in objects {
            let mut fields = Vec::new();
            for f in spec.fields {
                fields.push(field(f)?);
            }
            match catalog.object(kind, &name).cloned() {
                Some(mut obj) => {
                    for f in fields {
                        obj.fields.retain(|old| old.name != f.name);
                        obj.fields.push(f);
                    }
                    if spec.key_prefix.is_some() {
                        obj.key_prefix = spec.key_prefix;
                    }
                    if spec.auto_number.is_some() {
                        obj.auto_number = spec.auto_number;
                    }
                    catalog.insert(kind, obj);
                }
                None => {
                    let mut all = vec![
                        FieldDef::new(kind.id_field(), "Record ID", FieldType::Id).read_only()
                    ];
                    all.extend(fields);
                    catalog.insert(
                        kind,
                        ObjectDef {
                            label: spec.label.unwrap_or_else(|| name.clone()),
                            name,
                            key_prefix: spec.key_prefix,
                            auto_number: spec.auto_number,
                            fields: all,
                            standard: false,
                        },
                    );
                }
            }
        }
    }
    Ok(())
}

fn field(f: FieldSpec) -> Result<FieldDef, String> {
    let ty = match f.ty.as_str() {
        "text" => FieldType::Text { max_len: f.max_len },
        "number" => FieldType::Number,
        "bool" => FieldType::Bool,
        "datetime" => FieldType::Datetime,
        "id" => FieldType::Id,
        "ref" if !f.targets.is_empty() => FieldType::Ref { targets: f.targets },
        "ref" => return Err(format!("field {}: a ref needs \"targets\"", f.name)),
        "picklist" => FieldType::Picklist { values: f.values },
        other => return Err(format!("field {}: unknown type {other:?}", f.name)),
    };
    let mut def = FieldDef::new(&f.name, f.label.as_deref().unwrap_or(&f.name), ty);
    def.unique = f.unique;
    def.required = f.required;
    def.read_only = f.read_only;
    def.standard = false;
    Ok(def)
}

#[cfg(test)]
mod spec_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use seam_compiler::catalog::SystemKind;

    #[test]
    fn a_spec_adds_its_custom_fields_and_picklists() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/case_incident.seam");
        let catalog = load_catalog(None, Some(&path)).unwrap();
        assert!(catalog
            .field(SystemKind::Salesforce, "Case", "Incident_Number__c")
            .is_some());
        assert!(catalog
            .field(SystemKind::ServiceNow, "core_company", "u_customer_key")
            .is_some_and(|f| f.unique));
        let priority = catalog
            .field(SystemKind::Salesforce, "Case", "Priority")
            .unwrap();
        assert_eq!(
            priority.ty,
            seam_compiler::catalog::FieldType::picklist(&["Critical", "High", "Medium", "Low"])
        );
    }

    #[test]
    fn a_spec_with_errors_is_refused_with_its_positions() {
        let dir = std::env::temp_dir().join(format!("seam-sandbox-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.seam");
        std::fs::write(&path, "seam t\nown sf { Case.Subject }\n").unwrap();
        let err = load_catalog(None, Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains("2:5: seam::name::unknown: unknown system `sf`"),
            "{err}"
        );
    }
}
