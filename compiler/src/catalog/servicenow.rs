//! ServiceNow standard tables. (Stub: filled in from the platform's documentation.)

use super::{FieldDef, FieldType, ObjectDef};

pub fn objects() -> Vec<ObjectDef> {
    vec![ObjectDef {
        name: "incident".into(),
        label: "Incident".into(),
        key_prefix: None,
        auto_number: Some(("number".into(), "INC{0000000}".into())),
        fields: vec![
            FieldDef::new("sys_id", "Sys ID", FieldType::Id).read_only(),
            FieldDef::new(
                "short_description",
                "Short description",
                FieldType::text_n(160),
            ),
        ],
        standard: true,
    }]
}
