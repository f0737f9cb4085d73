//! Template strings: the strings of workflow steps and alerts, where `{path}` interpolates a
//! value and `{{` / `}}` are literal braces.
//!
//! Parsing works on [`StrLit::raw`] (the text between the quotes as written), so every hole's
//! [`Path`] carries exact source spans: raw offset `i` is source offset `lit.span.start + 1 + i`.
//! Escapes (`\"`, `\\`, `\n`) in the raw text become their characters in `Text` parts.

use super::ast::{Ident, Path, StrLit, Template, TemplatePart};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Splits a string literal into text and `{path}` holes.
pub fn parse_template(lit: &StrLit) -> Result<Template, Diagnostic> {
    let base = lit.span.start + 1;
    let raw = lit.raw.as_str();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => text.push('\n'),
                Some((_, other)) => text.push(other),
                None => text.push('\\'),
            },
            '{' if chars.peek().is_some_and(|&(_, c)| c == '{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek().is_some_and(|&(_, c)| c == '}') => {
                chars.next();
                text.push('}');
            }
            '}' => {
                return Err(template_error(
                    "unmatched `}` in a template",
                    Span::new(base + i, base + i + 1),
                    "write `}}` for a literal brace",
                ))
            }
            '{' => {
                let Some(close) = raw.get(i + 1..).and_then(|r| r.find('}')) else {
                    return Err(template_error(
                        "unclosed `{` in a template",
                        Span::new(base + i, base + raw.len()),
                        "close the hole with `}`, or write `{{` for a literal brace",
                    ));
                };
                let inner_start = i + 1;
                let inner_end = inner_start + close;
                let path = hole(raw, inner_start, inner_end, base)?;
                if !text.is_empty() {
                    parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                }
                parts.push(TemplatePart::Hole(path));
                while chars.peek().is_some_and(|&(j, _)| j <= inner_end) {
                    chars.next();
                }
            }
            _ => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    Ok(Template {
        parts,
        span: lit.span,
    })
}

/// The path inside `{` `}`: `raw[start..end]`, surrounding spaces allowed.
fn hole(raw: &str, start: usize, end: usize, base: usize) -> Result<Path, Diagnostic> {
    let inner = raw.get(start..end).unwrap_or_default();
    let whole = Span::new(base + start - 1, base + end + 1);
    let lead = inner.len() - inner.trim_start().len();
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        return Err(template_error(
            "empty `{}` in a template",
            whole,
            "put a path inside (like `{sf.Case.CaseNumber}`), or write `{{}}` for literal braces",
        ));
    }
    let mut segments = Vec::new();
    let mut offset = start + lead;
    for name in trimmed.split('.') {
        if !is_name(name) {
            return Err(template_error(
                format!("`{{{inner}}}` is not a path"),
                whole,
                "a template hole holds a field path, a `let` name or a policy metric, like `{sf.Case.Subject}`; write `{{` for a literal brace",
            ));
        }
        segments.push(Ident {
            name: name.into(),
            span: Span::new(base + offset, base + offset + name.len()),
        });
        offset += name.len() + 1;
    }
    let span = Span::new(base + start + lead, base + start + lead + trimmed.len());
    Ok(Path { segments, span })
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn template_error(msg: impl Into<String>, span: Span, help: &str) -> Diagnostic {
    Diagnostic::error(Code::Syntax, msg, span)
        .with_label("in this template")
        .with_help(help)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;
    use crate::syntax::expr::unescape;

    /// A literal as the parser would build it for `"raw"` at `start`.
    fn lit(raw: &str, start: usize) -> StrLit {
        StrLit {
            value: unescape(raw),
            raw: raw.to_string(),
            span: Span::new(start, start + raw.len() + 2),
        }
    }

    fn holes(t: &Template) -> Vec<String> {
        t.parts
            .iter()
            .filter_map(|p| match p {
                TemplatePart::Hole(p) => Some(
                    p.segments
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join("."),
                ),
                TemplatePart::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn holes_and_text_with_exact_spans() {
        let src = "x = \"Sev-1 on {sf.Case.CaseNumber}: {bridge}\"";
        let start = src.find('"').unwrap();
        let raw = &src[start + 1..src.len() - 1];
        let t = parse_template(&lit(raw, start)).unwrap();
        assert_eq!(holes(&t), ["sf.Case.CaseNumber", "bridge"]);
        assert_eq!(t.parts[0], TemplatePart::Text("Sev-1 on ".into()));
        assert_eq!(t.parts[2], TemplatePart::Text(": ".into()));
        let TemplatePart::Hole(p) = &t.parts[1] else {
            panic!()
        };
        assert_eq!(&src[p.span.start..p.span.end], "sf.Case.CaseNumber");
        assert_eq!(
            &src[p.segments[2].span.start..p.segments[2].span.end],
            "CaseNumber"
        );
        let TemplatePart::Hole(b) = &t.parts[3] else {
            panic!()
        };
        assert_eq!(&src[b.span.start..b.span.end], "bridge");
    }

    #[test]
    fn braces_and_escapes_are_text() {
        let t = parse_template(&lit(r#"{{x}} \"q\" a\\b\n{dead_letter}"#, 0)).unwrap();
        assert_eq!(t.parts[0], TemplatePart::Text("{x} \"q\" a\\b\n".into()));
        assert_eq!(holes(&t), ["dead_letter"]);
    }

    #[test]
    fn plain_text_has_no_holes() {
        let t = parse_template(&lit("#seam-ops", 0)).unwrap();
        assert_eq!(t.parts, [TemplatePart::Text("#seam-ops".into())]);
        assert!(parse_template(&lit("", 0)).unwrap().parts.is_empty());
    }

    #[test]
    fn errors_point_at_the_hole() {
        let src = "\"a {sf.Case\"";
        let e = parse_template(&lit(&src[1..src.len() - 1], 0)).unwrap_err();
        assert_eq!(e.message, "unclosed `{` in a template");
        let s = e.primary_span();
        assert_eq!(&src[s.start..s.end], "{sf.Case");

        let src = "\"a {} b\"";
        let e = parse_template(&lit(&src[1..src.len() - 1], 0)).unwrap_err();
        assert_eq!(e.message, "empty `{}` in a template");
        let s = e.primary_span();
        assert_eq!(&src[s.start..s.end], "{}");

        let src = "\"a {1 + 2} b\"";
        let e = parse_template(&lit(&src[1..src.len() - 1], 0)).unwrap_err();
        assert_eq!(e.message, "`{1 + 2}` is not a path");
        let s = e.primary_span();
        assert_eq!(&src[s.start..s.end], "{1 + 2}");

        let e = parse_template(&lit("a } b", 0)).unwrap_err();
        assert_eq!(e.message, "unmatched `}` in a template");
        assert_eq!(e.primary_span(), Span::new(3, 4));

        assert!(parse_template(&lit("{a..b}", 0)).is_err());
        assert!(parse_template(&lit("{a.}", 0)).is_err());
    }
}
