//! Rendering diagnostics: miette's graphical report for people, JSON and SARIF 2.1.0 for
//! machines. Colour only when stderr is a terminal and `NO_COLOR` is unset.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use seam_compiler::{Code, Diagnostic, LineIndex, Severity};
use serde_json::{json, Value};
use std::fmt;
use std::io::IsTerminal;

/// A diagnostic together with the file it belongs to.
pub struct FileDiagnostic<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub diagnostic: &'a Diagnostic,
}

/// Adapts a compiler diagnostic to miette's trait (the compiler itself stays renderer-free).
struct Adapter<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Adapter<'_> {}

impl miette::Diagnostic for Adapter<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.source.inner().len();
        Some(Box::new(self.diagnostic.labels.iter().enumerate().map(
            move |(i, l)| {
                // Clamp so a span at the end of the file still renders.
                let start = l.span.start.min(len);
                let end = l.span.end.clamp(start, len);
                let span = miette::SourceSpan::new(start.into(), end - start);
                if i == 0 {
                    LabeledSpan::new_primary_with_span(l.text.clone(), span)
                } else {
                    LabeledSpan::new_with_span(l.text.clone(), span)
                }
            },
        )))
    }
}

/// Whether to colour output written to stderr.
pub fn use_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// The graphical report of one diagnostic (what `seam check` prints for people).
pub fn human(d: &FileDiagnostic<'_>, colour: bool, width: usize) -> String {
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let adapter = Adapter {
        diagnostic: d.diagnostic,
        source: NamedSource::new(d.file, d.text.to_string()),
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &adapter).is_err() {
        out = format!("{}: {}\n", d.diagnostic.code, d.diagnostic.message);
    }
    out
}

/// `{"diagnostics": [{"code", "severity", "message", "file", "line", "column", "help"}]}`
pub fn json(diagnostics: &[FileDiagnostic<'_>]) -> Value {
    let items: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let (line, column) = d.diagnostic.line_col(&LineIndex::new(d.text));
            json!({
                "code": d.diagnostic.code.as_str(),
                "severity": d.diagnostic.severity,
                "message": d.diagnostic.message,
                "file": d.file,
                "line": line,
                "column": column,
                "help": d.diagnostic.help,
            })
        })
        .collect();
    json!({ "diagnostics": items })
}

/// The short description of each rule, for SARIF's rule metadata.
fn rule_description(code: Code) -> &'static str {
    match code {
        Code::Syntax => "The file does not parse",
        Code::NameUnknown => "An unknown system, object, field, identity or link",
        Code::NameDuplicate => "A name declared twice",
        Code::OwnershipConflict => "A field with two owners or two writers",
        Code::OwnershipNotOwner => "A mapping whose source field its system does not own",
        Code::Cycle => "A cycle in the dependency graph",
        Code::IdentityUnstableKey => "An identity or link key on a field that is not id or unique",
        Code::MapIncomplete => "A picklist value with no map arm and no default",
        Code::MapInvalidValue => "A value the picklist does not allow",
        Code::TypeMismatch => "A mapping or comparison between incompatible types",
        Code::SecretLiteral => "A credential written as a literal",
        Code::Unused => "A declared identity or custom field that nothing uses",
    }
}

const DOCS: &str = "https://github.com/seam-dev/seam/blob/main/spec/diagnostics.md";

/// SARIF 2.1.0, one run, with a rule per code used.
pub fn sarif(diagnostics: &[FileDiagnostic<'_>]) -> Value {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|&code| {
            json!({
                "id": code.as_str(),
                "name": code.as_str().trim_start_matches("seam::").replace("::", "/"),
                "shortDescription": { "text": rule_description(code) },
                "helpUri": format!("{DOCS}#{}", code.doc_anchor()),
                "defaultConfiguration": {
                    "level": if code == Code::Unused { "warning" } else { "error" }
                }
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let index = LineIndex::new(d.text);
            let span = d.diagnostic.primary_span();
            let (start_line, start_column) = index.line_col(span.start);
            let (end_line, end_column) = index.line_col(span.end.max(span.start));
            let rule_index = Code::ALL.iter().position(|&c| c == d.diagnostic.code);
            let mut text = d.diagnostic.message.clone();
            if let Some(help) = &d.diagnostic.help {
                text.push_str(&format!("\nhelp: {help}"));
            }
            json!({
                "ruleId": d.diagnostic.code.as_str(),
                "ruleIndex": rule_index,
                "level": match d.diagnostic.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": d.file.replace('\\', "/") },
                        "region": {
                            "startLine": start_line,
                            "startColumn": start_column,
                            "endLine": end_line,
                            "endColumn": end_column.max(start_column + usize::from(end_line == start_line && span.is_empty())),
                        }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "seam",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/seam-dev/seam",
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}
