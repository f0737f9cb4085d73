//! Generated specs for benchmarks and scale tests: `mappings` mappings over custom objects of
//! 100 fields each, with keys, own blocks, both directions and value maps, all clean.

use std::fmt::Write;

/// Fields per generated custom object.
const FIELDS_PER_OBJECT: usize = 100;

/// A clean spec with exactly `mappings` mappings.
pub fn spec(mappings: usize) -> String {
    let objects = mappings.div_ceil(FIELDS_PER_OBJECT).max(1);
    let mut s = String::with_capacity(mappings * 200);
    s.push_str("seam synthetic\n\n");
    s.push_str("system sf: salesforce {\n  url = env(\"SF_URL\")\n  auth = oauth_client_credentials(client_id = env(\"SF_ID\"), client_secret = env(\"SF_SECRET\"))\n}\n\n");
    s.push_str("system snow: servicenow {\n  url = env(\"SNOW_URL\")\n  auth = basic(user = env(\"SNOW_USER\"), password = env(\"SNOW_PASSWORD\"))\n}\n\n");
    let mut remaining = mappings;
    for o in 0..objects {
        let n = remaining.min(FIELDS_PER_OBJECT);
        remaining -= n;
        // One field in five flows back from ServiceNow; one in ten is a picklist with a map.
        let back = |i: usize| i % 5 == 4;
        let pick = |i: usize| i % 10 == 3;
        let _ = writeln!(s, "object sf.Obj{o}__c {{");
        for i in 0..n {
            let ty = if pick(i) {
                "picklist(\"A\", \"B\", \"C\")"
            } else {
                "text"
            };
            let _ = writeln!(s, "  F{i}__c: {ty}");
        }
        s.push_str("}\n\n");
        let _ = writeln!(s, "object snow.u_obj{o} {{\n  u_key: text unique");
        for i in 0..n {
            let ty = if pick(i) {
                "picklist(\"1\", \"2\", \"3\")"
            } else {
                "text"
            };
            let _ = writeln!(s, "  u_f{i}: {ty}");
        }
        s.push_str("}\n\n");
        let _ = writeln!(s, "own sf {{");
        for i in (0..n).filter(|&i| !back(i)) {
            let _ = writeln!(s, "  Obj{o}__c.F{i}__c");
        }
        let _ = writeln!(s, "}}\n\nown snow {{");
        for i in (0..n).filter(|&i| back(i)) {
            let _ = writeln!(s, "  u_obj{o}.u_f{i}");
        }
        s.push_str("}\n\n");
        let _ = writeln!(s, "link l{o}: sf.Obj{o}__c <-> snow.u_obj{o} {{");
        let _ = writeln!(s, "  key sf.Obj{o}__c.Id <-> snow.u_obj{o}.u_key");
        for i in 0..n {
            let (from, to) = if back(i) {
                (
                    format!("snow.u_obj{o}.u_f{i}"),
                    format!("sf.Obj{o}__c.F{i}__c"),
                )
            } else {
                (
                    format!("sf.Obj{o}__c.F{i}__c"),
                    format!("snow.u_obj{o}.u_f{i}"),
                )
            };
            if pick(i) {
                let _ = writeln!(
                    s,
                    "  {from} -> {to} map {{ \"A\" => \"1\" \"B\" => \"2\" \"C\" => \"3\" }}"
                );
            } else {
                let _ = writeln!(s, "  {from} -> {to}");
            }
        }
        s.push_str("}\n\n");
    }
    s
}
