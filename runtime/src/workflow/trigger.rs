//! When a workflow's trigger fires — pure, so every rule below is a unit test.
//!
//! Events are hints, state is truth: the trigger record is read, and the value of the trigger
//! field is compared with the value last *observed* for that record (kept in the store,
//! `workflow_observed`). Only where no value was ever observed does the event itself decide,
//! through the fields it says changed (Salesforce `ChangeEventHeader.changedFields`,
//! ServiceNow `changed_fields`).
//!
//! | trigger | fires when |
//! |---|---|
//! | `on F becomes V` | F now equals V, and the last observed F was not V; never observed: the event creates the record (a record *created* with F = V fires), or the event says F changed |
//! | `on F changes` | F now differs from the last observed F; never observed: an update event says F changed (a create does not fire: nothing changed) |
//! | `on Obj created` | a create event of the record; the run is keyed by the record, so it fires once per record whatever events announce it |
//!
//! Not firing, on purpose: a transition to the value the seam itself last wrote into that
//! field (its replica write or a workflow's update) — the echo of our own write — and any
//! event the platform marks as our echo (the engine never hands those to workflows).

use seam_compiler::plan::PlanTrigger;
use serde_json::Value;

use crate::engine::values::literal_text;

/// What is known when deciding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation<'a> {
    /// `create` or `update`.
    pub operation: &'a str,
    /// The last observed value: `None` never observed, `Some(None)` observed empty.
    pub prior: Option<Option<String>>,
    /// The value read now.
    pub current: Option<String>,
    /// Whether the event says the field changed (`None`: the event does not say).
    pub event_says_changed: Option<bool>,
}

/// The field a trigger watches (none for `created`).
pub fn field(trigger: &PlanTrigger) -> Option<&seam_compiler::plan::FieldPath> {
    match trigger {
        PlanTrigger::Becomes { field, .. } | PlanTrigger::Changes { field } => Some(field),
        PlanTrigger::Created { .. } => None,
    }
}

/// `(system, object)` of the record a trigger watches.
pub fn object(trigger: &PlanTrigger) -> (&str, &str) {
    match trigger {
        PlanTrigger::Becomes { field, .. } | PlanTrigger::Changes { field } => {
            (&field.system, &field.object)
        }
        PlanTrigger::Created { object } => (&object.system, &object.object),
    }
}

/// Does the trigger fire?
pub fn fires(trigger: &PlanTrigger, o: &Observation<'_>) -> bool {
    match trigger {
        PlanTrigger::Created { .. } => o.operation == "create",
        PlanTrigger::Becomes { value, .. } => {
            let target = literal_text(value);
            if o.current.as_deref() != Some(target.as_str()) {
                return false;
            }
            match &o.prior {
                Some(prior) => prior.as_deref() != Some(target.as_str()),
                None => o.operation == "create" || o.event_says_changed == Some(true),
            }
        }
        PlanTrigger::Changes { .. } => match &o.prior {
            Some(prior) => prior != &o.current,
            None => o.operation == "update" && o.event_says_changed == Some(true),
        },
    }
}

/// The fields an event's payload says changed: Salesforce CDC
/// `payload.ChangeEventHeader.changedFields`, ServiceNow `changed_fields`. `None` when the
/// payload does not say (a GAP event, a relay that sends no list).
pub fn changed_fields(payload: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let list = v
        .pointer("/payload/ChangeEventHeader/changedFields")
        .or_else(|| v.get("changed_fields"))?
        .as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use seam_compiler::plan::{FieldPath, Literal, ObjectPath};

    fn priority() -> FieldPath {
        FieldPath {
            system: "sf".into(),
            object: "Case".into(),
            field: "Priority".into(),
        }
    }

    fn becomes_critical() -> PlanTrigger {
        PlanTrigger::Becomes {
            field: priority(),
            value: Literal::String("Critical".into()),
        }
    }

    fn obs<'a>(
        operation: &'a str,
        prior: Option<Option<&str>>,
        current: Option<&str>,
        said: Option<bool>,
    ) -> Observation<'a> {
        Observation {
            operation,
            prior: prior.map(|p| p.map(String::from)),
            current: current.map(String::from),
            event_says_changed: said,
        }
    }

    #[test]
    fn becomes_fires_on_the_transition_against_the_observed_value() {
        let t = becomes_critical();
        assert!(fires(
            &t,
            &obs("update", Some(Some("High")), Some("Critical"), None)
        ));
        assert!(fires(
            &t,
            &obs("update", Some(None), Some("Critical"), None)
        ));
        // Already Critical when last seen: a duplicate, a replay, a Subject edit.
        assert!(!fires(
            &t,
            &obs(
                "update",
                Some(Some("Critical")),
                Some("Critical"),
                Some(true)
            )
        ));
        // Not Critical now (it moved on before we read it): state is truth.
        assert!(!fires(
            &t,
            &obs("update", Some(Some("High")), Some("Low"), Some(true))
        ));
    }

    #[test]
    fn becomes_without_an_observed_value_trusts_the_event() {
        let t = becomes_critical();
        // Created with the value already set: fires.
        assert!(fires(&t, &obs("create", None, Some("Critical"), None)));
        // An update that says Priority changed: fires.
        assert!(fires(
            &t,
            &obs("update", None, Some("Critical"), Some(true))
        ));
        // An update of another field, or one that does not say: does not.
        assert!(!fires(
            &t,
            &obs("update", None, Some("Critical"), Some(false))
        ));
        assert!(!fires(&t, &obs("update", None, Some("Critical"), None)));
    }

    #[test]
    fn changes_fires_on_any_difference_but_not_on_create() {
        let t = PlanTrigger::Changes { field: priority() };
        assert!(fires(
            &t,
            &obs("update", Some(Some("High")), Some("Low"), None)
        ));
        assert!(fires(&t, &obs("update", Some(Some("High")), None, None)));
        assert!(!fires(
            &t,
            &obs("update", Some(Some("High")), Some("High"), Some(true))
        ));
        assert!(fires(&t, &obs("update", None, Some("Low"), Some(true))));
        assert!(!fires(&t, &obs("update", None, Some("Low"), None)));
        assert!(!fires(&t, &obs("create", None, Some("Low"), Some(true))));
    }

    #[test]
    fn created_fires_on_create_events_only() {
        let t = PlanTrigger::Created {
            object: ObjectPath {
                system: "sf".into(),
                object: "Case".into(),
            },
        };
        assert!(fires(&t, &obs("create", None, None, None)));
        assert!(!fires(&t, &obs("update", None, None, Some(true))));
    }

    #[test]
    fn reads_changed_fields_from_both_platforms_payloads() {
        let sf = r#"{"payload": {"ChangeEventHeader": {"changedFields": ["Priority", "LastModifiedDate"]}}}"#;
        assert_eq!(
            changed_fields(sf).unwrap(),
            ["Priority", "LastModifiedDate"]
        );
        let snow = r#"{"table": "incident", "changed_fields": ["state"]}"#;
        assert_eq!(changed_fields(snow).unwrap(), ["state"]);
        assert_eq!(changed_fields(r#"{"payload": {}}"#), None);
        assert_eq!(changed_fields("not json"), None);
    }
}
