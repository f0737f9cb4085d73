//! The fields the task tables (incident, problem, change_request) inherit from `task`.
//!
//! Sources: the `task` columns in records returned by the Table API (c_TableAPI.md example;
//! the problem record sample in `ansible-collections/servicenow.itsm` plugins/modules/problem.py)
//! and the dictionary lengths ServiceNow documents for `short_description` (160) and
//! `correlation_id` / `correlation_display` (100).
//! https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html

use super::{boolean, choice, datetime, reference, sys_fields, text, text_n};
use crate::catalog::{FieldDef, FieldType};

/// Impact and urgency: `1` High, `2` Medium, `3` Low (strings, as the Table API returns them).
pub(super) const IMPACT: &[&str] = &["1", "2", "3"];

/// Task priority: `1` Critical, `2` High, `3` Moderate, `4` Low, `5` Planning.
pub(super) const PRIORITY: &[&str] = &["1", "2", "3", "4", "5"];

/// The shared task columns, with the table's own `state` choices and `priority` field.
///
/// `priority` is passed in because tables differ: incident computes it from impact and urgency
/// (Priority Lookup Rules), change_request has its own choice list.
pub(super) fn task_fields(states: &[&str], priority: FieldDef) -> Vec<FieldDef> {
    let mut fields = vec![
        FieldDef::new("sys_id", "Sys ID", FieldType::Id).read_only(),
        text_n("number", "Number", 40).read_only().unique(),
        text_n("short_description", "Short description", 160),
        text("description", "Description"),
        choice("state", "State", states),
        boolean("active", "Active"),
        priority,
        choice("impact", "Impact", IMPACT),
        choice("urgency", "Urgency", IMPACT),
        reference("assigned_to", "Assigned to", "sys_user"),
        reference("assignment_group", "Assignment group", "sys_user_group"),
        reference("company", "Company", "core_company"),
        reference("cmdb_ci", "Configuration item", "cmdb_ci"),
        datetime("opened_at", "Opened"),
        reference("opened_by", "Opened by", "sys_user"),
        datetime("closed_at", "Closed"),
        reference("closed_by", "Closed by", "sys_user"),
        // Journal fields: write-append; a GET returns "" (entries live in sys_journal_field).
        text("work_notes", "Work notes"),
        text("comments", "Additional comments"),
        // The other system's id for this record; the key integrations coalesce on.
        text_n("correlation_id", "Correlation ID", 100).unique(),
        text_n("correlation_display", "Correlation display", 100),
        text_n("sys_class_name", "Task type", 80).read_only(),
    ];
    fields.extend(sys_fields());
    fields
}
