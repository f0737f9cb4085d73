//! Unit tests per check: each asserts the code, the message, the help and the underlined text
//! of the diagnostic it expects, so a regression in any of them fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::codes::Code;
use crate::diagnostic::Diagnostic;

const SYSTEMS: &str = r#"
seam t
system sf: salesforce {
  url = env("SF_URL")
  auth = oauth_client_credentials(client_id = env("SF_ID"), client_secret = env("SF_SECRET"))
}
system snow: servicenow {
  url = env("SNOW_URL")
  auth = basic(user = env("SNOW_USER"), password = env("SNOW_PASSWORD"))
}
system chat: slack { auth = bearer(token = env("SLACK_TOKEN")) }
"#;

/// Checks `SYSTEMS + body` and returns the text and the diagnostics.
fn run(body: &str) -> (String, Vec<Diagnostic>) {
    let src = format!("{SYSTEMS}{body}");
    let checked = crate::check(&src);
    (src, checked.diagnostics)
}

/// The one diagnostic with `code`; fails listing all when there is not exactly one.
fn only(body: &str, code: Code) -> (String, Diagnostic) {
    let (src, diags) = run(body);
    let matching: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == code).collect();
    assert_eq!(matching.len(), 1, "expected one {code}, got: {diags:#?}");
    (src.clone(), matching[0].clone())
}

fn underlined<'a>(src: &'a str, d: &Diagnostic) -> &'a str {
    let s = d.primary_span();
    &src[s.start..s.end]
}

fn assert_diag(body: &str, code: Code, message: &str, help_contains: &str, text: &str) {
    let (src, d) = only(body, code);
    assert_eq!(d.message, message);
    let help = d.help.clone().unwrap_or_default();
    assert!(help.contains(help_contains), "help was: {help}");
    assert_eq!(underlined(&src, &d), text);
}

fn clean(body: &str) {
    let (_, diags) = run(body);
    assert!(diags.is_empty(), "expected no diagnostics, got: {diags:#?}");
}

const LINK: &str = r#"
own sf { Case.Subject, Case.Priority }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Subject -> snow.incident.short_description
}
"#;

#[test]
fn a_minimal_link_is_clean() {
    clean(LINK);
}

#[test]
fn not_owner_names_the_field_and_the_fix() {
    assert_diag(
        r#"
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Subject -> snow.incident.short_description
}"#,
        Code::OwnershipNotOwner,
        "`sf.Case.Subject` crosses the seam but `sf` does not own it",
        "add `Case.Subject` to `own sf { ... }`",
        "sf.Case.Subject",
    );
}

#[test]
fn replica_also_owned_is_a_conflict() {
    assert_diag(
        &format!("{LINK}\nown snow {{ incident.short_description }}"),
        Code::OwnershipConflict,
        "`snow.incident.short_description` has two owners",
        "remove `incident.short_description` from `own snow`",
        "incident.short_description",
    );
}

#[test]
fn two_mappings_into_one_field_conflict() {
    assert_diag(
        r#"
own sf { Case.Subject, Case.Description }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Subject -> snow.incident.short_description
  sf.Case.Description -> snow.incident.short_description
}"#,
        Code::OwnershipConflict,
        "`snow.incident.short_description` has two writers",
        "exactly one source",
        "snow.incident.short_description",
    );
}

#[test]
fn owning_a_key_target_conflicts() {
    assert_diag(
        &format!("{LINK}\nown snow {{ incident.correlation_id }}"),
        Code::OwnershipConflict,
        "`snow.incident.correlation_id` has two owners",
        "needs no owner",
        "incident.correlation_id",
    );
}

#[test]
fn writing_a_derived_field_is_refused() {
    assert_diag(
        r#"
own sf { Case.Priority }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Priority -> snow.incident.priority map { "High" => "1", "Medium" => "3", "Low" => "5" }
}"#,
        Code::OwnershipConflict,
        "`snow.incident.priority` is read-only: the platform computes it from `impact`, `urgency`",
        "write its inputs instead",
        "snow.incident.priority",
    );
}

#[test]
fn workflow_writing_a_replica_conflicts() {
    assert_diag(
        &format!(
            "{LINK}\nworkflow w {{\n  on sf.Case.Priority changes\n  do {{ snow.update incident {{ short_description = \"x\" }} }}\n}}"
        ),
        Code::OwnershipConflict,
        "`snow.incident.short_description` is written by a workflow but is kept by the seam",
        "write its source `sf.Case.Subject` instead",
        "short_description",
    );
}

#[test]
fn cycle_shows_the_whole_chain_with_edge_kinds() {
    let (src, d) = only(
        r#"
own sf { Case.Priority }
own snow { incident.urgency }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Priority -> snow.incident.impact map { "High" => "1", "Medium" => "2", "Low" => "3" }
}
workflow w {
  on snow.incident.priority changes
  do { sf.update Case { Priority = "High" } }
}"#,
        Code::Cycle,
    );
    assert_eq!(
        d.message,
        "sync cycle: `sf.Case.Priority` -> `snow.incident.impact` -> `snow.incident.priority` -> `sf.Case.Priority`"
    );
    let help = d.help.clone().unwrap_or_default();
    assert!(help.contains("mapping in link `ci`"), "{help}");
    assert!(help.contains("derived by the platform"), "{help}");
    assert!(help.contains("workflow `w`"), "{help}");
    assert!(underlined(&src, &d).starts_with("sf.Case.Priority -> snow.incident.impact"));
}

#[test]
fn a_created_workflow_that_creates_its_own_object_is_a_cycle() {
    let (_, d) = only(
        "workflow w {\n  on sf.Case created\n  do { sf.create Case { Subject = \"again\" } }\n}",
        Code::Cycle,
    );
    assert!(d.message.contains("`sf.Case (created)`"), "{}", d.message);
}

#[test]
fn identity_on_a_display_name_is_unstable() {
    assert_diag(
        r#"
own sf { Case.AccountId }
identity customer = sf.Account.Name <-> snow.core_company.sys_id
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.AccountId -> snow.incident.company via customer
}"#,
        Code::IdentityUnstableKey,
        "identity `customer` is keyed on `sf.Account.Name`, which is not a stable key",
        "never on a display name",
        "sf.Account.Name",
    );
}

#[test]
fn link_without_key() {
    assert_diag(
        "own sf { Case.Subject }\nlink ci: sf.Case <-> snow.incident {\n  sf.Case.Subject -> snow.incident.short_description\n}",
        Code::IdentityUnstableKey,
        "link `ci` has no `key`",
        "add `key sf.Case.Id <-> snow.incident.correlation_id`",
        "ci",
    );
}

#[test]
fn incomplete_map_lists_the_missing_values() {
    assert_diag(
        r#"
own sf { Case.Priority }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Priority -> snow.incident.urgency map { "High" => "1" }
}"#,
        Code::MapIncomplete,
        "the map from `sf.Case.Priority` has no arm for \"Medium\", \"Low\"",
        "or a default arm `_ => ...`",
        "map { \"High\" => \"1\" }",
    );
}

#[test]
fn map_output_must_be_a_target_value() {
    assert_diag(
        r#"
own sf { Case.Priority }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.Priority -> snow.incident.urgency map { "High" => "1", "Medium" => "2", _ => "4" }
}"#,
        Code::MapInvalidValue,
        "\"4\" is not a value of `snow.incident.urgency`",
        "`urgency` allows \"1\", \"2\", \"3\"",
        "\"4\"",
    );
}

#[test]
fn becomes_literal_must_be_a_picklist_value() {
    assert_diag(
        "workflow w {\n  on sf.Case.Priority becomes \"Urgent\"\n  do { chat.post(channel = \"#ops\", text = \"x\") }\n}",
        Code::MapInvalidValue,
        "\"Urgent\" is not a value of `sf.Case.Priority`",
        "allows \"High\", \"Medium\", \"Low\"",
        "\"Urgent\"",
    );
}

#[test]
fn ref_to_ref_without_via_is_a_type_mismatch() {
    assert_diag(
        r#"
own sf { Case.AccountId }
link ci: sf.Case <-> snow.incident {
  key sf.Case.Id <-> snow.incident.correlation_id
  sf.Case.AccountId -> snow.incident.company
}"#,
        Code::TypeMismatch,
        "`sf.Case.AccountId` is ref(Account) but `snow.incident.company` is ref(core_company)",
        "via IDENTITY",
        "sf.Case.AccountId -> snow.incident.company",
    );
}

#[test]
fn literal_secret_never_echoes_the_value() {
    let (src, d) = only(
        "system x: servicenow { url = \"https://x\" auth = basic(user = env(\"U\"), password = \"hunter2\") }",
        Code::SecretLiteral,
    );
    assert_eq!(
        d.message,
        "credential `password` of system `x` is written as a literal"
    );
    assert!(
        !d.message.contains("hunter2") && !d.help.clone().unwrap_or_default().contains("hunter2")
    );
    assert_eq!(underlined(&src, &d), "\"hunter2\"");
}

#[test]
fn unused_custom_field_and_identity_warn() {
    let (_, diags) = run(
        "object sf.Account { Key__c: text unique }\nobject snow.core_company { u_key: text unique }\nobject sf.Case { Spare__c: text }\nidentity customer = sf.Account.Key__c <-> snow.core_company.u_key",
    );
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "custom field `sf.Case.Spare__c` is never used",
            "identity `customer` is never used"
        ]
    );
    assert!(diags
        .iter()
        .all(|d| d.code == Code::Unused && !d.is_error()));
}

#[test]
fn unknown_field_suggests_the_nearest_and_does_not_cascade() {
    let (src, diags) = run(
        "own sf { Case.Subjct }\nlink ci: sf.Case <-> snow.incident {\n  key sf.Case.Id <-> snow.incident.correlation_id\n  sf.Case.Subjct -> snow.incident.short_description\n}",
    );
    assert!(
        diags.iter().all(|d| d.code == Code::NameUnknown),
        "{diags:#?}"
    );
    assert_eq!(
        diags.len(),
        2,
        "one per mention, no follow-on errors: {diags:#?}"
    );
    assert_eq!(diags[0].message, "unknown field `sf.Case.Subjct`");
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `Subject`?"));
    assert_eq!(underlined(&src, &diags[0]), "Subjct");
}

#[test]
fn duplicate_link_points_at_both() {
    let (_, d) = only(
        &format!("{LINK}\nlink ci: sf.Case <-> snow.problem {{ key sf.Case.Id <-> snow.problem.correlation_id }}"),
        Code::NameDuplicate,
    );
    assert_eq!(d.message, "link `ci` is declared twice");
    assert_eq!(d.labels.len(), 2);
}

#[test]
fn a_key_written_id_first_or_reversed_targets_the_writable_side() {
    // The link is written from the ServiceNow side: the seam writes `correlation_id`, never
    // the platform-set `Case.Id`.
    clean(
        "own snow { incident.short_description }\nlink ic: snow.incident <-> sf.Case {\n  key snow.incident.correlation_id <-> sf.Case.Id\n  snow.incident.short_description -> sf.Case.Subject\n}",
    );
    assert_diag(
        "own sf { Case.Subject }\nown snow { incident.correlation_id }\nlink ic: snow.incident <-> sf.Case {\n  key sf.Case.Id <-> snow.incident.correlation_id\n  sf.Case.Subject -> snow.incident.short_description\n}",
        Code::OwnershipConflict,
        "`snow.incident.correlation_id` has two owners",
        "a link key is written once by the seam",
        "incident.correlation_id",
    );
}

#[test]
fn a_typo_in_a_link_header_does_not_report_what_the_link_uses_as_unused() {
    let (_, diags) = run(
        "object sf.Case { Incident_Number__c: text }\nobject sf.Account { Key__c: text unique }\nobject snow.core_company { u_key: text unique }\nidentity customer = sf.Account.Key__c <-> snow.core_company.u_key\nown sf { Case.AccountId }\nown snow { incident.number }\nlink ci: sf.Cas <-> snow.incident {\n  key sf.Case.Id <-> snow.incident.correlation_id\n  sf.Case.AccountId -> snow.incident.company via customer\n  snow.incident.number -> sf.Case.Incident_Number__c\n}",
    );
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages, ["unknown object `sf.Cas`"]);
}

#[test]
fn a_misspelt_via_or_field_does_not_report_the_meant_declaration_as_unused() {
    let (_, diags) = run(
        "object sf.Case { Incident_Number__c: text }\nobject sf.Account { Key__c: text unique }\nobject snow.core_company { u_key: text unique }\nidentity customer = sf.Account.Key__c <-> snow.core_company.u_key\nown sf { Case.AccountId }\nown snow { incident.number }\nlink ci: sf.Case <-> snow.incident {\n  key sf.Case.Id <-> snow.incident.correlation_id\n  sf.Case.AccountId -> snow.incident.company via custmer\n  snow.incident.number -> sf.Case.Incident_Numbr__c\n}",
    );
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "unknown identity `custmer`",
            "unknown field `sf.Case.Incident_Numbr__c`"
        ]
    );
}

#[test]
fn mapping_into_a_key_target_says_it_is_the_key() {
    assert_diag(
        "own sf { Case.Subject, Case.CaseNumber }\nlink ci: sf.Case <-> snow.incident {\n  key sf.Case.Id <-> snow.incident.correlation_id\n  sf.Case.CaseNumber -> snow.incident.correlation_id\n}",
        Code::OwnershipConflict,
        "`snow.incident.correlation_id` has two writers",
        "the key target is written once by the seam",
        "snow.incident.correlation_id",
    );
}

/// A large spec (past every threshold for threads) with a two-field loop in the first link
/// (also an ownership conflict) and a value map missing an arm in the last.
fn large_spec_with_errors() -> String {
    let src = crate::synthetic::spec(2_500)
        .replacen(
            "  sf.Obj0__c.F0__c -> snow.u_obj0.u_f0\n",
            "  sf.Obj0__c.F0__c -> snow.u_obj0.u_f0\n  snow.u_obj0.u_f0 -> sf.Obj0__c.F0__c\n",
            1,
        )
        .replacen("  F0__c: text\n", "  F0__c: text\n  Spare__c: text\n", 1)
        .replacen("  F1__c: text\n", "  F1__c: number\n", 1);
    let arm = " \"C\" => \"3\"";
    let at = src.rfind(arm).unwrap();
    format!("{}{}", &src[..at], &src[at + arm.len()..])
}

#[test]
fn checks_shared_between_threads_report_the_same_in_the_same_order() {
    let src = large_spec_with_errors();
    let file = crate::syntax::parse(&src).unwrap();
    let (model, _) = crate::resolve::resolve(&file);
    let serial = super::run_on(&model, false);
    assert_eq!(super::run_on(&model, true), serial);
    assert_eq!(super::run(&model), serial);
    // Diagnostics from both sides of the thread split.
    for code in [
        Code::Cycle,
        Code::OwnershipConflict,
        Code::MapIncomplete,
        Code::TypeMismatch,
        Code::Unused,
    ] {
        assert!(serial.iter().any(|d| d.code == code), "no {code:?}");
    }
    // Three threads; and jobs nobody took, which `finish` runs itself.
    let jobs = super::Jobs::new(&model);
    std::thread::scope(|scope| {
        scope.spawn(|| jobs.work());
        scope.spawn(|| jobs.work());
        jobs.work();
    });
    assert_eq!(jobs.finish(), serial);
    assert_eq!(super::Jobs::new(&model).finish(), serial);
}

#[test]
fn check_model_reports_what_check_reports_without_the_ast() {
    let small = format!("{SYSTEMS}{}", LINK.replace("short_description", "nope"));
    for src in [
        large_spec_with_errors(),
        small,
        "seam x\nobject {".to_string(),
    ] {
        let (full, lean) = (crate::check(&src), crate::check_model(&src));
        assert!(!full.diagnostics.is_empty());
        assert_eq!(lean.diagnostics, full.diagnostics);
        let plan = |c: &crate::Checked| c.model.as_ref().map(crate::Plan::from_model);
        assert_eq!(plan(&lean), plan(&full));
        assert!(lean.file.is_none());
    }
}
