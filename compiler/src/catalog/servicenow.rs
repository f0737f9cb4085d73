//! ServiceNow standard tables.
//!
//! Conventions:
//! - every table's `sys_id` is [`FieldType::Id`], read-only; `sys_*` audit columns are read-only;
//! - a reference's type names the referenced table, and its relationship name is the field's
//!   own name (`incident.caller_id.email` walks through `caller_id`);
//! - choice values are the stored values, as strings (`"1"`, `"-5"`), never the labels;
//! - nothing is marked `required` unless the dictionary makes it mandatory: UI policies
//!   (e.g. "caller is mandatory on the incident form") do not apply to the Table API.
//!
//! Primary sources: the ServiceNowDocs repository (`ServiceNow/ServiceNowDocs`, markdown) and the
//! choice mappings of the ServiceNow-certified Ansible collection
//! (`ansible-collections/servicenow.itsm`, `plugins/module_utils/*.py`), which translate stored
//! values to names against live instances.

mod tables;
mod task;

use super::{FieldDef, FieldType, ObjectDef};
use task::{task_fields, PRIORITY};

pub fn objects() -> Vec<ObjectDef> {
    vec![
        incident(),
        problem(),
        change_request(),
        tables::core_company(),
        tables::sys_user(),
        tables::sys_user_group(),
        tables::cmn_department(),
        tables::cmdb_ci(),
    ]
}

/// The task tables: they share the `task` columns, and their `correlation_id` is unique.
pub const TASK_TABLES: &[&str] = &["incident", "problem", "change_request"];

// ---------------------------------------------------------------------------------------------
// Compact constructors, shared with the submodules.

fn table(name: &str, label: &str, auto_number: Option<&str>, fields: Vec<FieldDef>) -> ObjectDef {
    ObjectDef {
        name: name.into(),
        label: label.into(),
        key_prefix: None,
        auto_number: auto_number.map(|fmt| ("number".to_string(), fmt.to_string())),
        fields,
        standard: true,
    }
}

fn sys_id() -> FieldDef {
    FieldDef::new("sys_id", "Sys ID", FieldType::Id).read_only()
}

fn text(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::text())
}

fn text_n(name: &str, label: &str, len: u32) -> FieldDef {
    FieldDef::new(name, label, FieldType::text_n(len))
}

fn choice(name: &str, label: &str, values: &[&str]) -> FieldDef {
    FieldDef::new(name, label, FieldType::picklist(values))
}

fn boolean(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::Bool)
}

fn datetime(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::Datetime)
}

/// A reference to `target`; ServiceNow walks use the field's own name.
fn reference(name: &str, label: &str, target: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::reference(target)).relationship(name)
}

/// The audit columns every table has. `sys_created_by` / `sys_updated_by` hold the user
/// *name* (not a reference): the integration user's echo filter reads them.
fn sys_fields() -> Vec<FieldDef> {
    vec![
        datetime("sys_created_on", "Created").read_only(),
        text_n("sys_created_by", "Created by", 40).read_only(),
        datetime("sys_updated_on", "Updated").read_only(),
        text_n("sys_updated_by", "Updated by", 40).read_only(),
        FieldDef::new("sys_mod_count", "Updates", FieldType::Number).read_only(),
    ]
}

/// Replace the field of the same name (a table overriding an inherited column's choices),
/// or append it.
fn put(fields: &mut Vec<FieldDef>, field: FieldDef) {
    match fields.iter_mut().find(|f| f.name == field.name) {
        Some(slot) => *slot = field,
        None => fields.push(field),
    }
}

// ---------------------------------------------------------------------------------------------
// Task tables.

/// Incident `state` (and the legacy `incident_state`): 1 New, 2 In Progress, 3 On Hold,
/// 6 Resolved, 7 Closed, 8 Canceled.
const INCIDENT_STATES: &[&str] = &["1", "2", "3", "6", "7", "8"];

// https://www.servicenow.com/docs/r/it-service-management/incident-management/c_IncidentManagementStateModel.html
// https://www.servicenow.com/docs/r/it-service-management/incident-management/create-an-incident.html
// https://www.servicenow.com/docs/r/it-service-management/incident-management/def-prio-lookup-rules.html
// Stored values: ansible-collections/servicenow.itsm plugins/module_utils/incident.py
// (state, impact, urgency, hold_reason).
fn incident() -> ObjectDef {
    // Priority Lookup Rules compute priority from impact and urgency; the UI policy
    // "Priority is managed by Data Lookup" makes it read-only.
    let priority = choice("priority", "Priority", PRIORITY).derived(&["impact", "urgency"]);
    let mut fields = task_fields(INCIDENT_STATES, priority);
    for f in [
        reference("caller_id", "Caller", "sys_user"),
        // "Channel" on the form. Labels: Chat, Email, Phone, Monitoring, Self-service,
        // Virtual agent, Walk-in.
        choice(
            "contact_type",
            "Channel",
            &[
                "chat",
                "email",
                "phone",
                "monitoring",
                "self-service",
                "virtual_agent",
                "walk-in",
            ],
        ),
        // Base-system categories (labels: Inquiry / Help, Software, Hardware, Network, Database).
        choice(
            "category",
            "Category",
            &["inquiry", "software", "hardware", "network", "database"],
        ),
        // Dependent on category; the choices vary with it, so kept as text.
        text("subcategory", "Subcategory"),
        // "Resolution code": the stored value is the label. Current releases; older or upgraded
        // instances may still carry the legacy set ("Solved (Permanently)", ...).
        choice(
            "close_code",
            "Resolution code",
            &[
                "Duplicate",
                "Known error",
                "No resolution provided",
                "Resolved by caller",
                "Resolved by change",
                "Resolved by problem",
                "Resolved by request",
                "Solution provided",
                "Workaround provided",
                "User error",
            ],
        ),
        text("close_notes", "Resolution notes"),
        datetime("resolved_at", "Resolved"),
        reference("resolved_by", "Resolved by", "sys_user"),
        // Legacy state column, kept in step with `state` by business rules.
        choice("incident_state", "Incident state", INCIDENT_STATES),
        // 1 High, 2 Medium, 3 Low.
        choice("severity", "Severity", &["1", "2", "3"]),
        // On hold reason: 1 Awaiting Caller, 3 Awaiting Problem, 4 Awaiting Vendor,
        // 5 Awaiting Change.
        choice("hold_reason", "On hold reason", &["1", "3", "4", "5"]),
        reference("problem_id", "Problem", "problem"),
        reference("rfc", "Change Request", "change_request"),
        reference("caused_by", "Caused by Change", "change_request"),
        reference("parent_incident", "Parent Incident", "incident"),
        FieldDef::new("reopen_count", "Reopen count", FieldType::Number).read_only(),
    ] {
        put(&mut fields, f);
    }
    table("incident", "Incident", Some("INC{0000000}"), fields)
}

/// Problem `state` under the Madrid (and later) state model: 101 New, 102 Assess,
/// 103 Root Cause Analysis, 104 Fix in Progress, 106 Resolved, 107 Closed.
const PROBLEM_STATES: &[&str] = &["101", "102", "103", "104", "106", "107"];

// https://www.servicenow.com/docs/r/it-service-management/problem-management/understanding-state-mgmt-transitions.html
// https://www.servicenow.com/docs/r/it-service-management/problem-management/problem-form.html
// Stored values: ansible-collections/servicenow.itsm plugins/module_utils/problem.py (state,
// problem_state) and plugins/modules/problem.py (resolution_code).
fn problem() -> ObjectDef {
    let mut fields = task_fields(PROBLEM_STATES, choice("priority", "Priority", PRIORITY));
    for f in [
        // Mirrors `state`; the API moves a problem through states more reliably via this column.
        choice("problem_state", "Problem state", PROBLEM_STATES),
        text("category", "Category"),
        text("subcategory", "Subcategory"),
        choice(
            "resolution_code",
            "Resolution code",
            &["fix_applied", "risk_accepted", "duplicate", "canceled"],
        ),
        text("cause_notes", "Cause notes"),
        text("fix_notes", "Fix notes"),
        text("close_notes", "Close notes"),
        text("workaround", "Workaround"),
        boolean("known_error", "Known error"),
        boolean("major_problem", "Major problem"),
        reference("duplicate_of", "Duplicate of", "problem"),
        datetime("resolved_at", "Resolved"),
        reference("resolved_by", "Resolved by", "sys_user"),
        reference("rfc", "Change request", "change_request"),
    ] {
        put(&mut fields, f);
    }
    table("problem", "Problem", Some("PRB{0000000}"), fields)
}

/// Change `state`: -5 New, -4 Assess, -3 Authorize, -2 Scheduled, -1 Implement, 0 Review,
/// 3 Closed, 4 Canceled.
const CHANGE_STATES: &[&str] = &["-5", "-4", "-3", "-2", "-1", "0", "3", "4"];

// https://docs.servicenow.com/bundle/paris-it-service-management/page/product/change-management/concept/c_ChangeStateModel.html
// Stored values: ansible-collections/servicenow.itsm plugins/module_utils/change_request.py
// (state, priority, risk, impact, urgency) and plugins/modules/change_request.py (type,
// close_code).
fn change_request() -> ObjectDef {
    // Change priority: 1 Critical, 2 High, 3 Moderate, 4 Low (no Planning).
    let priority = choice("priority", "Priority", &["1", "2", "3", "4"]);
    let mut fields = task_fields(CHANGE_STATES, priority);
    for f in [
        choice("type", "Type", &["standard", "normal", "emergency"]),
        // 1 Very High, 2 High, 3 Moderate, 4 Low.
        choice("risk", "Risk", &["1", "2", "3", "4"]),
        text("category", "Category"),
        reference("requested_by", "Requested by", "sys_user"),
        datetime("start_date", "Planned start date"),
        datetime("end_date", "Planned end date"),
        text("justification", "Justification"),
        text("implementation_plan", "Implementation plan"),
        text("backout_plan", "Backout plan"),
        text("test_plan", "Test plan"),
        choice(
            "close_code",
            "Close code",
            &["successful", "successful_issues", "unsuccessful"],
        ),
        text("close_notes", "Close notes"),
        boolean("on_hold", "On hold"),
        text("on_hold_reason", "On hold reason"),
    ] {
        put(&mut fields, f);
    }
    table(
        "change_request",
        "Change Request",
        Some("CHG{0000000}"),
        fields,
    )
}

#[cfg(test)]
mod tests;
