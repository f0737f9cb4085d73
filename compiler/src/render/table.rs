//! The ownership map as the field guide draws it: one row per shared datum (a field that
//! crosses the seam), one column per system ("owns" / "replica" / "—"), then the mapping and
//! the value map. Built from the [`Plan`], the same data the runtime's guards use.

use crate::plan::{Literal, Plan, PlanMapping, PlanSystemKind};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write;

/// One shared datum.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The source field, `sf.Case.Priority`.
    pub datum: String,
    /// Per system alias, in the table's column order: "owns", "replica" or "—".
    pub roles: Vec<(String, String)>,
    /// `sf.Case.Priority -> snow.incident.urgency` (several targets separated by `; `).
    pub mapping: String,
    /// `"Critical" => "1", ..., _ => "3"`, `via customer`, or empty.
    pub value_map: String,
}

/// The table: the system columns and the rows, in the order the spec declares its mappings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OwnershipTable {
    pub systems: Vec<String>,
    pub rows: Vec<Row>,
}

/// Builds the table. Systems that can hold records (not Slack) are the columns.
pub fn build(plan: &Plan) -> OwnershipTable {
    let systems: Vec<String> = plan
        .systems
        .iter()
        .filter(|s| s.kind != PlanSystemKind::Slack)
        .map(|s| s.alias.clone())
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for link in &plan.links {
        for m in link.left_to_right.iter().chain(&link.right_to_left) {
            let datum = m.source.to_string();
            let at = *index.entry(datum.clone()).or_insert_with(|| {
                rows.push(Row {
                    datum: datum.clone(),
                    roles: systems
                        .iter()
                        .map(|s| {
                            let role = if *s == m.source.system { "owns" } else { "—" };
                            (s.clone(), role.to_string())
                        })
                        .collect(),
                    mapping: String::new(),
                    value_map: String::new(),
                });
                rows.len() - 1
            });
            if let Some(row) = rows.get_mut(at) {
                add_mapping(row, m);
            }
        }
    }
    OwnershipTable { systems, rows }
}

fn add_mapping(row: &mut Row, m: &PlanMapping) {
    for (system, role) in &mut row.roles {
        if *system == m.target.system && role != "owns" {
            *role = "replica".into();
        }
    }
    let sep = |s: &mut String| {
        if !s.is_empty() {
            s.push_str("; ");
        }
    };
    sep(&mut row.mapping);
    let _ = write!(row.mapping, "{} -> {}", m.source, m.target);
    let translation = describe_translation(m);
    if !translation.is_empty() {
        sep(&mut row.value_map);
        row.value_map.push_str(&translation);
    }
}

/// The value map and identity translation of a mapping, in the spec's own words.
pub fn describe_translation(m: &PlanMapping) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(map) = &m.value_map {
        for arm in &map.arms {
            parts.push(format!("{} => {}", lit(&arm.from), lit(&arm.to)));
        }
        if let Some(d) = &map.default {
            parts.push(format!("_ => {}", lit(d)));
        }
    }
    if let Some(via) = &m.via {
        parts.push(format!("via {}", via.identity));
    }
    parts.join(", ")
}

/// A literal as the spec writes it.
pub fn lit(l: &Literal) -> String {
    match l {
        Literal::String(s) => format!("{s:?}"),
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Duration(ms) => format!("{ms}ms"),
    }
}

impl OwnershipTable {
    fn header(&self) -> Vec<String> {
        let mut h = vec!["datum".to_string()];
        h.extend(self.systems.iter().cloned());
        h.push("mapping".into());
        h.push("value map".into());
        h
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let mut c = vec![r.datum.clone()];
                c.extend(r.roles.iter().map(|(_, role)| role.clone()));
                c.push(r.mapping.clone());
                c.push(r.value_map.clone());
                c
            })
            .collect()
    }

    /// A GitHub-flavoured Markdown table (for PR descriptions and docs).
    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        let header = self.header();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            header.iter().map(|_| "---|").collect::<String>()
        );
        for row in self.cells() {
            let cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    /// Columns aligned with spaces, for a terminal.
    pub fn text(&self) -> String {
        let header = self.header();
        let cells = self.cells();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |row: &[String]| {
            let padded: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for row in &cells {
            out.push_str(&line(row));
        }
        out
    }

    /// RFC 4180 CSV with a header row.
    pub fn csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        for row in std::iter::once(self.header()).chain(self.cells()) {
            let cells: Vec<String> = row.iter().map(|c| quote(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// `{"systems": [...], "rows": [{"datum", "roles": {alias: role}, "mapping", "value_map"}]}`
    pub fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let roles: serde_json::Map<String, serde_json::Value> = r
                    .roles
                    .iter()
                    .map(|(s, role)| (s.clone(), serde_json::Value::from(role.as_str())))
                    .collect();
                serde_json::json!({
                    "datum": r.datum,
                    "roles": roles,
                    "mapping": r.mapping,
                    "value_map": r.value_map,
                })
            })
            .collect();
        serde_json::json!({ "systems": self.systems, "rows": rows })
    }
}
