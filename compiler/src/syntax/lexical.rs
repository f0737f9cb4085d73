//! Small hand-written scanners that work beside the pest grammar: the nesting pre-scan that
//! keeps pest's recursion bounded, the comment collector, and the description of the token at
//! an error position ("found `=`", "found end of file").
//!
//! They agree with `grammar.pest` on what a string and a comment are (a string ends at an
//! unescaped `"` or at a line break; a comment runs from `//` to the end of the line).

use super::ast::Comment;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Parentheses deeper than this are refused before parsing: pest recurses once per level.
pub(crate) const MAX_NESTING: usize = 64;

/// What the pre-scan learns about a text.
pub(crate) struct Prescan {
    /// Every `//` comment outside strings, in source order.
    pub(crate) comments: Vec<Comment>,
    /// The offset just past every `}` that closes a brace opened at the top level (outside
    /// strings, comments and parentheses): the ends of the top-level declarations that have a
    /// body, if the text parses. `syntax::chunks` cuts the text there.
    pub(crate) item_ends: Vec<usize>,
}

/// One pass over the text before pest sees it: rejects parentheses nested deeper than
/// [`MAX_NESTING`], collects every `//` comment outside strings, in source order (the AST
/// keeps them for the formatter), and notes where top-level braces close.
pub(crate) fn prescan(src: &str) -> Result<Prescan, Diagnostic> {
    let mut depth = 0usize;
    let mut outermost = 0usize;
    let mut braces = 0usize;
    let mut item_ends = Vec::new();
    let mut scan = Scanner::new(src);
    while let Some((pos, b)) = scan.next_code_byte() {
        match b {
            b'(' => {
                if depth == 0 {
                    outermost = pos;
                }
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(pos, outermost));
                }
            }
            b')' => depth = depth.saturating_sub(1),
            b'{' => braces += 1,
            b'}' => {
                braces = braces.saturating_sub(1);
                if braces == 0 && depth == 0 {
                    item_ends.push(pos + 1);
                }
            }
            _ => {}
        }
    }
    let mut comments = Vec::with_capacity(scan.comments.len());
    for (start, end) in scan.comments {
        let text = src.get(start + 2..end).unwrap_or_default();
        comments.push(Comment {
            text: text.to_string(),
            span: Span::new(start, end),
        });
    }
    Ok(Prescan {
        comments,
        item_ends,
    })
}

fn too_deep(pos: usize, outermost: usize) -> Diagnostic {
    Diagnostic::error(
        Code::Syntax,
        "conditions nest too deeply",
        Span::new(pos, pos + 1),
    )
    .with_label(format!("more than {MAX_NESTING} levels of parentheses"))
    .with_secondary(
        Span::new(outermost, outermost + 1),
        "the outermost one opens here",
    )
    .with_help("split the condition or remove redundant parentheses")
}

/// Walks the bytes outside strings and comments, recording comment spans as it goes.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    comments: Vec<(usize, usize)>,
}

impl<'a> Scanner<'a> {
    fn new(src: &'a str) -> Self {
        Scanner {
            bytes: src.as_bytes(),
            pos: 0,
            comments: Vec::new(),
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// The next bracket (`(`, `)`, `{`, `}`, `[`, `]`) that is not inside a string or a comment:
    /// the only bytes any caller looks at, so everything else is skipped in one tight loop.
    fn next_code_byte(&mut self) -> Option<(usize, u8)> {
        loop {
            let rest = self.bytes.get(self.pos..)?;
            let skip = first_code_byte(rest)?;
            let pos = self.pos + skip;
            let b = self.at(pos)?;
            if b == b'"' {
                self.pos = string_end(self.bytes, pos);
                continue;
            }
            if b == b'/' {
                if self.at(pos + 1) != Some(b'/') {
                    self.pos = pos + 1;
                    continue;
                }
                let line = self.bytes.get(pos..).unwrap_or_default();
                let end = pos + line.iter().position(|&c| c == b'\n').unwrap_or(line.len());
                self.pos = end;
                // The line break is not part of the comment, nor a `\r` before it.
                let text_end = if end > pos + 2 && self.at(end - 1) == Some(b'\r') {
                    end - 1
                } else {
                    end
                };
                self.comments.push((pos, text_end));
                continue;
            }
            self.pos = pos + 1;
            return Some((pos, b));
        }
    }
}

/// Whether the pre-scan stops at `b`: a quote, a slash or a bracket.
#[inline(always)]
fn is_code_byte(b: u8) -> bool {
    matches!(b, b'"' | b'/' | b'(' | b')' | b'{' | b'}' | b'[' | b']')
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero, and possibly of bytes above (more
/// significant than) one that is: a borrow only runs upwards from a zero byte, so the lowest
/// marked byte is always a real zero.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The high bit of each code byte of the little-endian word `x` (and possibly of bytes above
/// one): `(` `)` are `0x28|1`, `[` `{` are `0x5b|0x20`, `]` `}` are `0x5d|0x20`, and no other
/// byte maps to those.
#[inline(always)]
fn code_bytes(x: u64) -> u64 {
    let low = x | ONES;
    let case = x | (ONES * 0x20);
    zero_bytes(x ^ (ONES * u64::from(b'"')))
        | zero_bytes(x ^ (ONES * u64::from(b'/')))
        | zero_bytes(low ^ (ONES * u64::from(b')')))
        | zero_bytes(case ^ (ONES * u64::from(b'{')))
        | zero_bytes(case ^ (ONES * u64::from(b'}')))
}

/// The position of the first code byte ([`is_code_byte`]) in `bytes`: eight bytes at a time,
/// the last few one by one.
#[inline]
fn first_code_byte(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        if let Ok(word) = <[u8; 8]>::try_from(chunk) {
            let found = code_bytes(u64::from_le_bytes(word));
            if found != 0 {
                return Some(at + (found.trailing_zeros() / 8) as usize);
            }
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| is_code_byte(b))
        .map(|i| at + i)
}

/// The offset just past the string that starts at `start` (a `"`): after its closing quote, or
/// at the line break / end of input that cuts it short.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    bytes.len().min(i)
}

/// What sits at an error position, for "found ..." and for the primary span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    EndOfFile,
    /// An identifier or keyword.
    Word(String),
    /// A string that is cut short by a line break or the end of the file.
    UnterminatedString,
    /// A string with an escape other than `\"`, `\\`, `\n`; the span is the escape's.
    BadEscape(String, Span),
    /// Anything else, as written.
    Other(String),
}

/// The keywords reserved as bare names (LANGUAGE.md, "Details", 3).
pub(crate) const KEYWORDS: [&str; 28] = [
    "seam", "system", "object", "identity", "own", "link", "key", "open", "when", "map", "via",
    "workflow", "on", "becomes", "changes", "created", "do", "let", "policy", "unique", "from",
    "env", "true", "false", "and", "or", "not", "in",
];

/// Whether `word` is one of [`KEYWORDS`] (a `match`, so the compiler picks by length first).
pub(crate) fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "seam"
            | "system"
            | "object"
            | "identity"
            | "own"
            | "link"
            | "key"
            | "open"
            | "when"
            | "map"
            | "via"
            | "workflow"
            | "on"
            | "becomes"
            | "changes"
            | "created"
            | "do"
            | "let"
            | "policy"
            | "unique"
            | "from"
            | "env"
            | "true"
            | "false"
            | "and"
            | "or"
            | "not"
            | "in"
    )
}

/// Multi-character punctuation, longest first so that `<->` wins over `<`.
const PUNCT: [&str; 9] = ["<->", "->", "=>", "==", "!=", "<=", ">=", "..", "//"];

/// The token that starts at `pos` (which is clamped to the text and to a char boundary).
pub(crate) fn token_at(src: &str, pos: usize) -> (Token, Span) {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let rest = src.get(pos..).unwrap_or_default();
    let Some(first) = rest.chars().next() else {
        return (Token::EndOfFile, Span::new(pos, pos));
    };
    if first.is_ascii_alphanumeric() || first == '_' {
        let len = rest
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || c == '_' || c == '.' && first.is_ascii_digit())
            })
            .unwrap_or(rest.len());
        let word = rest.get(..len).unwrap_or_default();
        return (Token::Word(word.to_string()), Span::new(pos, pos + len));
    }
    if first == '"' {
        return string_token(src, pos);
    }
    if first == '-' && rest.chars().nth(1).is_some_and(|c| c.is_ascii_digit()) {
        let len = 1 + rest
            .get(1..)
            .unwrap_or_default()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(rest.len() - 1);
        let text = rest.get(..len).unwrap_or_default();
        return (Token::Other(text.to_string()), Span::new(pos, pos + len));
    }
    for p in PUNCT {
        if rest.starts_with(p) {
            return (Token::Other(p.to_string()), Span::new(pos, pos + p.len()));
        }
    }
    let len = first.len_utf8();
    (Token::Other(first.to_string()), Span::new(pos, pos + len))
}

fn string_token(src: &str, pos: usize) -> (Token, Span) {
    let bytes = src.as_bytes();
    let mut i = pos + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let text = src.get(pos..=i).unwrap_or_default();
                return (Token::Other(text.to_string()), Span::new(pos, i + 1));
            }
            b'\n' | b'\r' => break,
            b'\\' => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'n') => i += 2,
                _ => {
                    let mut end = (i + 2).min(src.len());
                    while !src.is_char_boundary(end) {
                        end += 1;
                    }
                    let esc = src.get(i..end).unwrap_or("\\").to_string();
                    return (Token::BadEscape(esc, Span::new(i, end)), Span::new(i, end));
                }
            },
            _ => i += 1,
        }
    }
    let end = i.min(src.len());
    (Token::UnterminatedString, Span::new(pos, end))
}

/// The `{` that is still open at `pos`, if any (strings and comments skipped).
pub(crate) fn unclosed_brace(src: &str, pos: usize, open: u8, close: u8) -> Option<usize> {
    let mut stack = Vec::new();
    let mut scan = Scanner::new(src);
    while let Some((i, b)) = scan.next_code_byte() {
        if i >= pos {
            break;
        }
        if b == open {
            stack.push(i);
        } else if b == close {
            stack.pop();
        }
    }
    stack.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_code_byte_is_the_first_quote_slash_or_bracket() {
        let naive = |b: &[u8]| b.iter().position(|&c| is_code_byte(c));
        // Every byte value at every position of a 24-byte run of a plain byte, alone and
        // with a code byte after it (the lowest match must win over a borrow's marks).
        for fill in [b'a', 0u8, 0xff, b' ', 0x7f] {
            for v in 0..=255u8 {
                for at in 0..24 {
                    let mut b = vec![fill; 24];
                    if let Some(x) = b.get_mut(at) {
                        *x = v;
                    }
                    assert_eq!(first_code_byte(&b), naive(&b), "{fill} {v} at {at}");
                    for next in [b'"', b'(', b'}', b'/'] {
                        if let Some(x) = b.get_mut(at + 1) {
                            *x = next;
                        }
                        assert_eq!(first_code_byte(&b), naive(&b), "{fill} {v} at {at}");
                    }
                }
            }
        }
        // Pseudo-random texts of every length up to 40, from bytes near the code bytes.
        let alphabet = b"\"/()[]{}!#'*+)^|;:<=>ZYz_ \n\x00\x80\xfe\x01\x2b\x2e\x5c";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..40 {
            for _ in 0..300 {
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let i = (seed % alphabet.len() as u64) as usize;
                        alphabet.get(i).copied().unwrap_or(b'a')
                    })
                    .collect();
                assert_eq!(first_code_byte(&b), naive(&b), "{b:?}");
            }
        }
    }

    #[test]
    fn comments_skip_strings_and_drop_line_breaks() {
        let src = "a \"// not\" // one\r\n// two\nb // three";
        let c = prescan(src).map(|p| p.comments).unwrap_or_default();
        let texts: Vec<_> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, [" one", " two", " three"]);
        let first = c.first().map(|c| c.span).unwrap_or_default();
        assert_eq!(src.get(first.start..first.end), Some("// one"));
    }

    #[test]
    fn tokens_at_positions() {
        assert_eq!(token_at("a <-> b", 2).0, Token::Other("<->".into()));
        assert_eq!(token_at("a ", 2).0, Token::EndOfFile);
        assert_eq!(token_at("x key", 2).0, Token::Word("key".into()));
        assert_eq!(token_at("\"abc", 0).0, Token::UnterminatedString);
        assert!(matches!(token_at("\"a\\tb\"", 0).0, Token::BadEscape(..)));
        assert_eq!(token_at("1.5 x", 0).0, Token::Word("1.5".into()));
        assert_eq!(token_at("é", 1).1, Span::new(0, 2));
    }

    #[test]
    fn is_keyword_is_the_keyword_list() {
        assert!(KEYWORDS.iter().all(|k| is_keyword(k)));
        for not in ["", "Key", "keys", "ke", "sf", "u_key", "create", "text"] {
            assert!(!is_keyword(not), "{not}");
        }
    }

    #[test]
    fn item_ends_are_top_level_closing_braces() {
        let src = "a { b { } \"}\" } // }\nc ( { } ) { }";
        let ends = prescan(src).map(|p| p.item_ends).unwrap_or_default();
        assert_eq!(ends, [15, src.len()]);
    }

    #[test]
    fn nesting_limit() {
        assert!(prescan(&"(".repeat(MAX_NESTING)).is_ok());
        assert!(prescan(&"(".repeat(MAX_NESTING + 1)).is_err());
        assert!(prescan(&format!("\"{}\"", "(".repeat(100))).is_ok());
    }
}
