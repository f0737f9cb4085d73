//! A record as the Table API shows it: every value a string; a reference `{"link", "value"}`
//! (or its display value, or all three); a choice field its label under
//! `sysparm_display_value=true|all` (`state` "2" is "In Progress", `impact` "1" is "1 - High");
//! journal fields "". Keys in byte order, as the platform's JSON comes out of a sorted map here.
//!
//! The record is serialized straight into the answer ([`Shown`] implements `Serialize`):
//! building a `serde_json::Value` per field, copying it into `{"result": …}` and serializing
//! that was three quarters of a GET's instructions. What does not depend on the record — each
//! field's kind, reference target and its display field, choice labels, the sorted order — is
//! computed once per table ([`RenderField`]).

use super::{SnowState, TableMeta};
use crate::store::{as_text, Db, Record};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// Journal fields: written by appending, read back as "".
pub const JOURNAL: [&str; 2] = ["work_notes", "comments"];

/// (value, label) pairs of a choice field.
pub type Choices = &'static [(&'static str, &'static str)];

const INCIDENT_STATE: Choices = &[
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
];
/// impact, urgency and severity: "1 - High", …
const HIGH_MEDIUM_LOW: Choices = &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")];
const PRIORITY: Choices = &[
    ("1", "1 - Critical"),
    ("2", "2 - High"),
    ("3", "3 - Moderate"),
    ("4", "4 - Low"),
    ("5", "5 - Planning"),
];

/// The labels a base instance ships for a field, where they differ from the values.
/// `matrix`: the table derives priority from impact × urgency (the task tables).
pub fn shipped_choices(table: &str, field: &str, matrix: bool) -> Option<Choices> {
    match (table, field) {
        ("incident", "state" | "incident_state") => Some(INCIDENT_STATE),
        ("incident", "severity") => Some(HIGH_MEDIUM_LOW),
        (_, "impact" | "urgency") if matrix => Some(HIGH_MEDIUM_LOW),
        (_, "priority") if matrix => Some(PRIORITY),
        _ => None,
    }
}

/// How one field of a table is shown, fixed per table.
#[derive(Debug, Clone)]
pub struct RenderField {
    pub name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Plain,
    Journal,
    /// A reference: the target table and the field that names its records.
    Reference {
        table: String,
        display: String,
    },
    Choice(Choices),
}

/// Every field of `meta` in key order. `display_of` names each table's display field.
pub fn plan(meta: &TableMeta, display_of: &HashMap<String, String>) -> Vec<RenderField> {
    let mut out: Vec<RenderField> = meta
        .def
        .fields
        .iter()
        .map(|f| {
            let kind = if JOURNAL.contains(&f.name.as_str()) {
                Kind::Journal
            } else if let seam_compiler::catalog::FieldType::Ref { targets } = &f.ty {
                match targets.first().and_then(|t| Some((t, display_of.get(t)?))) {
                    Some((t, d)) => Kind::Reference {
                        table: t.clone(),
                        display: d.clone(),
                    },
                    None => Kind::Plain,
                }
            } else if let Some(c) = shipped_choices(meta.name(), &f.name, meta.priority_matrix) {
                Kind::Choice(c)
            } else {
                Kind::Plain
            };
            RenderField {
                name: f.name.clone(),
                kind,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// `sysparm_display_value`, `sysparm_exclude_reference_link`, `sysparm_fields`.
pub struct View {
    pub display: Display,
    pub exclude_links: bool,
    /// Requested fields in key order, without repeats.
    pub fields: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    Value,
    Label,
    Both,
}

impl View {
    pub fn from(params: &[(String, String)]) -> View {
        let p = |k| crate::util::param(params, k);
        let display = match p("sysparm_display_value")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("true") => Display::Label,
            Some("all") => Display::Both,
            _ => Display::Value,
        };
        View {
            display,
            exclude_links: p("sysparm_exclude_reference_link") == Some("true"),
            fields: p("sysparm_fields").filter(|s| !s.is_empty()).map(|s| {
                let mut f: Vec<String> = s.split(',').map(|f| f.trim().to_string()).collect();
                f.sort();
                f.dedup();
                f
            }),
        }
    }
}

/// One record, shown through a view; serializes as the Table API's JSON object.
pub struct Shown<'a> {
    pub sn: &'a SnowState,
    pub meta: &'a TableMeta,
    pub db: &'a Db,
    pub rec: &'a Record,
    pub view: &'a View,
}

/// `{"result": …}`.
#[derive(Serialize)]
pub struct Answer<T> {
    pub result: T,
}

#[derive(Serialize)]
struct Pair<'a> {
    display_value: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct LinkValue<'a> {
    link: Link<'a>,
    value: &'a str,
}

#[derive(Serialize)]
struct All<'a> {
    display_value: &'a str,
    link: Link<'a>,
    value: &'a str,
}

/// `{base}/api/now/table/{table}/{sys_id}`, written without an intermediate String.
struct Link<'a>(&'a str, &'a str, &'a str);

impl Serialize for Link<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "{}/api/now/table/{}/{}",
            self.0, self.1, self.2
        ))
    }
}

fn text(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        Some(Value::String(s)) => Cow::Borrowed(s),
        None => Cow::Borrowed(""),
        Some(other) => Cow::Owned(as_text(other)),
    }
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match &self.view.fields {
            None => {
                // The plan and the record are both in key order: walk them side by side
                // instead of searching the record once per field.
                let mut stored = self.rec.iter().peekable();
                for f in &self.meta.render {
                    let value = seek(&mut stored, &f.name);
                    self.entry(&mut map, f, value)?;
                }
            }
            Some(names) => {
                for name in names {
                    if let Some(f) = self.meta.render_field(name) {
                        self.entry(&mut map, f, self.rec.get(&f.name))?;
                    } else if name.contains('.') {
                        // A dot-walk shows the value it reaches, plainly.
                        let Some(v) =
                            super::table::lookup(self.sn, self.meta, self.db, self.rec, name)
                        else {
                            continue;
                        };
                        match self.view.display {
                            Display::Both => map.serialize_entry(
                                name,
                                &Pair {
                                    display_value: &v,
                                    value: &v,
                                },
                            )?,
                            _ => map.serialize_entry(name, &v)?,
                        }
                    }
                }
            }
        }
        map.end()
    }
}

/// The value stored under `name` in a record iterated in key order, for names asked in key
/// order: skips the keys before it (stored keys that are no field, such as journal entries).
pub fn seek<'a, I>(stored: &mut std::iter::Peekable<I>, name: &str) -> Option<&'a Value>
where
    I: Iterator<Item = (&'a String, &'a Value)>,
{
    while let Some((k, v)) = stored.peek() {
        match k.as_str().cmp(name) {
            std::cmp::Ordering::Less => {
                stored.next();
            }
            std::cmp::Ordering::Equal => return Some(*v),
            std::cmp::Ordering::Greater => return None,
        }
    }
    None
}

impl Shown<'_> {
    /// One field; `stored` is the record's value of it.
    fn entry<M: SerializeMap>(
        &self,
        map: &mut M,
        f: &RenderField,
        stored: Option<&Value>,
    ) -> Result<(), M::Error> {
        let value = match f.kind {
            Kind::Journal => Cow::Borrowed(""),
            _ => text(stored),
        };
        let value: &str = &value;
        let display = self.view.display;
        match &f.kind {
            Kind::Reference {
                table,
                display: field,
            } if !value.is_empty() => {
                let shown = self
                    .db
                    .table(table)
                    .and_then(|t| t.rows.get(value))
                    .map(|r| text(r.get(field.as_str())))
                    .unwrap_or(Cow::Borrowed(""));
                let link = Link(&self.sn.base_url, table, value);
                match (display, self.view.exclude_links) {
                    (Display::Label, _) => map.serialize_entry(&f.name, &*shown),
                    (Display::Both, true) => map.serialize_entry(
                        &f.name,
                        &Pair {
                            display_value: &shown,
                            value,
                        },
                    ),
                    (Display::Both, false) => map.serialize_entry(
                        &f.name,
                        &All {
                            display_value: &shown,
                            link,
                            value,
                        },
                    ),
                    (Display::Value, true) => map.serialize_entry(&f.name, value),
                    (Display::Value, false) => {
                        map.serialize_entry(&f.name, &LinkValue { link, value })
                    }
                }
            }
            Kind::Choice(choices) if display != Display::Value => {
                let label = choices
                    .iter()
                    .find(|(v, _)| *v == value)
                    .map_or(value, |(_, l)| *l);
                match display {
                    Display::Both => map.serialize_entry(
                        &f.name,
                        &Pair {
                            display_value: label,
                            value,
                        },
                    ),
                    _ => map.serialize_entry(&f.name, label),
                }
            }
            _ if display == Display::Both => map.serialize_entry(
                &f.name,
                &Pair {
                    display_value: value,
                    value,
                },
            ),
            _ => map.serialize_entry(&f.name, value),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use serde_json::json;

    /// Every field shown by walking the record beside the plan must be what asking for every
    /// field by name (a search of the record per field) shows, for each kind of view.
    #[tokio::test]
    async fn walking_the_record_shows_what_searching_it_shows() {
        let sn = SnowState::new(
            &SandboxConfig::ephemeral(),
            "http://127.0.0.1:1".into(),
            None,
        )
        .unwrap();
        let user = sn
            .create_in_process(
                "sys_user",
                json!({"user_name": "ada \"q\" — ü", "first_name": "Ada"}),
            )
            .unwrap();
        let id = sn
            .create_in_process(
                "incident",
                json!({"short_description": "quote \" backslash \\ newline \n bell \u{7} 🚀",
                       "caller_id": user, "assigned_to": "0123456789abcdef0123456789abcdef",
                       "impact": "1", "urgency": "2", "state": "2", "work_notes": "a note"}),
            )
            .unwrap();
        let meta = sn.table("incident").unwrap();
        let db = sn.store.read();
        let rec = db.table("incident").unwrap().rows.get(&id).unwrap();
        let mut sparse = Record::new();
        sparse.insert("__journal__comments".into(), json!(["x"]));
        sparse.insert("zzz_not_a_field".into(), json!(1));
        sparse.insert("active".into(), json!(true));
        let all: Vec<String> = meta.field_names_sorted().map(String::from).collect();
        for rec in [rec, &sparse, &Record::new()] {
            for display in [Display::Value, Display::Label, Display::Both] {
                for exclude_links in [false, true] {
                    let walked = View {
                        display,
                        exclude_links,
                        fields: None,
                    };
                    let searched = View {
                        display,
                        exclude_links,
                        fields: Some(all.clone()),
                    };
                    let show = |view| {
                        serde_json::to_string(&Shown {
                            sn: &sn,
                            meta,
                            db: &db,
                            rec,
                            view,
                        })
                        .unwrap()
                    };
                    assert_eq!(
                        show(&walked),
                        show(&searched),
                        "{display:?} {exclude_links}"
                    );
                }
            }
        }
    }
}
