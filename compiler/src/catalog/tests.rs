//! Invariants over the whole built-in catalogue.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use std::collections::HashSet;

fn all() -> Vec<(SystemKind, ObjectDef)> {
    let mut v: Vec<(SystemKind, ObjectDef)> = salesforce::objects()
        .into_iter()
        .map(|o| (SystemKind::Salesforce, o))
        .collect();
    v.extend(
        servicenow::objects()
            .into_iter()
            .map(|o| (SystemKind::ServiceNow, o)),
    );
    v
}

#[test]
fn every_object_has_its_id_field() {
    for (kind, o) in all() {
        let id = o
            .field(kind.id_field())
            .unwrap_or_else(|| panic!("{} has no {}", o.name, kind.id_field()));
        assert_eq!(id.ty, FieldType::Id, "{}.{}", o.name, id.name);
        assert!(id.read_only, "{}.{}", o.name, id.name);
        assert!(o.standard);
        assert!(o.fields.iter().all(|f| f.standard), "{}", o.name);
    }
}

#[test]
fn no_duplicate_objects_or_fields() {
    let mut objects = HashSet::new();
    for (kind, o) in all() {
        assert!(objects.insert((kind, o.name.clone())), "{} twice", o.name);
        let mut names = HashSet::new();
        for f in &o.fields {
            assert!(names.insert(f.name.as_str()), "{}.{} twice", o.name, f.name);
        }
    }
}

#[test]
fn every_ref_target_is_in_the_catalogue() {
    let catalog = Catalog::builtin();
    for (kind, o) in all() {
        for f in &o.fields {
            if let FieldType::Ref { targets } = &f.ty {
                assert!(!targets.is_empty(), "{}.{}", o.name, f.name);
                for t in targets {
                    let external = kind == SystemKind::Salesforce
                        && targets.len() > 1
                        && salesforce::EXTERNAL_POLYMORPHIC_TARGETS.contains(&t.as_str());
                    assert!(
                        external || catalog.object(kind, t).is_some(),
                        "{}.{} refers to unknown {t}",
                        o.name,
                        f.name
                    );
                }
            }
        }
    }
}

#[test]
fn derived_fields_name_fields_of_the_same_record() {
    for (_, o) in all() {
        for f in &o.fields {
            for src in &f.derived_from {
                assert!(
                    o.field(src).is_some(),
                    "{}.{} from unknown {src}",
                    o.name,
                    f.name
                );
                assert_ne!(src, &f.name, "{}.{} derives from itself", o.name, f.name);
            }
            if !f.derived_from.is_empty() {
                assert!(f.read_only, "{}.{}", o.name, f.name);
            }
        }
    }
}

#[test]
fn picklists_are_non_empty_and_distinct() {
    for (_, o) in all() {
        for f in &o.fields {
            if let FieldType::Picklist { values } = &f.ty {
                assert!(!values.is_empty(), "{}.{}", o.name, f.name);
                let set: HashSet<&String> = values.iter().collect();
                assert_eq!(
                    set.len(),
                    values.len(),
                    "{}.{} repeats a value",
                    o.name,
                    f.name
                );
            }
        }
    }
}

#[test]
fn auto_number_fields_exist_and_are_read_only() {
    for (_, o) in all() {
        if let Some((field, _)) = &o.auto_number {
            let f = o
                .field(field)
                .unwrap_or_else(|| panic!("{}.{field} missing", o.name));
            assert!(f.read_only && f.unique, "{}.{field}", o.name);
        }
    }
}

#[test]
fn standard_names_are_not_custom_names() {
    for (kind, o) in all() {
        assert!(!kind.is_custom_name(&o.name), "{}", o.name);
        for f in &o.fields {
            assert!(!kind.is_custom_name(&f.name), "{}.{}", o.name, f.name);
        }
    }
}

#[test]
fn builtin_lookups() {
    let c = Catalog::builtin();
    assert!(c.object(SystemKind::Salesforce, "Case").is_some());
    assert!(c.object(SystemKind::ServiceNow, "incident").is_some());
    assert!(c.object(SystemKind::ServiceNow, "Case").is_none());
    let sf = c.object_names(SystemKind::Salesforce);
    for n in ["Account", "Case", "Contact", "Lead", "Task", "User"] {
        assert!(sf.contains(&n), "{n}");
    }
    let sn = c.object_names(SystemKind::ServiceNow);
    for n in [
        "change_request",
        "cmdb_ci",
        "core_company",
        "incident",
        "problem",
        "sys_user",
        "sys_user_group",
    ] {
        assert!(sn.contains(&n), "{n}");
    }
}

/// An object grown field by field (what `resolve` does on a worker) has the indexes that
/// indexing its final definition in one go gives (what the catalogue did on the resolving
/// thread): added fields, a relationship, a replaced field, for every built-in object and a
/// new custom one.
#[test]
fn an_object_grown_field_by_field_is_indexed_as_if_built_whole() {
    let mut objects = all();
    objects.push((
        SystemKind::Salesforce,
        ObjectDef {
            name: "New__c".into(),
            label: "New__c".into(),
            key_prefix: None,
            auto_number: None,
            fields: vec![FieldDef::new("Id", "Id", FieldType::Id)],
            standard: false,
        },
    ));
    for (_, def) in objects {
        let mut grown = IndexedObject::new(def.clone());
        grown.reserve(3);
        let mut added = FieldDef::new("Extra__c", "Extra__c", FieldType::text());
        added.standard = false;
        grown.put_field(added);
        let mut reference =
            FieldDef::new("Parent__c", "Parent__c", FieldType::reference("Account"));
        reference.relationship = Some("Parent__r".into());
        grown.put_field(reference);
        // Replacing keeps the field's place and its index entries.
        let first = def.fields.first().cloned().unwrap();
        grown.put_field(FieldDef {
            label: "replaced".into(),
            ..first.clone()
        });
        let whole = IndexedObject::new(grown.def().clone());
        assert_eq!(grown.fields, whole.fields, "{}", def.name);
        assert_eq!(grown.relationships, whole.relationships, "{}", def.name);
        assert_eq!(grown.def().fields.len(), def.fields.len() + 2);
        assert_eq!(grown.field(&first.name).unwrap().label, "replaced");
        assert_eq!(
            grown.field("Parent__c").map(|f| &f.name),
            whole.def().relationship("Parent__r").map(|f| &f.name)
        );
    }
}
