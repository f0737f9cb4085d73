//! The ownership map as the field guide draws it: one row per shared datum (a field that
//! crosses the seam), one column per system ("owns" / "replica" / "—"), then the mapping and
//! the value map. Built from the [`Plan`], the same data the runtime's guards use.

use crate::fx::HashMap;
use crate::plan::{FieldPath, Literal, Plan, PlanMapping, PlanSystemKind};
use serde::Serialize;
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
    // Rows by their source field, borrowed from the plan: one string per row, made once.
    let mut index: HashMap<&FieldPath, usize> = HashMap::default();
    for link in &plan.links {
        for m in link.left_to_right.iter().chain(&link.right_to_left) {
            let at = *index.entry(&m.source).or_insert_with(|| {
                rows.push(Row {
                    datum: dotted(&m.source),
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
    push_dotted(&mut row.mapping, &m.source);
    row.mapping.push_str(" -> ");
    push_dotted(&mut row.mapping, &m.target);
    if m.value_map.is_some() || m.via.is_some() {
        sep(&mut row.value_map);
        write_translation(&mut row.value_map, m);
    }
}

/// `sf.Case.Priority`, as [`FieldPath`]'s `Display` writes it, without the formatter (the
/// table writes two paths per mapping).
fn dotted(f: &FieldPath) -> String {
    let mut out = String::with_capacity(f.system.len() + f.object.len() + f.field.len() + 2);
    push_dotted(&mut out, f);
    out
}

fn push_dotted(out: &mut String, f: &FieldPath) {
    out.push_str(&f.system);
    out.push('.');
    out.push_str(&f.object);
    out.push('.');
    out.push_str(&f.field);
}

/// The value map and identity translation of a mapping, in the spec's own words.
pub fn describe_translation(m: &PlanMapping) -> String {
    let mut out = String::new();
    write_translation(&mut out, m);
    out
}

/// [`describe_translation`], appended to `out`: the parts joined by `, `.
fn write_translation(out: &mut String, m: &PlanMapping) {
    let mut first = true;
    let mut part = |out: &mut String| {
        if !first {
            out.push_str(", ");
        }
        first = false;
    };
    if let Some(map) = &m.value_map {
        for arm in &map.arms {
            part(out);
            write_lit(out, &arm.from);
            out.push_str(" => ");
            write_lit(out, &arm.to);
        }
        if let Some(d) = &map.default {
            part(out);
            out.push_str("_ => ");
            write_lit(out, d);
        }
    }
    if let Some(via) = &m.via {
        part(out);
        out.push_str("via ");
        out.push_str(&via.identity);
    }
}

/// A literal as the spec writes it.
pub fn lit(l: &Literal) -> String {
    let mut out = String::new();
    write_lit(&mut out, l);
    out
}

fn write_lit(out: &mut String, l: &Literal) {
    let _ = match l {
        Literal::String(s) => write!(out, "{s:?}"),
        Literal::Number(n) => write!(out, "{n}"),
        Literal::Bool(b) => write!(out, "{b}"),
        Literal::Duration(ms) => write!(out, "{ms}ms"),
    };
}

impl OwnershipTable {
    fn header(&self) -> Vec<String> {
        let mut h = vec!["datum".to_string()];
        h.extend(self.systems.iter().cloned());
        h.push("mapping".into());
        h.push("value map".into());
        h
    }

    /// Each row's cells in column order, borrowed.
    fn cells(&self) -> impl Iterator<Item = Vec<&str>> {
        self.rows.iter().map(|r| {
            let mut c = Vec::with_capacity(r.roles.len() + 3);
            c.push(r.datum.as_str());
            c.extend(r.roles.iter().map(|(_, role)| role.as_str()));
            c.push(r.mapping.as_str());
            c.push(r.value_map.as_str());
            c
        })
    }

    /// A GitHub-flavoured Markdown table (for PR descriptions and docs).
    pub fn markdown(&self) -> String {
        let header = self.header();
        let mut out = String::with_capacity(self.text_bytes());
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            header.iter().map(|_| "---|").collect::<String>()
        );
        for row in self.cells() {
            out.push_str("| ");
            for (i, cell) in row.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(" | ");
                }
                if cell.contains('|') {
                    out.push_str(&cell.replace('|', "\\|"));
                } else {
                    out.push_str(cell);
                }
            }
            out.push_str(" |\n");
        }
        out
    }

    /// Columns aligned with spaces, for a terminal.
    pub fn text(&self) -> String {
        let header = self.header();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in self.cells() {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        // Each line: cells padded to their column's width, joined by two spaces, trailing
        // whitespace trimmed.
        let line = |out: &mut String, row: &[&str]| {
            let start = out.len();
            for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(c);
                for _ in c.chars().count()..*w {
                    out.push(' ');
                }
            }
            let kept = out.get(start..).map_or(0, |l| l.trim_end().len());
            out.truncate(start + kept);
            out.push('\n');
        };
        let mut out = String::with_capacity(self.text_bytes());
        line(&mut out, &header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
        line(&mut out, &rule);
        for row in self.cells() {
            line(&mut out, &row);
        }
        out
    }

    /// RFC 4180 CSV with a header row.
    pub fn csv(&self) -> String {
        let quote = |out: &mut String, s: &str| {
            if s.contains([',', '"', '\n']) {
                out.push('"');
                out.push_str(&s.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(s);
            }
        };
        let header = self.header();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut out = String::with_capacity(self.text_bytes());
        for row in std::iter::once(header).chain(self.cells()) {
            for (i, cell) in row.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(&mut out, cell);
            }
            out.push_str("\r\n");
        }
        out
    }

    /// A first guess at the rendered size (the cells' bytes plus separators), so the output
    /// string is allocated once for a large table.
    fn text_bytes(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.datum.len() + r.mapping.len() + r.value_map.len() + 16 * r.roles.len() + 16)
            .sum()
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The renderers as they were first written (a `Vec<Vec<String>>` of cloned cells, a
    /// string per padded or escaped cell): the reference the faster ones must match.
    mod reference {
        use super::super::OwnershipTable;
        use std::fmt::Write;

        fn header(t: &OwnershipTable) -> Vec<String> {
            let mut h = vec!["datum".to_string()];
            h.extend(t.systems.iter().cloned());
            h.push("mapping".into());
            h.push("value map".into());
            h
        }

        fn cells(t: &OwnershipTable) -> Vec<Vec<String>> {
            t.rows
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

        pub fn markdown(t: &OwnershipTable) -> String {
            let esc = |s: &str| s.replace('|', "\\|");
            let mut out = String::new();
            let header = header(t);
            let _ = writeln!(out, "| {} |", header.join(" | "));
            let _ = writeln!(
                out,
                "|{}",
                header.iter().map(|_| "---|").collect::<String>()
            );
            for row in cells(t) {
                let cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
            out
        }

        pub fn text(t: &OwnershipTable) -> String {
            let header = header(t);
            let cells = cells(t);
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

        pub fn csv(t: &OwnershipTable) -> String {
            let quote = |s: &str| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            let mut out = String::new();
            for row in std::iter::once(header(t)).chain(cells(t)) {
                let cells: Vec<String> = row.iter().map(|c| quote(c)).collect();
                out.push_str(&cells.join(","));
                out.push_str("\r\n");
            }
            out
        }
    }

    fn assert_renders_like_the_reference(t: &OwnershipTable) {
        assert_eq!(t.markdown(), reference::markdown(t));
        assert_eq!(t.text(), reference::text(t));
        assert_eq!(t.csv(), reference::csv(t));
    }

    #[test]
    fn awkward_cells_render_as_the_reference_does() {
        let row = |datum: &str, mapping: &str, value_map: &str| Row {
            datum: datum.into(),
            roles: vec![("sf".into(), "owns".into()), ("snow".into(), "—".into())],
            mapping: mapping.into(),
            value_map: value_map.into(),
        };
        let t = OwnershipTable {
            systems: vec!["sf".into(), "snow".into()],
            rows: vec![
                row("sf.Case.Ünïcödé", "a -> b; c -> d", ""),
                row("a|b", "x|y -> z", "\"p,q\" => \"1\"\n"),
                row("trailing  ", "", "   "),
                row("", "", ""),
            ],
        };
        assert_renders_like_the_reference(&t);
        assert_renders_like_the_reference(&OwnershipTable {
            systems: vec![],
            rows: vec![],
        });
    }

    #[test]
    fn every_example_table_renders_as_the_reference_does() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut texts = vec![crate::synthetic::spec(300)];
        for dir in ["examples", "spec/corpus"] {
            for e in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "seam") {
                    texts.push(std::fs::read_to_string(p).unwrap());
                }
            }
        }
        let mut rows = 0;
        for text in texts {
            let checked = crate::check_model(&text);
            if let (Some(model), false) = (&checked.model, checked.has_errors()) {
                let t = build(&Plan::from_model_unhashed(model));
                rows += t.rows.len();
                assert_renders_like_the_reference(&t);
            }
        }
        assert!(rows > 300, "{rows}");
    }
}
