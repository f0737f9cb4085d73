//! The record store behind every emulator: tables of JSON records in insertion order, plus the
//! counters (auto numbers, id sequences) a platform keeps. One `Db` per system, behind a lock;
//! with `--state DIR` it is loaded at start and written back (atomically) when it changed.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One record: field name to value. Salesforce keeps typed JSON values, ServiceNow strings.
pub type Record = Map<String, Value>;

/// One object's or table's records, keyed by id, in insertion order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Table {
    pub rows: IndexMap<String, Record>,
}

/// Everything one system keeps.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Db {
    pub tables: HashMap<String, Table>,
    /// Named counters: auto numbers, id sequences, replay ids.
    pub counters: HashMap<String, u64>,
    /// Free-form per-system data (Slack channels and messages live here).
    #[serde(default)]
    pub extra: Map<String, Value>,
    /// Deleted records by object or table, as they were: the Salesforce Recycle Bin and
    /// ServiceNow's Deleted Records, from which `/__sandbox/undelete` restores them.
    #[serde(default)]
    pub deleted: HashMap<String, Table>,
}

impl Db {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn table_mut(&mut self, name: &str) -> &mut Table {
        self.tables.entry(name.to_string()).or_default()
    }

    /// Increments a counter and returns the new value (the first call returns `start`).
    pub fn next(&mut self, counter: &str, start: u64) -> u64 {
        let c = self
            .counters
            .entry(counter.to_string())
            .or_insert(start.saturating_sub(1));
        *c += 1;
        *c
    }
}

/// A `Db` behind a lock, with a dirty flag and an optional file it persists to.
#[derive(Debug)]
pub struct Store {
    db: RwLock<Db>,
    dirty: AtomicBool,
    path: Option<PathBuf>,
}

impl Store {
    /// A store, loaded from `dir/<name>.json` when a state directory is given and the file exists.
    pub fn open(dir: Option<&Path>, name: &str) -> Result<Store, crate::Error> {
        let path = dir.map(|d| d.join(format!("{name}.json")));
        let db = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| crate::Error::State(format!("{}: {e}", p.display())))?;
                serde_json::from_str(&text)
                    .map_err(|e| crate::Error::State(format!("{}: {e}", p.display())))?
            }
            _ => Db::default(),
        };
        Ok(Store {
            db: RwLock::new(db),
            dirty: AtomicBool::new(false),
            path,
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A write guard; marks the store dirty.
    pub fn write(&self) -> RwLockWriteGuard<'_, Db> {
        self.dirty.store(true, Ordering::Relaxed);
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Empties the store (the reset endpoint).
    pub fn reset(&self) {
        *self.write() = Db::default();
    }

    /// Writes the store to its file if it changed since the last flush.
    pub fn flush(&self) -> Result<(), crate::Error> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let text = {
            let db = self.read();
            serde_json::to_string(&*db).map_err(|e| crate::Error::State(e.to_string()))?
        };
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| crate::Error::State(format!("{}: {e}", path.display())))
    }
}

/// A value rendered as a plain string (ServiceNow keeps and compares everything as strings).
pub fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Recomputes the derived fields the sandbox can compute on its own (text joined from text
/// fields, e.g. `Contact.Name` from `FirstName LastName`, `sys_user.name`; `IsClosed` from a
/// `Status` of `Closed`). Returns the fields whose value changed. `null_when_empty`: Salesforce
/// keeps an empty value as null, ServiceNow as "".
pub fn derive(
    def: &seam_compiler::catalog::ObjectDef,
    rec: &mut Record,
    null_when_empty: bool,
) -> Vec<String> {
    use seam_compiler::catalog::FieldType;
    let mut changed = Vec::new();
    for f in def.fields.iter().filter(|f| !f.derived_from.is_empty()) {
        let new = match &f.ty {
            FieldType::Text { .. } => {
                let all_text = f.derived_from.iter().all(|s| {
                    def.field(s)
                        .is_some_and(|d| matches!(d.ty, FieldType::Text { .. }))
                });
                if !all_text {
                    continue;
                }
                let parts: Vec<String> = f
                    .derived_from
                    .iter()
                    .map(|s| rec.get(s).map(as_text).unwrap_or_default())
                    .filter(|s| !s.is_empty())
                    .collect();
                let joined = parts.join(" ");
                if joined.is_empty() && null_when_empty {
                    Value::Null
                } else {
                    Value::String(joined)
                }
            }
            FieldType::Bool if f.name == "IsClosed" => {
                let closed = rec.get("Status").and_then(Value::as_str) == Some("Closed");
                if null_when_empty {
                    Value::Bool(closed)
                } else {
                    Value::String(closed.to_string())
                }
            }
            _ => continue,
        };
        if rec.get(&f.name) != Some(&new) {
            rec.insert(f.name.clone(), new);
            changed.push(f.name.clone());
        }
    }
    changed
}
