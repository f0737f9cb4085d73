//! One face for both record platforms, so the engine's sync is written once: read a record,
//! find records by a key field, update, create. Values are compared as text
//! ([`canonical`]): `null`, `""` and a missing field are all "no value", the way ServiceNow
//! (which has no null) and Salesforce (which has no empty string) agree on it.

use serde_json::{Map, Value};

use crate::connectors::salesforce::{soql_literal, SalesforceClient};
use crate::connectors::servicenow::{query_value, ServiceNowClient};
use crate::connectors::{as_text, ConnectorError, ErrorClass, Record};

pub enum Platform {
    Salesforce(SalesforceClient),
    ServiceNow(ServiceNowClient),
}

/// A field's value as the engine compares it.
pub fn canonical(v: Option<&Value>) -> Option<String> {
    v.and_then(as_text).filter(|s| !s.is_empty())
}

impl Platform {
    /// The field that holds a record's own id.
    pub fn id_field(&self) -> &'static str {
        match self {
            Platform::Salesforce(_) => "Id",
            Platform::ServiceNow(_) => "sys_id",
        }
    }

    /// How "no value" is written.
    pub fn empty(&self) -> Value {
        match self {
            Platform::Salesforce(_) => Value::Null,
            Platform::ServiceNow(_) => Value::String(String::new()),
        }
    }

    pub async fn get(
        &self,
        object: &str,
        id: &str,
        fields: &[&str],
    ) -> Result<Option<Record>, ConnectorError> {
        match self {
            Platform::Salesforce(c) => c.get(object, id, fields).await,
            Platform::ServiceNow(c) => c.get(object, id, fields).await,
        }
    }

    /// Up to two records whose `field` equals `value` (two is enough to tell "several").
    pub async fn find(
        &self,
        object: &str,
        field: &str,
        value: &str,
        fields: &[&str],
    ) -> Result<Vec<Record>, ConnectorError> {
        match self {
            Platform::Salesforce(c) => {
                let soql = format!(
                    "SELECT {} FROM {object} WHERE {field} = {} LIMIT 2",
                    fields.join(", "),
                    soql_literal(value)
                );
                c.query(&soql).await
            }
            Platform::ServiceNow(c) => {
                let Some(v) = query_value(value) else {
                    return Err(ConnectorError {
                        system: "servicenow".into(),
                        operation: format!("GET {object}?sysparm_query"),
                        status: None,
                        code: None,
                        message: format!("the value of `{field}` cannot be used in a query"),
                        class: ErrorClass::Permanent,
                    });
                };
                c.query(object, &format!("{field}={v}"), fields, 2).await
            }
        }
    }

    pub async fn update(
        &self,
        object: &str,
        id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(), ConnectorError> {
        match self {
            Platform::Salesforce(c) => c.update(object, id, fields).await,
            Platform::ServiceNow(c) => c.update(object, id, fields).await.map(|_| ()),
        }
    }

    /// Creates a record; returns its id.
    pub async fn create(
        &self,
        object: &str,
        fields: &Map<String, Value>,
    ) -> Result<String, ConnectorError> {
        match self {
            Platform::Salesforce(c) => c.create(object, fields).await,
            Platform::ServiceNow(c) => {
                let rec = c.create(object, fields).await?;
                canonical(rec.get("sys_id")).ok_or_else(|| ConnectorError {
                    system: "servicenow".into(),
                    operation: format!("POST {object}"),
                    status: None,
                    code: None,
                    message: "the created record has no sys_id".into(),
                    class: ErrorClass::Permanent,
                })
            }
        }
    }
}
