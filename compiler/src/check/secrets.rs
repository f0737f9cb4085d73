//! `seam::secret::literal`: credentials must come from the environment (`env("VAR")`), so a
//! spec in version control never holds one. Messages name the setting, never the value.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::Model;
use crate::syntax::ast::Expr;

/// Setting names that always hold a credential.
fn is_secret_name(name: &str) -> bool {
    name.contains("secret") || name == "token" || name.contains("password") || name == "private_key"
}

pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for system in &model.systems {
        for setting in &system.decl.settings {
            let name = setting.name.name.as_str();
            if name == "auth" {
                if let Expr::Func { args, .. } = &setting.value {
                    for arg in args {
                        if !matches!(arg.value, Expr::Env { .. }) {
                            out.push(literal(&system.alias, &arg.name.name, arg.value.span()));
                        }
                    }
                } else if !matches!(setting.value, Expr::Env { .. }) {
                    out.push(literal(&system.alias, name, setting.value.span()));
                }
            } else if is_secret_name(name) && !matches!(setting.value, Expr::Env { .. }) {
                out.push(literal(&system.alias, name, setting.value.span()));
            }
        }
    }
    out
}

fn literal(system: &str, name: &str, span: crate::span::Span) -> Diagnostic {
    let var = format!("{}_{}", system, name).to_uppercase();
    Diagnostic::error(
        Code::SecretLiteral,
        format!("credential `{name}` of system `{system}` is written as a literal"),
        span,
    )
    .with_label("a secret in the spec ends up in version control")
    .with_help(format!(
        "read it from the environment: `{name} = env(\"{var}\")`, and rotate the credential if this file was ever committed"
    ))
}
