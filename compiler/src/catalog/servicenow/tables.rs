//! ServiceNow's non-task tables that task records reference: companies, users, groups,
//! departments and configuration items.

use super::{boolean, choice, datetime, reference, sys_fields, sys_id, table, text};
use crate::catalog::{FieldDef, ObjectDef};

fn with_sys_fields(mut fields: Vec<FieldDef>) -> Vec<FieldDef> {
    fields.extend(sys_fields());
    fields
}

// https://www.servicenow.com/docs/r/platform-administration/user-administration/t_AddANewCompany.html
// (Company [core_company]: name, phone, fax, vendor / manufacturer flags, address, parent.)
pub(super) fn core_company() -> ObjectDef {
    table(
        "core_company",
        "Company",
        None,
        with_sys_fields(vec![
            sys_id(),
            text("name", "Name").required(),
            text("phone", "Phone"),
            text("fax_phone", "Fax phone"),
            text("website", "Website"),
            text("street", "Street"),
            text("city", "City"),
            text("state", "State / Province"),
            text("zip", "Zip / Postal code"),
            text("country", "Country"),
            boolean("customer", "Customer"),
            boolean("vendor", "Vendor"),
            boolean("manufacturer", "Manufacturer"),
            reference("parent", "Parent", "core_company"),
            text("notes", "Notes"),
        ]),
    )
}

// User [sys_user], columns as the Table API returns them (User administration in the
// ServiceNow docs). `name` is a calculated column (first + last name).
pub(super) fn sys_user() -> ObjectDef {
    table(
        "sys_user",
        "User",
        None,
        with_sys_fields(vec![
            sys_id(),
            // The login; unique per instance. The integration's echo filter compares it with
            // `sys_updated_by`.
            text("user_name", "User ID").unique(),
            text("first_name", "First name"),
            text("last_name", "Last name"),
            text("name", "Name").derived(&["first_name", "last_name"]),
            text("email", "Email"),
            boolean("active", "Active"),
            reference("company", "Company", "core_company"),
            reference("department", "Department", "cmn_department"),
            reference("manager", "Manager", "sys_user"),
            text("title", "Title"),
            text("phone", "Business phone"),
            text("mobile_phone", "Mobile phone"),
            text("employee_number", "Employee number"),
            boolean("vip", "VIP"),
            boolean("locked_out", "Locked out"),
            datetime("last_login_time", "Last login time").read_only(),
        ]),
    )
}

// Group [sys_user_group], columns as the Table API returns them (User administration in the
// ServiceNow docs).
pub(super) fn sys_user_group() -> ObjectDef {
    table(
        "sys_user_group",
        "Group",
        None,
        with_sys_fields(vec![
            sys_id(),
            text("name", "Name"),
            text("description", "Description"),
            reference("manager", "Manager", "sys_user"),
            text("email", "Group email"),
            boolean("active", "Active"),
            // A list of sys_user_group_type sys_ids (glide_list), kept as text.
            text("type", "Type"),
            reference("parent", "Parent", "sys_user_group"),
        ]),
    )
}

// Department [cmn_department]. Minimal: sys_user.department refers to it.
pub(super) fn cmn_department() -> ObjectDef {
    table(
        "cmn_department",
        "Department",
        None,
        with_sys_fields(vec![
            sys_id(),
            text("name", "Name"),
            text("id", "ID"),
            reference("head", "Department head", "sys_user"),
            reference("company", "Company", "core_company"),
            reference("parent", "Parent", "cmn_department"),
        ]),
    )
}

/// `install_status`: 1 Installed, 2 On Order, 3 In Maintenance, 4 Pending Install,
/// 5 Pending Repair, 6 In Stock, 7 Retired, 8 Stolen, 100 Absent (and 0 Implementing).
const INSTALL_STATUS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "100"];

/// `operational_status`: 1 Operational, 2 Non-Operational, 3 Repair in Progress,
/// 4 DR Standby, 5 Ready, 6 Retired, 7 Pipeline, 8 Catalog.
const OPERATIONAL_STATUS: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8"];

// Configuration Item [cmdb_ci]. Columns and stored values: ansible-collections/servicenow.itsm plugins/module_utils/configuration_item.py.
// The base class; records are usually of a subclass, named by `sys_class_name`.
pub(super) fn cmdb_ci() -> ObjectDef {
    table(
        "cmdb_ci",
        "Configuration Item",
        None,
        with_sys_fields(vec![
            sys_id(),
            text("name", "Name"),
            text("sys_class_name", "Class").read_only(),
            reference("company", "Company", "core_company"),
            reference("manufacturer", "Manufacturer", "core_company"),
            choice(
                "operational_status",
                "Operational status",
                OPERATIONAL_STATUS,
            ),
            choice("install_status", "Status", INSTALL_STATUS),
            text("serial_number", "Serial number"),
            text("asset_tag", "Asset tag"),
            text("ip_address", "IP Address"),
            text("environment", "Environment"),
            reference("assigned_to", "Assigned to", "sys_user"),
            reference("managed_by", "Managed by", "sys_user"),
            reference("owned_by", "Owned by", "sys_user"),
            reference("support_group", "Support group", "sys_user_group"),
            text("short_description", "Description"),
        ]),
    )
}
