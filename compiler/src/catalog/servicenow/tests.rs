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
fn incident_state_choices() {
    let o = by_name();
    assert_eq!(
        values(field(&o, "incident", "state")),
        ["1", "2", "3", "6", "7", "8"]
    );
    assert_eq!(
        values(field(&o, "incident", "incident_state")),
        ["1", "2", "3", "6", "7", "8"]
    );
}

#[test]
fn incident_priority_is_derived_from_impact_and_urgency() {
    let o = by_name();
    let p = field(&o, "incident", "priority");
    assert_eq!(p.derived_from, ["impact", "urgency"]);
    assert!(p.read_only);
    assert_eq!(values(p), ["1", "2", "3", "4", "5"]);
    assert_eq!(values(field(&o, "incident", "impact")), ["1", "2", "3"]);
    assert_eq!(values(field(&o, "incident", "urgency")), ["1", "2", "3"]);
}

#[test]
fn task_tables_share_the_task_fields() {
    let o = by_name();
    for t in TASK_TABLES {
        let corr = field(&o, t, "correlation_id");
        assert!(corr.unique, "{t}.correlation_id is not unique");
        assert_eq!(corr.ty, FieldType::text_n(100));
        assert_eq!(
            field(&o, t, "correlation_display").ty,
            FieldType::text_n(100)
        );
        assert_eq!(field(&o, t, "short_description").ty, FieldType::text_n(160));
        let number = field(&o, t, "number");
        assert!(number.read_only && number.unique, "{t}.number");
        for shared in [
            "sys_id",
            "state",
            "active",
            "priority",
            "assigned_to",
            "assignment_group",
            "company",
            "cmdb_ci",
            "opened_at",
            "opened_by",
            "closed_at",
            "work_notes",
            "comments",
            "sys_created_on",
            "sys_updated_by",
            "sys_mod_count",
            "sys_class_name",
        ] {
            assert!(o[*t].field(shared).is_some(), "{t}.{shared} missing");
        }
    }
    assert!(o["problem"].field("caller_id").is_none());
    assert!(o["change_request"].field("caller_id").is_none());
}

#[test]
fn auto_numbers() {
    let o = by_name();
    for (t, fmt) in [
        ("incident", "INC{0000000}"),
        ("problem", "PRB{0000000}"),
        ("change_request", "CHG{0000000}"),
    ] {
        assert_eq!(
            o[t].auto_number,
            Some(("number".to_string(), fmt.to_string())),
            "{t}"
        );
    }
}

#[test]
fn problem_and_change_states() {
    let o = by_name();
    assert_eq!(
        values(field(&o, "problem", "state")),
        ["101", "102", "103", "104", "106", "107"]
    );
    assert_eq!(
        values(field(&o, "change_request", "state")),
        ["-5", "-4", "-3", "-2", "-1", "0", "3", "4"]
    );
    assert_eq!(
        values(field(&o, "change_request", "type")),
        ["standard", "normal", "emergency"]
    );
    assert_eq!(
        values(field(&o, "change_request", "risk")),
        ["1", "2", "3", "4"]
    );
    assert!(field(&o, "change_request", "priority")
        .derived_from
        .is_empty());
}

#[test]
fn incident_value_sets() {
    let o = by_name();
    assert!(values(field(&o, "incident", "close_code")).contains(&"Solution provided"));
    assert!(values(field(&o, "incident", "contact_type")).contains(&"self-service"));
    assert_eq!(
        values(field(&o, "incident", "hold_reason")),
        ["1", "3", "4", "5"]
    );
}

#[test]
fn references_walk_through_their_own_name() {
    for o in objects() {
        for f in &o.fields {
            if let FieldType::Ref { targets } = &f.ty {
                assert_eq!(
                    f.relationship.as_deref(),
                    Some(f.name.as_str()),
                    "{}.{}",
                    o.name,
                    f.name
                );
                assert_eq!(targets.len(), 1, "{}.{} is polymorphic", o.name, f.name);
            }
        }
    }
    let o = by_name();
    assert_eq!(
        field(&o, "incident", "caller_id").ty,
        FieldType::reference("sys_user")
    );
    assert_eq!(
        field(&o, "incident", "company").ty,
        FieldType::reference("core_company")
    );
    assert_eq!(
        field(&o, "incident", "problem_id").ty,
        FieldType::reference("problem")
    );
}

#[test]
fn sys_fields_are_read_only() {
    for o in objects() {
        for f in &o.fields {
            if f.name.starts_with("sys_") {
                assert!(f.read_only, "{}.{} is writable", o.name, f.name);
            }
        }
        for name in [
            "sys_created_on",
            "sys_created_by",
            "sys_updated_on",
            "sys_updated_by",
            "sys_mod_count",
        ] {
            assert!(o.field(name).is_some(), "{}.{name} missing", o.name);
        }
    }
}

#[test]
fn reference_tables() {
    let o = by_name();
    assert!(field(&o, "core_company", "name").required);
    assert_eq!(field(&o, "core_company", "customer").ty, FieldType::Bool);
    assert_eq!(
        field(&o, "core_company", "parent").ty,
        FieldType::reference("core_company")
    );
    assert!(field(&o, "sys_user", "user_name").unique);
    assert_eq!(
        field(&o, "sys_user", "manager").ty,
        FieldType::reference("sys_user")
    );
    assert_eq!(
        field(&o, "sys_user_group", "manager").ty,
        FieldType::reference("sys_user")
    );
    assert!(values(field(&o, "cmdb_ci", "install_status")).contains(&"1"));
    assert!(values(field(&o, "cmdb_ci", "operational_status")).contains(&"1"));
}
