#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use std::collections::HashMap;

fn by_name() -> HashMap<String, ObjectDef> {
    test_support::by_name(objects())
}

use crate::catalog::test_support::{self, field, values};

#[test]
fn key_prefixes() {
    let objects = by_name();
    for (name, prefix) in [
        ("Case", "500"),
        ("Account", "001"),
        ("Contact", "003"),
        ("Lead", "00Q"),
        ("Task", "00T"),
        ("User", "005"),
        ("Profile", "00e"),
    ] {
        assert_eq!(objects[name].key_prefix.as_deref(), Some(prefix), "{name}");
    }
}

#[test]
fn case_picklists() {
    let o = by_name();
    assert_eq!(
        values(field(&o, "Case", "Priority")),
        ["High", "Medium", "Low"]
    );
    assert_eq!(
        values(field(&o, "Case", "Status")),
        ["New", "Working", "Escalated", "Closed"]
    );
    assert_eq!(
        values(field(&o, "Case", "Origin")),
        ["Phone", "Email", "Web"]
    );
    assert_eq!(
        values(field(&o, "Case", "Type")),
        [
            "Mechanical",
            "Electrical",
            "Electronic",
            "Structural",
            "Other"
        ]
    );
    assert!(values(field(&o, "Case", "Reason")).contains(&"Equipment Complexity"));
}

#[test]
fn case_number_is_a_read_only_unique_auto_number() {
    let o = by_name();
    let case = &o["Case"];
    assert_eq!(
        case.auto_number,
        Some(("CaseNumber".to_string(), "{00000000}".to_string()))
    );
    let n = field(&o, "Case", "CaseNumber");
    assert!(n.read_only && n.unique);
    assert_eq!(field(&o, "Case", "Subject").ty, FieldType::text_n(255));
    assert_eq!(
        field(&o, "Case", "Description").ty,
        FieldType::text_n(32000)
    );
    assert_eq!(field(&o, "Case", "Comments").ty, FieldType::text_n(4000));
    assert!(field(&o, "Case", "IsClosed").read_only);
}

#[test]
fn relationship_names() {
    let o = by_name();
    for (object, f, rel, target) in [
        ("Case", "AccountId", "Account", "Account"),
        ("Case", "ContactId", "Contact", "Contact"),
        ("Case", "OwnerId", "Owner", "User"),
        ("Case", "ParentId", "Parent", "Case"),
        ("Account", "ParentId", "Parent", "Account"),
        ("Contact", "AccountId", "Account", "Account"),
        ("User", "ProfileId", "Profile", "Profile"),
    ] {
        let fd = field(&o, object, f);
        assert_eq!(fd.relationship.as_deref(), Some(rel), "{object}.{f}");
        assert_eq!(fd.ty, FieldType::reference(target), "{object}.{f}");
        assert_eq!(
            o[object].relationship(rel).map(|x| x.name.as_str()),
            Some(f)
        );
    }
}

#[test]
fn every_reference_has_a_relationship_name() {
    for o in objects() {
        for f in &o.fields {
            if matches!(f.ty, FieldType::Ref { .. }) {
                assert!(
                    f.relationship.is_some(),
                    "{}.{} has no relationship",
                    o.name,
                    f.name
                );
            }
        }
    }
}

#[test]
fn task_polymorphic_references() {
    let o = by_name();
    let what = field(&o, "Task", "WhatId");
    assert_eq!(what.relationship.as_deref(), Some("What"));
    match &what.ty {
        FieldType::Ref { targets } => {
            assert!(targets.iter().any(|t| t == "Account"));
            assert!(targets.iter().any(|t| t == "Case"));
        }
        other => panic!("WhatId is {}", other.describe()),
    }
    let who = field(&o, "Task", "WhoId");
    assert_eq!(who.relationship.as_deref(), Some("Who"));
    assert_eq!(
        who.ty,
        FieldType::Ref {
            targets: vec!["Contact".into(), "Lead".into()]
        }
    );
    assert_eq!(
        values(field(&o, "Task", "Status")),
        [
            "Not Started",
            "In Progress",
            "Completed",
            "Waiting on someone else",
            "Deferred"
        ]
    );
    assert_eq!(
        values(field(&o, "Task", "Priority")),
        ["High", "Normal", "Low"]
    );
    // Defaulted on create: a create without them succeeds.
    assert!(!field(&o, "Task", "Status").required);
    assert!(!field(&o, "Task", "Priority").required);
    assert!(!field(&o, "Task", "Subject").required);
}

#[test]
fn required_on_create() {
    let o = by_name();
    assert!(field(&o, "Account", "Name").required);
    assert!(field(&o, "Contact", "LastName").required);
    assert!(field(&o, "Lead", "LastName").required);
    assert!(field(&o, "Lead", "Company").required);
    let username = field(&o, "User", "Username");
    assert!(username.required && username.unique);
    assert!(field(&o, "Contact", "Name").read_only);
}

#[test]
fn audit_fields_are_read_only() {
    for o in objects() {
        for name in [
            "Id",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
            "CreatedById",
        ] {
            let f = o
                .field(name)
                .unwrap_or_else(|| panic!("{}.{name} missing", o.name));
            assert!(f.read_only, "{}.{name} is writable", o.name);
        }
    }
}

#[test]
fn polymorphic_externals_are_not_modelled() {
    let o = by_name();
    for t in EXTERNAL_POLYMORPHIC_TARGETS {
        assert!(
            !o.contains_key(*t),
            "{t} is modelled; drop it from the list"
        );
    }
}
