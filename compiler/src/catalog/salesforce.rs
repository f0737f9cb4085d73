//! Salesforce standard objects. (Stub: filled in from the platform's object reference.)

use super::{FieldDef, FieldType, ObjectDef};

pub fn objects() -> Vec<ObjectDef> {
    vec![ObjectDef {
        name: "Case".into(),
        label: "Case".into(),
        key_prefix: Some("500".into()),
        auto_number: Some(("CaseNumber".into(), "{00000000}".into())),
        fields: vec![
            FieldDef::new("Id", "Case ID", FieldType::Id).read_only(),
            FieldDef::new("Subject", "Subject", FieldType::text_n(255)),
        ],
        standard: true,
    }]
}
