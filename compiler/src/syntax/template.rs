//! Template strings (stub until the parser lands).

use super::ast::{StrLit, Template, TemplatePart};
use crate::diagnostic::Diagnostic;

pub fn parse_template(lit: &StrLit) -> Result<Template, Diagnostic> {
    Ok(Template {
        parts: vec![TemplatePart::Text(lit.value.clone())],
        span: lit.span,
    })
}
