//! Reading one record with every value the Plan asks of it, in one request per record: its
//! own fields, values reached by walking references (`sf.Case.Account.Tier__c`), and the
//! display values of references (`snow.incident.assigned_to` as the user's name, LANGUAGE.md
//! rule 7: a `ref` feeding a `text` field carries the referenced record's display value).
//!
//! - Salesforce: a SOQL query with relationship fields (`Account.Tier__c`, `Owner.Name`); the
//!   reference `AccountId` walks as `Account`, a custom `X__c` as `X__r` (LANGUAGE.md detail
//!   11). A read with no walk is the plain sObject GET.
//! - ServiceNow: `sysparm_fields` dot-walks by the reference field's own name
//!   (`company.u_customer_key`); display values come from `sysparm_display_value=all`, which
//!   gives every field as `{"display_value", "value"}`.
//!
//! The API, for the sync engine and for workflow guards alike: collect what you need in a
//! [`Wants`] ([`Wants::field`], [`Wants::path`], [`Wants::condition`], [`Wants::display`]),
//! [`read`] the record (`None`: it does not exist), then ask the [`RecordView`]
//! ([`RecordView::field`], [`RecordView::path`], [`RecordView::display`]);
//! [`super::values::eval`] evaluates a condition over a `RecordView`.

use seam_compiler::plan::{Condition, Operand, ValuePath};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use super::platform::{canonical, Platform};
use crate::connectors::salesforce::soql_literal;
use crate::connectors::{ConnectorError, Record};

/// How a platform names walks and display values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Salesforce,
    ServiceNow,
}

impl Dialect {
    pub fn of(platform: &Platform) -> Dialect {
        match platform {
            Platform::Salesforce(_) => Dialect::Salesforce,
            Platform::ServiceNow(_) => Dialect::ServiceNow,
        }
    }

    /// The name that walks the reference field `reference`: Salesforce's relationship name
    /// (`AccountId` -> `Account`, `Parent__c` -> `Parent__r`), ServiceNow's field name.
    pub fn relationship(self, reference: &str) -> String {
        match self {
            Dialect::ServiceNow => reference.to_string(),
            Dialect::Salesforce => {
                if let Some(base) = reference.strip_suffix("__c") {
                    format!("{base}__r")
                } else if let Some(base) = reference.strip_suffix("Id").filter(|b| !b.is_empty()) {
                    base.to_string()
                } else {
                    reference.to_string()
                }
            }
        }
    }

    /// The platform's name of a path: `Account.Tier__c`, `company.u_customer_key`, or the
    /// field itself when nothing is walked.
    pub fn dotted(self, path: &ValuePath) -> String {
        let mut out = String::new();
        for hop in &path.walk {
            out.push_str(&self.relationship(&hop.field));
            out.push('.');
        }
        out.push_str(&path.field.field);
        out
    }
}

/// The field Salesforce shows for a record of `object` (its "name field").
fn salesforce_name_field(object: &str) -> &'static str {
    match object {
        "Case" => "CaseNumber",
        "Task" | "Event" => "Subject",
        "Contract" => "ContractNumber",
        "Order" => "OrderNumber",
        "Solution" => "SolutionName",
        _ => "Name",
    }
}

/// What to read of one record.
#[derive(Clone, Debug)]
pub struct Wants {
    dialect: Dialect,
    fields: BTreeSet<String>,
    /// Walked paths in the platform's dotted names.
    walks: BTreeSet<String>,
    /// Reference field -> where its display value is read (Salesforce: a walked name field;
    /// ServiceNow: the field itself, read with display values).
    displays: BTreeMap<String, String>,
}

impl Wants {
    pub fn new(dialect: Dialect) -> Wants {
        Wants {
            dialect,
            fields: BTreeSet::new(),
            walks: BTreeSet::new(),
            displays: BTreeMap::new(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A field of the record itself.
    pub fn field(&mut self, name: &str) -> &mut Wants {
        self.fields.insert(name.to_string());
        self
    }

    /// A path from the record, possibly walking references.
    pub fn path(&mut self, path: &ValuePath) -> &mut Wants {
        if path.walk.is_empty() {
            self.fields.insert(path.field.field.clone());
        } else {
            self.walks.insert(self.dialect.dotted(path));
        }
        self
    }

    /// Every path a condition reads.
    pub fn condition(&mut self, cond: &Condition) -> &mut Wants {
        let operand = |w: &mut Wants, o: &Operand| {
            if let Operand::Field { path } = o {
                w.path(path);
            }
        };
        match cond {
            Condition::Compare { left, right, .. } => {
                operand(self, left);
                operand(self, right);
            }
            Condition::In { left, .. } => operand(self, left),
            Condition::All { conditions } | Condition::Any { conditions } => {
                for c in conditions {
                    self.condition(c);
                }
            }
            Condition::Not { condition } => {
                self.condition(condition);
            }
        }
        self
    }

    /// The display value of the reference field `reference`, which points at records of
    /// `targets` (the Plan's `ref` type).
    pub fn display(&mut self, reference: &str, targets: &[String]) -> &mut Wants {
        let source = match self.dialect {
            Dialect::ServiceNow => {
                self.fields.insert(reference.to_string());
                reference.to_string()
            }
            Dialect::Salesforce => {
                let name = match targets {
                    [one] => salesforce_name_field(one),
                    _ => "Name",
                };
                let walked = format!("{}.{name}", self.dialect.relationship(reference));
                self.walks.insert(walked.clone());
                walked
            }
        };
        self.displays.insert(reference.to_string(), source);
        self
    }

    /// Every name the request lists (fields, then walks).
    fn names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .chain(self.walks.iter())
            .map(String::as_str)
            .collect()
    }
}

/// One record as read, answering for exactly what was asked of it.
#[derive(Clone, Debug)]
pub struct RecordView {
    dialect: Dialect,
    record: Record,
    asked: BTreeSet<String>,
    displays: BTreeMap<String, String>,
}

impl RecordView {
    /// A view of a record already in hand (an event's snapshot, a test) that answers for the
    /// `asked` names (fields and dotted walks).
    pub fn new(dialect: Dialect, record: Record, asked: impl IntoIterator<Item = String>) -> Self {
        RecordView {
            dialect,
            record,
            asked: asked.into_iter().collect(),
            displays: BTreeMap::new(),
        }
    }

    /// A field of the record, as the engine compares values (`None`: no value).
    pub fn field(&self, name: &str) -> Option<String> {
        canonical(self.raw(name))
    }

    /// The value at a path; an error when the path was not read (a caller's bug, said
    /// plainly rather than read as "no value").
    pub fn path(&self, path: &ValuePath) -> Result<Option<String>, String> {
        let name = self.dialect.dotted(path);
        if !self.asked.contains(&name) {
            return Err(format!(
                "`{}` (`{name}`) was not read from the record",
                path.field
            ));
        }
        Ok(canonical(self.raw(&name)))
    }

    /// The display value of a reference asked for with [`Wants::display`].
    pub fn display(&self, reference: &str) -> Option<String> {
        let source = self.displays.get(reference)?;
        match self.dialect {
            Dialect::Salesforce => canonical(self.raw(source)),
            Dialect::ServiceNow => match self.record.get(source) {
                Some(Value::Object(o)) => canonical(o.get("display_value")),
                _ => None,
            },
        }
    }

    /// The record as the platform returned it.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// A flat key (ServiceNow's `company.u_customer_key`), else a walk through nested
    /// objects (Salesforce's `{"Account": {"Tier__c": …}}`).
    fn raw(&self, name: &str) -> Option<&Value> {
        if let Some(v) = self.record.get(name) {
            return Some(v);
        }
        let mut parts = name.split('.');
        let mut cur = self.record.get(parts.next()?)?;
        for p in parts {
            cur = cur.as_object()?.get(p)?;
        }
        Some(cur)
    }
}

/// Reads record `id` of `object` with everything `wants` lists; `None` when it does not
/// exist (deleted, or never was).
pub async fn read(
    platform: &Platform,
    object: &str,
    id: &str,
    wants: &Wants,
) -> Result<Option<RecordView>, ConnectorError> {
    let names = wants.names();
    let record = match platform {
        Platform::Salesforce(c) if wants.walks.is_empty() => c.get(object, id, &names).await?,
        Platform::Salesforce(c) => {
            let soql = format!(
                "SELECT {} FROM {object} WHERE Id = {} LIMIT 1",
                names.join(", "),
                soql_literal(id)
            );
            c.query(&soql).await?.into_iter().next()
        }
        Platform::ServiceNow(c) => {
            c.get_with(object, id, &names, !wants.displays.is_empty())
                .await?
        }
    };
    Ok(record.map(|record| RecordView {
        dialect: wants.dialect,
        record,
        asked: names.iter().map(|n| n.to_string()).collect(),
        displays: wants.displays.clone(),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use seam_compiler::plan::FieldPath;
    use serde_json::json;

    fn fp(system: &str, object: &str, field: &str) -> FieldPath {
        FieldPath {
            system: system.into(),
            object: object.into(),
            field: field.into(),
        }
    }

    fn tier() -> ValuePath {
        ValuePath {
            root: seam_compiler::plan::ObjectPath {
                system: "sf".into(),
                object: "Case".into(),
            },
            walk: vec![fp("sf", "Case", "AccountId")],
            field: fp("sf", "Account", "Tier__c"),
        }
    }

    #[test]
    fn salesforce_walks_by_relationship_name() {
        let d = Dialect::Salesforce;
        assert_eq!(d.relationship("AccountId"), "Account");
        assert_eq!(d.relationship("Parent_Case__c"), "Parent_Case__r");
        assert_eq!(d.relationship("Id"), "Id");
        assert_eq!(d.dotted(&tier()), "Account.Tier__c");
        assert_eq!(Dialect::ServiceNow.relationship("company"), "company");
    }

    #[test]
    fn a_view_reads_nested_walks_and_refuses_what_was_not_read() {
        let rec = json!({"Id": "500A", "Account": {"attributes": {}, "Tier__c": "Strategic"}, "Owner": {"Name": "Ada"}});
        let mut w = Wants::new(Dialect::Salesforce);
        w.path(&tier()).display("OwnerId", &["User".into()]);
        assert_eq!(w.names(), vec!["Account.Tier__c", "Owner.Name"]);
        let view = RecordView {
            dialect: Dialect::Salesforce,
            record: rec.as_object().cloned().unwrap(),
            asked: w.names().iter().map(|s| s.to_string()).collect(),
            displays: w.displays.clone(),
        };
        assert_eq!(view.path(&tier()).unwrap().as_deref(), Some("Strategic"));
        assert_eq!(view.display("OwnerId").as_deref(), Some("Ada"));
        let mut other = tier();
        other.field.field = "Rating".into();
        assert!(view.path(&other).is_err());
    }

    #[test]
    fn servicenow_display_values_come_from_the_pair() {
        let rec = json!({"assigned_to": {"display_value": "Beth Anglin", "value": "6816f79cc0a8016401c5a33be04be441"}});
        let mut w = Wants::new(Dialect::ServiceNow);
        w.display("assigned_to", &["sys_user".into()]);
        let view = RecordView {
            dialect: Dialect::ServiceNow,
            record: rec.as_object().cloned().unwrap(),
            asked: w.names().iter().map(|s| s.to_string()).collect(),
            displays: w.displays.clone(),
        };
        assert_eq!(view.display("assigned_to").as_deref(), Some("Beth Anglin"));
        assert_eq!(
            view.field("assigned_to").as_deref(),
            Some("6816f79cc0a8016401c5a33be04be441")
        );
    }
}
