//! Salesforce standard objects, as the Object Reference and the Field Reference describe them.
//!
//! Conventions:
//! - every object's `Id` is [`FieldType::Id`], read-only;
//! - every reference carries its relationship name (`AccountId` -> `Account`), which is what a
//!   path walks through (`sf.Case.Account.Name`);
//! - audit fields (`CreatedDate`, `SystemModstamp`, ...) are read-only;
//! - `required` means "a create without it fails with `REQUIRED_FIELD_MISSING`". Fields that are
//!   not nillable but *defaulted on create* (`Case.Status`, `Task.Status`, `Task.Priority`,
//!   `Lead.Status`) are therefore **not** marked required: the platform fills them in;
//! - picklist values are the standard value sets of a fresh (Developer Edition) org. They are
//!   org-customizable; a spec's `object` block replaces them.
//!
//! Standard value sets were read from metadata retrieved from unmodified orgs
//! (`force-app/main/default/standardValueSets/*.standardValueSet-meta.xml`, e.g.
//! `trailheadapps/dreamhouse-lwc`) and cross-checked against the Object Reference.

use super::{FieldDef, FieldType, ObjectDef};

/// Targets of polymorphic references (`Task.WhatId`) that the catalogue deliberately does not
/// model. A reference to them is legal; walking through it reaches an object seam knows nothing
/// about, so only the id crosses.
pub const EXTERNAL_POLYMORPHIC_TARGETS: &[&str] = &["Campaign", "Contract", "Opportunity"];

pub fn objects() -> Vec<ObjectDef> {
    vec![
        case(),
        account(),
        contact(),
        lead(),
        task(),
        user(),
        profile(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Compact constructors for the tables below.

fn object(
    name: &str,
    label: &str,
    key_prefix: &str,
    auto_number: Option<(&str, &str)>,
    fields: Vec<FieldDef>,
) -> ObjectDef {
    ObjectDef {
        name: name.into(),
        label: label.into(),
        key_prefix: Some(key_prefix.into()),
        auto_number: auto_number.map(|(f, fmt)| (f.into(), fmt.into())),
        fields,
        standard: true,
    }
}

fn id(label: &str) -> FieldDef {
    FieldDef::new("Id", label, FieldType::Id).read_only()
}

fn text(name: &str, label: &str, len: u32) -> FieldDef {
    FieldDef::new(name, label, FieldType::text_n(len))
}

fn pick(name: &str, label: &str, values: &[&str]) -> FieldDef {
    FieldDef::new(name, label, FieldType::picklist(values))
}

fn boolean(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::Bool)
}

fn number(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::Number)
}

fn datetime(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::Datetime)
}

/// A lookup to one object, walked through `relationship`.
fn lookup(name: &str, label: &str, target: &str, relationship: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::reference(target)).relationship(relationship)
}

/// `OwnerId` -> `Owner`. On Case, Lead and other queue-ownable objects the owner may also be a
/// queue (`Group`); the catalogue keeps `User`, the common case.
fn owner(label: &str) -> FieldDef {
    lookup("OwnerId", label, "User", "Owner")
}

/// The audit fields every object carries, all set by the platform.
fn system_fields() -> Vec<FieldDef> {
    vec![
        datetime("CreatedDate", "Created Date").read_only(),
        lookup("CreatedById", "Created By ID", "User", "CreatedBy").read_only(),
        datetime("LastModifiedDate", "Last Modified Date").read_only(),
        lookup(
            "LastModifiedById",
            "Last Modified By ID",
            "User",
            "LastModifiedBy",
        )
        .read_only(),
        datetime("SystemModstamp", "System Modstamp").read_only(),
        boolean("IsDeleted", "Deleted").read_only(),
    ]
}

fn with_system_fields(mut fields: Vec<FieldDef>) -> Vec<FieldDef> {
    fields.extend(system_fields());
    fields
}

// ---------------------------------------------------------------------------------------------
// Shared standard value sets.

/// StandardValueSet `Industry` (Account.Industry, Lead.Industry).
const INDUSTRY: &[&str] = &[
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];

/// StandardValueSet `LeadSource` (Lead.LeadSource, Contact.LeadSource, Account.AccountSource).
const LEAD_SOURCE: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];

/// StandardValueSet `Salutation`.
const SALUTATION: &[&str] = &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."];

/// StandardValueSet `AccountRating` (Account.Rating, Lead.Rating).
const RATING: &[&str] = &["Hot", "Warm", "Cold"];

/// A postal address as its component fields (`Billing` + `City`, ...), Field Reference lengths.
fn address(prefix: &str, label: &str) -> Vec<FieldDef> {
    let f = |suffix: &str, what: &str, len: u32| {
        text(
            &format!("{prefix}{suffix}"),
            &format!("{label} {what}"),
            len,
        )
    };
    vec![
        FieldDef::new(
            &format!("{prefix}Street"),
            &format!("{label} Street"),
            FieldType::text_n(255),
        ),
        f("City", "City", 40),
        f("State", "State/Province", 80),
        f("PostalCode", "Zip/Postal Code", 20),
        f("Country", "Country", 80),
    ]
}

// ---------------------------------------------------------------------------------------------
// Objects.

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_case.htm
// https://developer.salesforce.com/docs/atlas.en-us.228.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Case.htm
// Value sets: CaseStatus, CasePriority, CaseOrigin, CaseType, CaseReason
// (trailheadapps/dreamhouse-lwc force-app/main/default/standardValueSets/Case*.standardValueSet-meta.xml).
// Note: trial (Service Cloud) orgs ship CaseType = Problem / Feature Request / Question instead of
// the Developer Edition set below; both are "standard", neither is universal.
fn case() -> ObjectDef {
    object(
        "Case",
        "Case",
        "500",
        Some(("CaseNumber", "{00000000}")),
        with_system_fields(vec![
            id("Case ID"),
            text("CaseNumber", "Case Number", 30).read_only().unique(),
            text("Subject", "Subject", 255),
            FieldDef::new("Description", "Description", FieldType::text_n(32000)),
            // Closed-ness comes from CaseStatus.IsClosed, not from the label.
            pick(
                "Status",
                "Status",
                &["New", "Working", "Escalated", "Closed"],
            ),
            pick("Priority", "Priority", &["High", "Medium", "Low"]),
            pick(
                "Type",
                "Case Type",
                &[
                    "Mechanical",
                    "Electrical",
                    "Electronic",
                    "Structural",
                    "Other",
                ],
            ),
            pick("Origin", "Case Origin", &["Phone", "Email", "Web"]),
            pick(
                "Reason",
                "Case Reason",
                &[
                    "Installation",
                    "Equipment Complexity",
                    "Performance",
                    "Breakdown",
                    "Equipment Design",
                    "Feedback",
                    "Other",
                ],
            ),
            lookup("AccountId", "Account ID", "Account", "Account"),
            lookup("ContactId", "Contact ID", "Contact", "Contact"),
            owner("Owner ID"),
            lookup("ParentId", "Parent Case ID", "Case", "Parent"),
            boolean("IsEscalated", "Escalated"),
            boolean("IsClosed", "Closed").read_only(),
            datetime("ClosedDate", "Closed Date").read_only(),
            // Write-only on the API: inserts a CaseComment.
            FieldDef::new("Comments", "Internal Comments", FieldType::text_n(4000)),
            // Web-to-Case / Email-to-Case inputs; can't be updated after create.
            text("SuppliedEmail", "Email Address", 80),
            text("SuppliedName", "Name", 80),
            text("SuppliedPhone", "Phone", 40),
            text("SuppliedCompany", "Company", 80),
            // Formula fields copied from the Contact.
            text("ContactEmail", "Contact Email", 80).derived(&["ContactId"]),
            text("ContactPhone", "Contact Phone", 40).derived(&["ContactId"]),
        ]),
    )
}

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_account.htm
// https://developer.salesforce.com/docs/atlas.en-us.228.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Account.htm
// Value sets: AccountType, Industry, AccountRating (dreamhouse-lwc standardValueSets).
fn account() -> ObjectDef {
    let mut fields = vec![
        id("Account ID"),
        text("Name", "Account Name", 255).required(),
        text("AccountNumber", "Account Number", 40),
        owner("Owner ID"),
        pick(
            "Type",
            "Account Type",
            &[
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Channel Partner / Reseller",
                "Installation Partner",
                "Technology Partner",
                "Other",
            ],
        ),
        pick("Industry", "Industry", INDUSTRY),
        pick("Rating", "Account Rating", RATING),
        pick("AccountSource", "Account Source", LEAD_SOURCE),
        number("AnnualRevenue", "Annual Revenue"),
        number("NumberOfEmployees", "Employees"),
        text("Phone", "Account Phone", 40),
        text("Fax", "Account Fax", 40),
        text("Website", "Website", 255),
        text("Site", "Account Site", 80),
        text("TickerSymbol", "Ticker Symbol", 20),
        lookup("ParentId", "Parent Account ID", "Account", "Parent"),
        FieldDef::new(
            "Description",
            "Account Description",
            FieldType::text_n(32000),
        ),
    ];
    fields.extend(address("Billing", "Billing"));
    fields.extend(address("Shipping", "Shipping"));
    object(
        "Account",
        "Account",
        "001",
        None,
        with_system_fields(fields),
    )
}

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contact.htm
// https://developer.salesforce.com/docs/atlas.en-us.228.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Contact.htm
fn contact() -> ObjectDef {
    let mut fields = vec![
        id("Contact ID"),
        pick("Salutation", "Salutation", SALUTATION),
        text("FirstName", "First Name", 40),
        text("LastName", "Last Name", 80).required(),
        // Compound name, concatenated by the platform.
        text("Name", "Full Name", 121).derived(&["FirstName", "LastName"]),
        text("Email", "Email", 80),
        text("Phone", "Business Phone", 40),
        text("MobilePhone", "Mobile Phone", 40),
        text("Title", "Title", 128),
        text("Department", "Department", 80),
        lookup("AccountId", "Account ID", "Account", "Account"),
        owner("Owner ID"),
        lookup("ReportsToId", "Reports To ID", "Contact", "ReportsTo"),
        pick("LeadSource", "Lead Source", LEAD_SOURCE),
        boolean("HasOptedOutOfEmail", "Email Opt Out"),
        FieldDef::new(
            "Description",
            "Contact Description",
            FieldType::text_n(32000),
        ),
    ];
    fields.extend(address("Mailing", "Mailing"));
    object(
        "Contact",
        "Contact",
        "003",
        None,
        with_system_fields(fields),
    )
}

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm
// https://developer.salesforce.com/docs/atlas.en-us.228.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Lead.htm
// Value set: LeadStatus (dreamhouse-lwc standardValueSets). Minimal: Task.WhoId refers to it.
fn lead() -> ObjectDef {
    object(
        "Lead",
        "Lead",
        "00Q",
        None,
        with_system_fields(vec![
            id("Lead ID"),
            text("FirstName", "First Name", 40),
            text("LastName", "Last Name", 80).required(),
            text("Name", "Full Name", 121).derived(&["FirstName", "LastName"]),
            text("Company", "Company", 255).required(),
            text("Title", "Title", 128),
            text("Email", "Email", 80),
            text("Phone", "Phone", 40),
            // Not nillable, defaulted on create ("Open - Not Contacted").
            pick(
                "Status",
                "Status",
                &[
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ],
            ),
            pick("LeadSource", "Lead Source", LEAD_SOURCE),
            pick("Industry", "Industry", INDUSTRY),
            pick("Rating", "Rating", RATING),
            owner("Owner ID"),
            boolean("IsConverted", "Converted").read_only(),
            lookup(
                "ConvertedAccountId",
                "Converted Account ID",
                "Account",
                "ConvertedAccount",
            )
            .read_only(),
            lookup(
                "ConvertedContactId",
                "Converted Contact ID",
                "Contact",
                "ConvertedContact",
            )
            .read_only(),
            FieldDef::new("Description", "Description", FieldType::text_n(32000)),
        ]),
    )
}

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm
// https://developer.salesforce.com/docs/atlas.en-us.196.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Task.htm
// Status / Priority values: TaskStatus, TaskPriority (WorkflowTask in the Tooling API reference
// lists the same values).
fn task() -> ObjectDef {
    object(
        "Task",
        "Task",
        "00T",
        None,
        with_system_fields(vec![
            id("Activity ID"),
            // Polymorphic "Related To": Account, Case and other non-person objects (custom
            // objects too). Targets outside the catalogue: EXTERNAL_POLYMORPHIC_TARGETS.
            FieldDef::new(
                "WhatId",
                "Related To ID",
                FieldType::Ref {
                    targets: ["Account", "Campaign", "Case", "Contract", "Opportunity"]
                        .iter()
                        .map(|t| t.to_string())
                        .collect(),
                },
            )
            .relationship("What"),
            // Polymorphic "Name": a Contact or a Lead.
            FieldDef::new(
                "WhoId",
                "Name ID",
                FieldType::Ref {
                    targets: vec!["Contact".into(), "Lead".into()],
                },
            )
            .relationship("Who"),
            owner("Assigned To ID"),
            // A combobox (free text with suggestions), nillable.
            text("Subject", "Subject", 255),
            // Not nillable, defaulted on create ("Not Started" / "Normal").
            pick(
                "Status",
                "Status",
                &[
                    "Not Started",
                    "In Progress",
                    "Completed",
                    "Waiting on someone else",
                    "Deferred",
                ],
            ),
            pick("Priority", "Priority", &["High", "Normal", "Low"]),
            pick("Type", "Type", &["Call", "Email", "Meeting", "Other"]),
            // A date on the platform; the language has one temporal type.
            datetime("ActivityDate", "Due Date Only"),
            FieldDef::new("Description", "Comments", FieldType::text_n(32000)),
            // Set from the Status value's IsClosed / the Priority value's IsHighPriority.
            boolean("IsClosed", "Closed").derived(&["Status"]),
            boolean("IsHighPriority", "High Priority").derived(&["Priority"]),
            // Derived from WhatId / WhoId (see the Object Reference's AccountId rules).
            lookup("AccountId", "Account ID", "Account", "Account").derived(&["WhatId", "WhoId"]),
            datetime("CompletedDateTime", "Completed Date/Time").read_only(),
        ]),
    )
}

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_user.htm
// https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-name.html
// Required on create: Username, LastName, Email, Alias, ProfileId and the four locale keys.
fn user() -> ObjectDef {
    object(
        "User",
        "User",
        "005",
        None,
        with_system_fields(vec![
            id("User ID"),
            // Globally unique across all orgs, in the form of an email address.
            text("Username", "Username", 80).unique().required(),
            text("Email", "Email", 128).required(),
            text("FirstName", "First Name", 40),
            text("LastName", "Last Name", 80).required(),
            text("Name", "Full Name", 121).derived(&["FirstName", "LastName"]),
            text("Alias", "Alias", 8).required(),
            text("CommunityNickname", "Nickname", 40),
            boolean("IsActive", "Active"),
            lookup("ProfileId", "Profile ID", "Profile", "Profile").required(),
            lookup("ManagerId", "Manager ID", "User", "Manager"),
            text("Title", "Title", 80),
            text("Department", "Department", 80),
            text("CompanyName", "Company Name", 80),
            text("Phone", "Phone", 40),
            text("MobilePhone", "Mobile", 40),
            text("FederationIdentifier", "SAML Federation ID", 512),
            // Restricted picklists with hundreds of values: kept as text.
            text("TimeZoneSidKey", "Time Zone", 40).required(),
            text("LocaleSidKey", "Locale", 40).required(),
            text("EmailEncodingKey", "Email Encoding", 40).required(),
            text("LanguageLocaleKey", "Language", 40).required(),
            datetime("LastLoginDate", "Last Login").read_only(),
        ]),
    )
}

// https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_profile.htm
// Minimal: User.ProfileId refers to it.
fn profile() -> ObjectDef {
    object(
        "Profile",
        "Profile",
        "00e",
        None,
        vec![
            id("Profile ID"),
            text("Name", "Name", 255).required(),
            FieldDef::new("Description", "Description", FieldType::text_n(255)),
            datetime("CreatedDate", "Created Date").read_only(),
            lookup("CreatedById", "Created By ID", "User", "CreatedBy").read_only(),
            datetime("LastModifiedDate", "Last Modified Date").read_only(),
            lookup(
                "LastModifiedById",
                "Last Modified By ID",
                "User",
                "LastModifiedBy",
            )
            .read_only(),
            datetime("SystemModstamp", "System Modstamp").read_only(),
        ],
    )
}

#[cfg(test)]
mod tests;
