//! Rendering diagnostics: miette's graphical report for people, JSON and SARIF 2.1.0 for
//! machines. Colour only when stderr is a terminal and `NO_COLOR` is unset.

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    NamedSource, SourceCode, SourceSpan, SpanContents,
};
use seam_compiler::{Code, Diagnostic, LineIndex, Severity};
use serde_json::{json, Value};
use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;

/// A diagnostic together with the file it belongs to.
pub struct FileDiagnostic<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub diagnostic: &'a Diagnostic,
}

/// Adapts a compiler diagnostic to miette's trait (the compiler itself stays renderer-free).
struct Adapter<'a, S: SourceCode + 'static> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<S>,
    /// The length of the source's text.
    len: usize,
}

/// A file's text with the starts of its lines, as miette counts them (`\n`, `\r\n` and a lone
/// `\r` each end a line), shared by every diagnostic of the file.
///
/// miette's own `SourceCode` for text walks from the first byte to the span on every read, and
/// the graphical handler reads several times per diagnostic: a large spec with thousands of
/// diagnostics took tens of seconds to print. Here each read hands miette the text from the
/// start of the first context line it can show, and shifts the answer back, so the output is
/// byte for byte miette's own (tested against it) at the cost of the shown lines only.
#[derive(Clone)]
struct Indexed {
    text: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl Indexed {
    fn new(text: &str) -> Indexed {
        let mut line_starts = vec![0];
        let mut bytes = text.bytes().enumerate().peekable();
        while let Some((i, b)) = bytes.next() {
            match b {
                b'\r' if bytes.next_if(|&(_, next)| next == b'\n').is_some() => {
                    line_starts.push(i + 2)
                }
                b'\r' | b'\n' => line_starts.push(i + 1),
                _ => {}
            }
        }
        Indexed {
            text: Arc::from(text),
            line_starts: line_starts.into(),
        }
    }
}

impl SourceCode for Indexed {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        // The line holding the span's start, and one line before the first that miette may
        // show (its walk stops one byte before an empty span, which may end the line above).
        let line = self
            .line_starts
            .partition_point(|&s| s <= span.offset())
            .saturating_sub(1);
        let skipped = line.saturating_sub(context_lines_before + 1);
        let from = self.line_starts.get(skipped).copied().unwrap_or(0);
        let rest = self
            .text
            .as_bytes()
            .get(from..)
            .ok_or(MietteError::OutOfBounds)?;
        let local = SourceSpan::new((span.offset() - from).into(), span.len());
        let inner = rest.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            SourceSpan::new((inner.span().offset() + from).into(), inner.span().len()),
            inner.line() + skipped,
            inner.column(),
            inner.line_count() + skipped,
        )))
    }
}

impl<S: SourceCode> fmt::Debug for Adapter<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl<S: SourceCode> fmt::Display for Adapter<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl<S: SourceCode> std::error::Error for Adapter<'_, S> {}

impl<S: SourceCode> miette::Diagnostic for Adapter<'_, S> {
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
        let len = self.len;
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
    Human::new(colour, width).render(d)
}

/// Graphical reports of many diagnostics: a file's text is indexed once, for all of its
/// diagnostics in a row, not copied and scanned again for each.
pub struct Human<'a> {
    handler: GraphicalReportHandler,
    /// The last file seen (its name and text, borrowed, so they cannot change while cached)
    /// and its indexed copy.
    last: Option<(&'a str, &'a str, Indexed)>,
}

impl<'a> Human<'a> {
    pub fn new(colour: bool, width: usize) -> Human<'a> {
        let theme = if colour {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        Human {
            handler: GraphicalReportHandler::new_themed(theme)
                .with_width(width)
                .with_links(false),
            last: None,
        }
    }

    pub fn render(&mut self, d: &FileDiagnostic<'a>) -> String {
        let source = match &self.last {
            Some((file, text, source)) if *file == d.file && std::ptr::eq(*text, d.text) => {
                source.clone()
            }
            _ => {
                let source = Indexed::new(d.text);
                self.last = Some((d.file, d.text, source.clone()));
                source
            }
        };
        self.report(d, source)
    }

    fn report<S: SourceCode + 'static>(&self, d: &FileDiagnostic<'_>, source: S) -> String {
        let adapter = Adapter {
            diagnostic: d.diagnostic,
            source: NamedSource::new(d.file, source),
            len: d.text.len(),
        };
        let mut out = String::new();
        if self.handler.render_report(&mut out, &adapter).is_err() {
            out = format!("{}: {}\n", d.diagnostic.code, d.diagnostic.message);
        }
        out
    }
}

/// `{"diagnostics": [{"code", "severity", "message", "file", "line", "column", "help"}]}`
pub fn json(diagnostics: &[FileDiagnostic<'_>]) -> Value {
    let mut indexes = Indexes::default();
    let items: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let (line, column) = d.diagnostic.line_col(indexes.of(d.text));
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

/// The line index of the last text asked for: diagnostics come file by file, so each file's
/// text is indexed once, not once per diagnostic.
#[derive(Default)]
struct Indexes<'a> {
    last: Option<LineIndex<'a>>,
}

impl<'a> Indexes<'a> {
    fn of(&mut self, text: &'a str) -> &LineIndex<'a> {
        let stale = !matches!(&self.last, Some(index) if std::ptr::eq(index.text(), text));
        if stale {
            self.last = None;
        }
        self.last.get_or_insert_with(|| LineIndex::new(text))
    }
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
    let mut indexes = Indexes::default();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let index = indexes.of(d.text);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What miette reads for a span, as plain values.
    fn read(
        source: &dyn SourceCode,
        offset: usize,
        len: usize,
        context: usize,
    ) -> Option<(Vec<u8>, usize, usize, usize, usize, usize)> {
        let span = SourceSpan::new(offset.into(), len);
        let c = source.read_span(&span, context, context).ok()?;
        Some((
            c.data().to_vec(),
            c.span().offset(),
            c.span().len(),
            c.line(),
            c.column(),
            c.line_count(),
        ))
    }

    #[test]
    fn indexed_source_reads_what_miettes_own_reads() {
        let texts = [
            "",
            "one line",
            "a\nb\nc\n",
            "link x {\n  sf.Case.Subject -> sn.incident.short_description\n}\n",
            "crlf\r\nlines\r\n\r\nend",
            "lone\rcarriage\rreturns\n\rmixed\r\n",
            "\n\n\n\n",
            "ünï\ncödé ✓\n→ x\n",
        ];
        let mut compared = 0;
        for text in texts {
            let ours = Indexed::new(text);
            let theirs = text.to_string();
            // Spans inside the text, as `labels` clamps them (miette's own reader panics past
            // the end).
            for offset in 0..=text.len() {
                for len in 0..=text.len() - offset {
                    for context in 0..=3 {
                        assert_eq!(
                            read(&ours, offset, len, context),
                            read(&theirs, offset, len, context),
                            "{text:?} at {offset}+{len}, context {context}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }

    #[test]
    fn reports_are_miettes_own_with_the_text_as_a_string() {
        let text = "system sf: salesforce {}\nnot a seam line\r\nanother\n".repeat(50);
        let diagnostics: Vec<Diagnostic> = (0..40)
            .map(|i| {
                let start = i * 37 % (text.len() - 5);
                Diagnostic::error(
                    Code::Syntax,
                    format!("problem {i}"),
                    seam_compiler::Span::new(start, start + 4),
                )
                .with_label("here")
                .with_secondary(seam_compiler::Span::new(0, 6), "declared here")
            })
            .collect();
        let mut human = Human::new(false, 100);
        for d in &diagnostics {
            let fd = FileDiagnostic {
                file: "x.seam",
                text: &text,
                diagnostic: d,
            };
            // The construction before the index: the whole text copied into a String.
            let before = human.report(&fd, text.clone());
            assert!(before.contains("x.seam:"), "{before}");
            assert_eq!(human.render(&fd), before);
            assert_eq!(super::human(&fd, false, 100), before);
        }
    }
}
