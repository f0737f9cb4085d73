//! A hand-written recursive-descent parser for the texts `grammar.pest` accepts: the fast path
//! of `syntax::parse`. It builds exactly the AST, spans included, that the pest path (the fast
//! pest parser and the conversion in `decl`/`expr`) builds, or refuses (`None`); it never makes
//! a diagnostic.
//!
//! Why it exists: pest costs ~700 instructions per byte of a generated spec (a call-limit guard
//! around every combinator, the implicit whitespace re-skipped before every optional element, a
//! call per character of a name, and a token queue ~20 times the text that the conversion then
//! walks). This parser looks at each byte once or twice and allocates only the AST.
//!
//! Why it is safe: `grammar.pest` stays the definition of the language and the strict pest
//! parser stays the source of every diagnostic. Whenever this parser is not sure, it refuses,
//! and `syntax::parse` (and each chunk in `syntax::chunks`) runs the pest path exactly as
//! before, so refusing only costs time. It refuses:
//! - any text the pest path would not turn into an AST: a syntax error, a reserved word as a
//!   bare name, a number or duration too large, a condition over the operator budget;
//! - anything where the grammar's ordered choice could backtrack into another alternative: it
//!   picks an alternative from the next word or character, and when the picked one fails part
//!   way, the other alternatives either fail as well or would put a reserved word in a bare
//!   name's place, which the conversion refuses; so failing there is refusing;
//! - conditions or values nested deeper than `lexical::MAX_NESTING` (the only recursion here).
//!
//! `syntax::hand_tests` checks it against the pest path on the corpus, the examples and many
//! thousands of mutations of them: whenever this parser accepts, the pest path accepts with an
//! equal AST. **Any change to `grammar.pest` must be made here too**; the agreement tests fail
//! on a mismatch that the corpus exercises (add a corpus file for a new construct).
//!
//! How the grammar maps here: pest's implicit whitespace (`WHITESPACE` is exactly ` `, `\n`,
//! `\t`, `\r`; `COMMENT` is `//` up to, not including, the next `\n`) separates the tokens of
//! non-atomic rules; this parser skips it after every token it takes ([`Parser::took`]), and
//! takes the atomic rules (`path`, `object_ref`, `own_entry`, `record_action`, `call_target`,
//! strings, numbers, durations) whole, with no whitespace inside. A node's span runs from its
//! first token's start to its last token's end, which is what `expr::span_of` makes of a pest
//! pair (it trims the whitespace and comments a rule ending in an optional part swallows).
//! Keywords and contextual words are whole words (`"key" ~ !ident_char` is the word `key`).

use super::ast::*;
use super::expr::{unescape, MAX_CONDITION_OPERATORS};
use super::lexical::{is_keyword, MAX_NESTING};
use crate::span::Span;

/// The items of `src[start..end]` with spans in `src`'s offsets, as the pest path would build
/// them from that text alone; `None` when the text is not one this parser is sure of.
pub(super) fn items(src: &str, start: usize, end: usize) -> Option<Vec<Item>> {
    let bytes = src.as_bytes().get(..end)?;
    if start > end || !src.is_char_boundary(start) || !src.is_char_boundary(end) {
        return None;
    }
    let mut p = Parser {
        src,
        b: bytes,
        pos: start,
        last: start,
        depth: 0,
        lists: Lists::default(),
    };
    p.skip();
    let mut out = Vec::new();
    while p.pos < p.b.len() {
        out.push(p.item()?);
    }
    Some(out)
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

struct Parser<'a> {
    src: &'a str,
    /// The text up to the end of the range parsed (its end is the parse's end of input).
    b: &'a [u8],
    /// The next token's start (whitespace and comments are always already skipped).
    pos: usize,
    /// The end of the last token taken: where the node being built ends.
    last: usize,
    /// How many argument lists are open (values nest through `f(a = g(...))`).
    depth: usize,
    /// Gathering lists for the long blocks, kept from block to block.
    lists: Lists,
}

/// Where the elements of the blocks that run long (a link's items, an object's fields, an
/// `own` block's entries: ~50 each in a generated spec) are gathered before they are moved into
/// a list of exactly their number ([`Parser::braced_exact`]). A list grown by doubling in
/// place copied its elements four or five times into fresh memory and kept up to half of it
/// unused; the AST of a large spec is mostly these lists.
#[derive(Default)]
struct Lists {
    link_items: Vec<LinkItem>,
    fields: Vec<FieldDecl>,
    own_entries: Vec<OwnEntry>,
}

type R<T> = Option<T>;

impl<'a> Parser<'a> {
    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.at(self.pos)
    }

    /// Skips `WHITESPACE` and `COMMENT` (pest's implicit `skip`).
    fn skip(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\n' | b'\t' | b'\r') => self.pos += 1,
                Some(b'/') if self.at(self.pos + 1) == Some(b'/') => {
                    let rest = self.b.get(self.pos..).unwrap_or_default();
                    self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                }
                _ => return,
            }
        }
    }

    /// Takes the token that ends at `end` and the whitespace after it.
    fn took(&mut self, end: usize) {
        self.last = end;
        self.pos = end;
        self.skip();
    }

    /// The span from `start` to the end of the last token taken.
    fn span(&self, start: usize) -> Span {
        Span::new(start, self.last)
    }

    fn text(&self, start: usize, end: usize) -> R<&'a str> {
        self.src.get(start..end)
    }

    /// The end of the name (`[A-Za-z_][A-Za-z0-9_]*`) that starts at `at`.
    fn name_end(&self, at: usize) -> R<usize> {
        if !is_name_start(self.at(at)?) {
            return None;
        }
        let rest = self.b.get(at + 1..).unwrap_or_default();
        Some(
            at + 1
                + rest
                    .iter()
                    .position(|&c| !is_name_char(c))
                    .unwrap_or(rest.len()),
        )
    }

    /// The whole word at the next token, not taken (`None` if no name starts there).
    fn word(&self) -> Option<&'a str> {
        let end = self.name_end(self.pos)?;
        self.text(self.pos, end)
    }

    fn word_is(&self, w: &str) -> bool {
        self.word() == Some(w)
    }

    /// Takes the keyword or contextual word `w`; its span.
    fn kw(&mut self, w: &str) -> R<Span> {
        if !self.word_is(w) {
            return None;
        }
        let start = self.pos;
        self.took(start + w.len());
        Some(Span::new(start, start + w.len()))
    }

    /// Takes the single-byte token `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.took(self.pos + 1);
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> R<()> {
        self.eat(c).then_some(())
    }

    /// `{ x, x, ... }` with each element taken by `each`: the list form of every block whose
    /// elements may be separated by commas (`"{" ~ (x ~ ","?)* ~ "}"`).
    fn braced<T>(&mut self, mut each: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        self.expect(b'{')?;
        let mut out = Vec::new();
        while !self.eat(b'}') {
            out.push(each(self)?);
            self.eat(b',');
        }
        Some(out)
    }

    /// [`Parser::braced`] gathering into the list `list` picks from [`Lists`] (taken out while
    /// the block is parsed, so a block of the same kind inside it, were there one, would only
    /// gather into a new list), and returning a list of exactly the elements' number.
    fn braced_exact<T>(
        &mut self,
        list: fn(&mut Lists) -> &mut Vec<T>,
        each: impl FnMut(&mut Self) -> R<T>,
    ) -> R<Vec<T>> {
        let mut gathered = std::mem::take(list(&mut self.lists));
        gathered.clear();
        let exact = self.braced_into(&mut gathered, each);
        *list(&mut self.lists) = gathered;
        exact
    }

    fn braced_into<T>(
        &mut self,
        gathered: &mut Vec<T>,
        mut each: impl FnMut(&mut Self) -> R<T>,
    ) -> R<Vec<T>> {
        self.expect(b'{')?;
        while !self.eat(b'}') {
            gathered.push(each(self)?);
            self.eat(b',');
        }
        // `append` empties `gathered` but keeps its room for the next block.
        let mut exact = Vec::with_capacity(gathered.len());
        exact.append(gathered);
        Some(exact)
    }

    /// Takes a multi-byte punctuation token.
    fn punct(&mut self, p: &[u8]) -> R<()> {
        let end = self.pos + p.len();
        if self.b.get(self.pos..end)? != p {
            return None;
        }
        self.took(end);
        Some(())
    }

    /// `assign`: `=` not followed by `=` or `>`.
    fn assign(&mut self) -> R<()> {
        if self.peek() != Some(b'=') || matches!(self.at(self.pos + 1), Some(b'=' | b'>')) {
            return None;
        }
        self.took(self.pos + 1);
        Some(())
    }

    /// The name `at..end` as an AST name; a bare name (`ident`) may not be a keyword, a name
    /// after a dot (`member`) may.
    fn name(&self, at: usize, end: usize, bare: bool) -> R<Ident> {
        let name = self.text(at, end)?;
        if bare && is_keyword(name) {
            return None;
        }
        Some(Ident {
            name: name.into(),
            span: Span::new(at, end),
        })
    }

    /// `ident`
    fn ident(&mut self) -> R<Ident> {
        let start = self.pos;
        let end = self.name_end(start)?;
        let id = self.name(start, end, true)?;
        self.took(end);
        Some(id)
    }

    /// `ident "." member` (`object_ref`, `call_target`, `record_action`), taken whole.
    fn two_names(&mut self) -> R<(Ident, Ident)> {
        let start = self.pos;
        let end = self.name_end(start)?;
        if self.at(end)? != b'.' {
            return None;
        }
        let second_end = self.name_end(end + 1)?;
        let first = self.name(start, end, true)?;
        let second = self.name(end + 1, second_end, false)?;
        self.took(second_end);
        Some((first, second))
    }

    /// `path`: `ident ("." member)*`, taken whole.
    fn path(&mut self) -> R<Path> {
        let start = self.pos;
        let mut end = self.name_end(start)?;
        // Room for `system.Object.field`, what nearly every path is: one allocation of three
        // names, where `vec![first]` then a push made two (one name, then four).
        let mut segments = Vec::with_capacity(3);
        segments.push(self.name(start, end, true)?);
        while self.at(end) == Some(b'.') {
            let Some(next_end) = self.name_end(end + 1) else {
                break;
            };
            segments.push(self.name(end + 1, next_end, false)?);
            end = next_end;
        }
        self.took(end);
        Some(Path {
            segments,
            span: Span::new(start, end),
        })
    }

    // --- Literals ------------------------------------------------------------------------

    /// `string`: the literal with its raw text and escapes resolved.
    fn string(&mut self) -> R<StrLit> {
        let start = self.pos;
        if self.peek()? != b'"' {
            return None;
        }
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            match self.at(i)? {
                b'"' => break,
                b'\\' => {
                    if !matches!(self.at(i + 1)?, b'"' | b'\\' | b'n') {
                        return None;
                    }
                    escaped = true;
                    i += 2;
                }
                b'\n' | b'\r' => return None,
                _ => i += 1,
            }
        }
        let raw = self.text(start + 1, i)?.to_string();
        let value = if escaped { unescape(&raw) } else { raw.clone() };
        self.took(i + 1);
        Some(StrLit {
            value,
            raw,
            span: Span::new(start, i + 1),
        })
    }

    /// The end of the digits that start at `at` (at least one).
    fn digits_end(&self, at: usize) -> R<usize> {
        let rest = self.b.get(at..)?;
        let n = rest
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        (n > 0).then_some(at + n)
    }

    /// Whether the byte at `at` ends a word (`!ident_char`).
    fn word_ends(&self, at: usize) -> bool {
        !self.at(at).is_some_and(is_name_char)
    }

    /// A `duration` at the next token, not taken: its end and milliseconds. `Some(None)` when
    /// the text is a duration too long for 64-bit milliseconds (the conversion's error).
    fn duration_at(&self) -> Option<(usize, Option<u64>)> {
        let start = self.pos;
        let digits = self.digits_end(start)?;
        // The grammar's order: `ms` before `s` and `m`.
        let (unit_len, factor) = match (self.at(digits), self.at(digits + 1)) {
            (Some(b'm'), Some(b's')) => (2, 1),
            (Some(b's'), _) => (1, 1_000),
            (Some(b'm'), _) => (1, 60_000),
            (Some(b'h'), _) => (1, 3_600_000),
            (Some(b'd'), _) => (1, 86_400_000),
            _ => return None,
        };
        let end = digits + unit_len;
        if !self.word_ends(end) {
            return None;
        }
        let millis = self
            .text(start, digits)?
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor));
        Some((end, millis))
    }

    /// `duration`
    fn duration(&mut self) -> R<Duration> {
        let start = self.pos;
        let (end, millis) = self.duration_at()?;
        self.took(end);
        Some(Duration {
            millis: millis?,
            span: Span::new(start, end),
        })
    }

    /// `int` as a `u32`, with its span.
    fn int(&mut self) -> R<(u32, Span)> {
        let start = self.pos;
        let end = self.digits_end(start)?;
        if !self.word_ends(end) || self.at(end) == Some(b'.') {
            return None;
        }
        let n = self.text(start, end)?.parse::<u32>().ok()?;
        self.took(end);
        Some((n, Span::new(start, end)))
    }

    /// `number`: its end, not taken.
    fn number_end(&self) -> R<usize> {
        let start = self.pos;
        let digits_at = if self.peek()? == b'-' {
            start + 1
        } else {
            start
        };
        let mut end = self.digits_end(digits_at)?;
        if self.at(end) == Some(b'.') {
            if let Some(frac) = self.digits_end(end + 1) {
                end = frac;
            }
        }
        if !self.word_ends(end) || self.at(end) == Some(b'.') {
            return None;
        }
        Some(end)
    }

    /// `literal`: `string | duration | number | boolean`, in that order.
    fn literal(&mut self) -> R<Literal> {
        let start = self.pos;
        let kind = match self.peek()? {
            b'"' => LitKind::Str(self.string()?),
            b'-' | b'0'..=b'9' => match self.duration_at() {
                Some((end, millis)) => {
                    self.took(end);
                    LitKind::Duration(Duration {
                        millis: millis?,
                        span: Span::new(start, end),
                    })
                }
                None => {
                    let end = self.number_end()?;
                    let n = self.text(start, end)?.parse::<f64>().ok()?;
                    self.took(end);
                    LitKind::Number(n)
                }
            },
            _ => match self.word()? {
                "true" => {
                    self.took(start + 4);
                    LitKind::Bool(true)
                }
                "false" => {
                    self.took(start + 5);
                    LitKind::Bool(false)
                }
                _ => return None,
            },
        };
        let span = self.span(start);
        Some(Literal {
            kind,
            text: self.text(span.start, span.end)?.to_string(),
            span,
        })
    }

    /// Whether a `literal` (rather than a `path`) starts at the next token.
    fn at_literal(&self) -> bool {
        match self.peek() {
            Some(b'"' | b'-' | b'0'..=b'9') => true,
            _ => matches!(self.word(), Some("true" | "false")),
        }
    }

    // --- Values ----------------------------------------------------------------------------

    /// `expr`: `env_call | func_call | literal | path`.
    fn expr(&mut self) -> R<Expr> {
        let start = self.pos;
        if !is_name_start(self.peek()?) {
            return Some(Expr::Literal(self.literal()?));
        }
        let end = self.name_end(start)?;
        let word = self.text(start, end)?;
        if word == "env" {
            // `env(...)` is `env_call` or nothing: any other reading makes `env` a bare name.
            self.took(end);
            self.expect(b'(')?;
            let var = self.string()?;
            self.eat(b',');
            self.expect(b')')?;
            return Some(Expr::Env {
                var,
                span: self.span(start),
            });
        }
        if self.at(end) == Some(b'.') {
            // Not a `func_call` (a `(` would have to follow the name), not a literal (`true.x`
            // would leave `.x` that nothing takes): a path.
            return Some(Expr::Path(self.path()?));
        }
        // One name: a call if `(` follows it, else `true`/`false` or a one-name path.
        let name = self.name(start, end, false)?;
        self.took(end);
        if self.peek() == Some(b'(') {
            if is_keyword(&name.name) {
                return None;
            }
            let args = self.args()?;
            return Some(Expr::Func {
                name,
                args,
                span: self.span(start),
            });
        }
        let kind = match word {
            "true" => LitKind::Bool(true),
            "false" => LitKind::Bool(false),
            _ if is_keyword(word) => return None,
            _ => {
                let span = name.span;
                return Some(Expr::Path(Path {
                    segments: vec![name],
                    span,
                }));
            }
        };
        Some(Expr::Literal(Literal {
            kind,
            text: word.to_string(),
            span: Span::new(start, end),
        }))
    }

    /// `( named_arg, ... )`: the arguments of a call, refused nested deeper than
    /// `lexical::MAX_NESTING`.
    fn args(&mut self) -> R<Vec<NamedArg>> {
        if self.depth >= MAX_NESTING {
            return None;
        }
        self.depth += 1;
        let args = self.arg_list();
        self.depth -= 1;
        args
    }

    fn arg_list(&mut self) -> R<Vec<NamedArg>> {
        self.expect(b'(')?;
        let mut args = Vec::new();
        if self.eat(b')') {
            return Some(args);
        }
        loop {
            let start = self.pos;
            let name = self.ident()?;
            self.assign()?;
            let value = self.expr()?;
            args.push(NamedArg {
                name,
                value,
                span: self.span(start),
            });
            if self.eat(b',') {
                if self.eat(b')') {
                    return Some(args);
                }
            } else {
                self.expect(b')')?;
                return Some(args);
            }
        }
    }

    /// `call`: `SYS.action(arg = expr, ...)`.
    fn call(&mut self) -> R<Call> {
        let start = self.pos;
        let (system, action) = self.two_names()?;
        let args = self.args()?;
        Some(Call {
            system,
            action,
            args,
            span: self.span(start),
        })
    }

    /// `setting` / `assignment` / `policy_setting`: `name = expr`.
    fn setting(&mut self) -> R<Setting> {
        let start = self.pos;
        let name = self.ident()?;
        self.assign()?;
        let value = self.expr()?;
        Some(Setting {
            name,
            value,
            span: self.span(start),
        })
    }

    // --- Conditions ------------------------------------------------------------------------

    /// `cond`, refused over the operator budget (the conversion's error), counted over the
    /// whole condition (a nested one never has more operators than the one around it).
    fn cond(&mut self) -> R<Cond> {
        let mut ops = 0;
        self.cond_in(&mut ops, 0)
    }

    /// `kw_not* ~ cond_primary ~ ((kw_and | kw_or) ~ kw_not* ~ cond_primary)*`, folded as
    /// `expr::cond`'s Pratt parser does: `not` binds tightest, then `and`, then `or`, both
    /// left-associative.
    fn cond_in(&mut self, ops: &mut usize, depth: usize) -> R<Cond> {
        // Operands folded into `and` chains as they come; finished chains wait in `ors`.
        let mut ors: Vec<Cond> = Vec::new();
        let mut chain: Option<Cond> = None;
        loop {
            let mut nots = Vec::new();
            while let Some(span) = self.kw("not") {
                *ops += 1;
                if *ops > MAX_CONDITION_OPERATORS {
                    return None;
                }
                nots.push(span);
            }
            let mut operand = self.cond_primary(ops, depth)?;
            for not in nots.into_iter().rev() {
                let span = not.join(operand.span());
                operand = Cond::Not(Box::new(operand), span);
            }
            chain = Some(match chain {
                Some(lhs) => {
                    let span = lhs.span().join(operand.span());
                    Cond::And(Box::new(lhs), Box::new(operand), span)
                }
                None => operand,
            });
            let or = match self.word() {
                Some("and") => false,
                Some("or") => true,
                _ => break,
            };
            *ops += 1;
            if *ops > MAX_CONDITION_OPERATORS {
                return None;
            }
            self.took(self.pos + if or { 2 } else { 3 });
            if or {
                ors.extend(chain.take());
            }
        }
        let mut rest = ors.into_iter().chain(chain);
        let mut out = rest.next()?;
        for rhs in rest {
            let span = out.span().join(rhs.span());
            out = Cond::Or(Box::new(out), Box::new(rhs), span);
        }
        Some(out)
    }

    /// `group | comparison`
    fn cond_primary(&mut self, ops: &mut usize, depth: usize) -> R<Cond> {
        let start = self.pos;
        if self.peek()? == b'(' {
            if depth >= MAX_NESTING {
                return None;
            }
            self.took(start + 1);
            let inner = self.cond_in(ops, depth + 1)?;
            self.expect(b')')?;
            return Some(Cond::Group(Box::new(inner), self.span(start)));
        }
        let left = self.operand()?;
        if self.kw("in").is_some() {
            self.expect(b'[')?;
            let mut list = Vec::new();
            if !self.eat(b']') {
                loop {
                    list.push(self.literal()?);
                    if self.eat(b',') {
                        if self.eat(b']') {
                            break;
                        }
                    } else {
                        self.expect(b']')?;
                        break;
                    }
                }
            }
            return Some(Cond::In {
                left,
                list,
                span: self.span(start),
            });
        }
        let op = self.cmp_op()?;
        let right = self.operand()?;
        Some(Cond::Compare {
            left,
            op,
            right,
            span: self.span(start),
        })
    }

    /// `cmp_op`: `==` `!=` `<=` `>=` `<` (not before `-`) `>`.
    fn cmp_op(&mut self) -> R<CmpOp> {
        let (op, len) = match (self.peek()?, self.at(self.pos + 1)) {
            (b'=', Some(b'=')) => (CmpOp::Eq, 2),
            (b'!', Some(b'=')) => (CmpOp::Ne, 2),
            (b'<', Some(b'=')) => (CmpOp::Le, 2),
            (b'>', Some(b'=')) => (CmpOp::Ge, 2),
            (b'<', next) if next != Some(b'-') => (CmpOp::Lt, 1),
            (b'>', _) => (CmpOp::Gt, 1),
            _ => return None,
        };
        self.took(self.pos + len);
        Some(op)
    }

    /// `operand`: `literal | path`.
    fn operand(&mut self) -> R<Operand> {
        if self.at_literal() {
            Some(Operand::Literal(self.literal()?))
        } else {
            Some(Operand::Path(self.path()?))
        }
    }

    // --- Declarations ----------------------------------------------------------------------

    /// One top-level declaration, chosen by its keyword.
    fn item(&mut self) -> R<Item> {
        let start = self.pos;
        let word = self.word()?;
        self.took(start + word.len());
        Some(match word {
            "seam" => {
                let name = self.ident()?;
                Item::Seam(SeamDecl {
                    name,
                    span: self.span(start),
                })
            }
            "system" => {
                let alias = self.ident()?;
                self.expect(b':')?;
                let kind = self.ident()?;
                let settings = self.braced(Self::setting)?;
                Item::System(SystemDecl {
                    alias,
                    kind,
                    settings,
                    span: self.span(start),
                })
            }
            "object" => {
                let (system, object) = self.two_names()?;
                let fields = self.braced_exact(|l| &mut l.fields, Self::field)?;
                Item::Object(ObjectDecl {
                    system,
                    object,
                    fields,
                    span: self.span(start),
                })
            }
            "identity" => {
                let name = self.ident()?;
                self.assign()?;
                let left = self.path()?;
                self.punct(b"<->")?;
                let right = self.path()?;
                Item::Identity(IdentityDecl {
                    name,
                    left,
                    right,
                    span: self.span(start),
                })
            }
            "own" => {
                let system = self.ident()?;
                let entries = self.braced_exact(|l| &mut l.own_entries, Self::own_entry)?;
                Item::Own(OwnDecl {
                    system,
                    entries,
                    span: self.span(start),
                })
            }
            "link" => {
                let name = self.ident()?;
                self.expect(b':')?;
                let left = self.path()?;
                self.punct(b"<->")?;
                let right = self.path()?;
                let items = self.braced_exact(|l| &mut l.link_items, Self::link_item)?;
                Item::Link(LinkDecl {
                    name,
                    left,
                    right,
                    items,
                    span: self.span(start),
                })
            }
            "workflow" => Item::Workflow(self.workflow(start)?),
            "policy" => {
                let items = self.braced(Self::policy_item)?;
                Item::Policy(PolicyDecl {
                    items,
                    span: self.span(start),
                })
            }
            _ => return None,
        })
    }

    /// `field_decl`: `Field: type [unique] [from(a, b)]`, modifiers in either order.
    fn field(&mut self) -> R<FieldDecl> {
        let start = self.pos;
        let name = self.ident()?;
        self.expect(b':')?;
        let ty = self.type_expr()?;
        let mut unique = None;
        let mut derived_from = None;
        if let Some(u) = self.kw("unique") {
            unique = Some(u);
            if self.word_is("from") {
                derived_from = Some(self.derived()?);
            }
        } else if self.word_is("from") {
            derived_from = Some(self.derived()?);
            unique = self.kw("unique");
        }
        Some(FieldDecl {
            name,
            ty,
            unique,
            derived_from,
            span: self.span(start),
        })
    }

    /// `derived`: `from(a, b, ...)`.
    fn derived(&mut self) -> R<Vec<Ident>> {
        self.kw("from")?;
        self.expect(b'(')?;
        let mut names = vec![self.ident()?];
        while self.eat(b',') {
            if self.peek() == Some(b')') {
                break;
            }
            names.push(self.ident()?);
        }
        self.expect(b')')?;
        Some(names)
    }

    /// `type_expr`
    fn type_expr(&mut self) -> R<TypeExpr> {
        let start = self.pos;
        let word = self.word()?;
        self.took(start + word.len());
        let kind = match word {
            "text" => {
                if self.eat(b'(') {
                    let (n, _) = self.int()?;
                    self.eat(b',');
                    self.expect(b')')?;
                    TypeKind::Text(Some(n))
                } else {
                    TypeKind::Text(None)
                }
            }
            "number" => TypeKind::Number,
            "bool" => TypeKind::Bool,
            "datetime" => TypeKind::Datetime,
            "id" => TypeKind::Id,
            "ref" => {
                self.expect(b'(')?;
                let object = self.ident()?;
                self.eat(b',');
                self.expect(b')')?;
                TypeKind::Ref(object)
            }
            "picklist" => {
                self.expect(b'(')?;
                let mut values = Vec::new();
                if !self.eat(b')') {
                    loop {
                        values.push(self.string()?);
                        if self.eat(b',') {
                            if self.eat(b')') {
                                break;
                            }
                        } else {
                            self.expect(b')')?;
                            break;
                        }
                    }
                }
                TypeKind::Picklist(values)
            }
            _ => return None,
        };
        Some(TypeExpr {
            kind,
            span: self.span(start),
        })
    }

    /// `own_entry`: `Object.field` or `Object.*`, taken whole.
    fn own_entry(&mut self) -> R<OwnEntry> {
        let start = self.pos;
        let end = self.name_end(start)?;
        if self.at(end)? != b'.' {
            return None;
        }
        let object = self.name(start, end, true)?;
        let (field, field_end) = if self.at(end + 1)? == b'*' {
            (OwnField::All(Span::new(end + 1, end + 2)), end + 2)
        } else {
            let field_end = self.name_end(end + 1)?;
            (
                OwnField::Named(self.name(end + 1, field_end, false)?),
                field_end,
            )
        };
        self.took(field_end);
        Some(OwnEntry {
            object,
            field,
            span: Span::new(start, field_end),
        })
    }

    /// `link_key | open_rule | mapping`, chosen by the first word.
    fn link_item(&mut self) -> R<LinkItem> {
        let start = self.pos;
        if self.kw("key").is_some() {
            let left = self.path()?;
            self.punct(b"<->")?;
            let right = self.path()?;
            return Some(LinkItem::Key(LinkKey {
                left,
                right,
                span: self.span(start),
            }));
        }
        if self.kw("open").is_some() {
            let target = self.path()?;
            self.kw("when")?;
            let condition = self.cond()?;
            return Some(LinkItem::Open(Box::new(OpenRule {
                target,
                condition,
                span: self.span(start),
            })));
        }
        let source = self.path()?;
        self.punct(b"->")?;
        let target = self.path()?;
        let mut map = None;
        let mut via = None;
        if self.word_is("map") {
            map = Some(self.value_map()?);
            if self.kw("via").is_some() {
                via = Some(self.ident()?);
            }
        } else if self.kw("via").is_some() {
            via = Some(self.ident()?);
            if self.word_is("map") {
                map = Some(self.value_map()?);
            }
        }
        Some(LinkItem::Mapping(Mapping {
            source,
            target,
            map,
            via,
            span: self.span(start),
        }))
    }

    /// `value_map`: `map { arm ... }`.
    fn value_map(&mut self) -> R<ValueMap> {
        let start = self.pos;
        self.kw("map")?;
        self.expect(b'{')?;
        let mut arms = Vec::new();
        while !self.eat(b'}') {
            let arm_start = self.pos;
            let pattern = match self.kw("_") {
                Some(span) => MapPattern::Default(span),
                None => MapPattern::Value(self.literal()?),
            };
            self.punct(b"=>")?;
            let value = self.literal()?;
            arms.push(MapArm {
                pattern,
                value,
                span: self.span(arm_start),
            });
            self.eat(b',');
        }
        Some(ValueMap {
            arms,
            span: self.span(start),
        })
    }

    /// `workflow_decl`, its keyword taken at `start`.
    fn workflow(&mut self, start: usize) -> R<WorkflowDecl> {
        let name = self.ident()?;
        self.expect(b'{')?;
        let trigger_start = self.pos;
        self.kw("on")?;
        let path = self.path()?;
        let trigger = match self.word()? {
            "becomes" => {
                self.kw("becomes")?;
                let value = self.literal()?;
                Trigger::Becomes {
                    path,
                    value,
                    span: self.span(trigger_start),
                }
            }
            "changes" => {
                self.kw("changes")?;
                Trigger::Changes {
                    path,
                    span: self.span(trigger_start),
                }
            }
            "created" => {
                self.kw("created")?;
                Trigger::Created {
                    object: path,
                    span: self.span(trigger_start),
                }
            }
            _ => return None,
        };
        let guard = match self.kw("when") {
            Some(_) => Some(self.cond()?),
            None => None,
        };
        self.kw("do")?;
        let steps = self.braced(Self::step)?;
        self.expect(b'}')?;
        Some(WorkflowDecl {
            name,
            trigger,
            guard,
            steps,
            span: self.span(start),
        })
    }

    /// `open_step | let_step | record_step | call`
    fn step(&mut self) -> R<Step> {
        let start = self.pos;
        if self.kw("open").is_some() {
            let target = self.path()?;
            self.kw("via")?;
            let link = self.ident()?;
            return Some(Step::Open {
                target,
                link,
                span: self.span(start),
            });
        }
        if self.kw("let").is_some() {
            let name = self.ident()?;
            self.assign()?;
            let call = self.call()?;
            return Some(Step::Let {
                name,
                call,
                span: self.span(start),
            });
        }
        let (system, action) = self.two_names()?;
        let create = action.name == "create";
        if (create || action.name == "update") && self.peek().is_some_and(is_name_start) {
            // `record_step`; when it fails, `call` fails too (a name, not `(`, follows).
            let object = self.ident()?;
            let via = match self.kw("via") {
                Some(_) => Some(self.ident()?),
                None => None,
            };
            self.expect(b'{')?;
            let mut assignments = Vec::new();
            while !self.eat(b'}') {
                let s = self.setting()?;
                assignments.push(Assignment {
                    field: s.name,
                    value: s.value,
                    span: s.span,
                });
                self.eat(b',');
            }
            let write = RecordWrite {
                system,
                object,
                via,
                assignments,
                span: self.span(start),
            };
            return Some(if create {
                Step::Create(write)
            } else {
                Step::Update(write)
            });
        }
        let args = self.args()?;
        Some(Step::Call(Call {
            system,
            action,
            args,
            span: self.span(start),
        }))
    }

    /// One policy entry, chosen by its first word.
    fn policy_item(&mut self) -> R<PolicyItem> {
        let start = self.pos;
        match self.word()? {
            "retry" => {
                self.kw("retry")?;
                self.assign()?;
                let (attempts, attempts_span) = self.int()?;
                self.kw("attempts")?;
                let mut backoff = None;
                if self.peek() == Some(b',') {
                    // `, backoff D .. D`, or the comma between entries.
                    let (pos, last) = (self.pos, self.last);
                    self.took(pos + 1);
                    if self.kw("backoff").is_some() {
                        let from = self.duration()?;
                        self.punct(b"..")?;
                        let to = self.duration()?;
                        backoff = Some((from, to));
                    } else {
                        self.pos = pos;
                        self.last = last;
                    }
                }
                Some(PolicyItem::Retry {
                    attempts,
                    attempts_span,
                    backoff,
                    span: self.span(start),
                })
            }
            "dead_letter" => {
                self.kw("dead_letter")?;
                self.assign()?;
                self.kw("after")?;
                self.kw("retry")?;
                Some(PolicyItem::DeadLetter {
                    span: self.span(start),
                })
            }
            "alert" => {
                self.kw("alert")?;
                let call = self.call()?;
                self.kw("when")?;
                let condition = self.cond()?;
                Some(PolicyItem::Alert {
                    call,
                    condition,
                    span: self.span(start),
                })
            }
            "reconcile" => {
                self.kw("reconcile")?;
                self.assign()?;
                self.kw("every")?;
                let every = self.duration()?;
                Some(PolicyItem::Reconcile {
                    every,
                    span: self.span(start),
                })
            }
            _ => Some(PolicyItem::Unknown(self.setting()?)),
        }
    }
}
