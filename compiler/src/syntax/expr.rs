//! Pest pairs to the small AST nodes shared by every declaration: names, paths, literals,
//! values (`Expr`) and conditions (`Cond`, folded with pest's `PrattParser`).
//!
//! INVARIANT: the pairs come from a successful parse of `grammar.pest`, so the shape of each
//! pair is known; a shape that does not match still becomes an (internal) diagnostic rather
//! than a panic.

use super::ast::*;
use super::errors::internal;
use super::fast::Rule;
use super::lexical::is_keyword;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::cell::Cell;

pub(super) type PResult<T> = Result<T, Diagnostic>;

thread_local! {
    /// Where the text pest parsed starts in the file: 0, except while `syntax::chunks` converts
    /// one chunk of a larger file on its own thread (see [`with_base`]).
    static BASE: Cell<usize> = const { Cell::new(0) };
}

/// Runs `convert` with every span it makes shifted by `base`: the pairs it reads come from a
/// parse of the text that starts at `base` in the file.
pub(super) fn with_base<T>(base: usize, convert: impl FnOnce() -> T) -> T {
    let before = BASE.with(|b| b.replace(base));
    let out = convert();
    BASE.with(|b| b.set(before));
    out
}

/// The file offset of a position in the parsed text.
fn in_file(pos: usize) -> usize {
    BASE.with(Cell::get) + pos
}

/// A condition with more operators than this is refused: each operator is one level of the
/// `Cond` tree, and very deep trees overflow the stack when they are dropped or compared.
pub(crate) const MAX_CONDITION_OPERATORS: usize = 256;

/// The span of a pair, without the spaces and comments that pest's implicit whitespace lets a
/// rule ending in an optional part (`a ~ b?`) swallow after its last token.
pub(super) fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    let start = in_file(s.start());
    Span::new(start, start + code_len(s.as_str()))
}

/// The length of `text` up to the end of its last token.
///
/// INVARIANT: `text` starts at a token, and neither strings nor comments span lines, so the
/// start of `text` and every line start are clean lexical states: only the trailing lines need
/// scanning.
fn code_len(text: &str) -> usize {
    // Most pairs end at a token on a line without `/`: nothing to trim, nothing to scan.
    let bytes = text.as_bytes();
    let ends_in_space = text.chars().next_back().is_some_and(char::is_whitespace);
    if !ends_in_space
        && !bytes
            .iter()
            .rev()
            .take_while(|&&b| b != b'\n')
            .any(|&b| b == b'/')
    {
        return text.len();
    }
    let mut end = text.trim_end().len();
    loop {
        let upto = text.get(..end).unwrap_or_default();
        let line_start = upto.rfind('\n').map_or(0, |i| i + 1);
        let line = upto.get(line_start..).unwrap_or_default();
        match comment_start(line) {
            Some(c) => {
                end = upto
                    .get(..line_start + c)
                    .unwrap_or_default()
                    .trim_end()
                    .len()
            }
            None => return end,
        }
    }
}

/// Where a `//` comment starts in one line, outside strings.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Tokens that only shape the text; the AST keeps nothing of them but spans.
fn is_noise(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::biarrow
            | Rule::arrow
            | Rule::fat_arrow
            | Rule::assign
            | Rule::colon
            | Rule::dotdot
            | Rule::comma
            | Rule::lparen
            | Rule::rparen
            | Rule::lbracket
            | Rule::rbracket
            | Rule::lbrace
            | Rule::rbrace
            | Rule::kw_seam
            | Rule::kw_system
            | Rule::kw_object
            | Rule::kw_identity
            | Rule::kw_own
            | Rule::kw_link
            | Rule::kw_workflow
            | Rule::kw_policy
            | Rule::kw_key
            | Rule::kw_open
            | Rule::kw_let
            | Rule::kw_on
            | Rule::kw_when
            | Rule::kw_do
            | Rule::kw_becomes
            | Rule::kw_map
            | Rule::kw_via
            | Rule::kw_from
            | Rule::kw_env
            | Rule::kw_in
            | Rule::w_retry
            | Rule::w_attempts
            | Rule::w_backoff
            | Rule::w_dead_letter
            | Rule::w_after
            | Rule::w_alert
            | Rule::w_reconcile
            | Rule::w_every
            | Rule::w_text
            | Rule::w_ref
            | Rule::w_picklist
            | Rule::EOI
    )
}

/// The meaningful children of a pair, in order.
pub(super) struct Kids<'i> {
    inner: std::iter::Peekable<Pairs<'i, Rule>>,
    end: usize,
}

impl<'i> Kids<'i> {
    pub(super) fn of(pair: Pair<'i, Rule>) -> Self {
        let end = in_file(pair.as_span().end());
        Kids {
            inner: pair.into_inner().peekable(),
            end,
        }
    }

    fn skip_noise(&mut self) {
        while self.inner.peek().is_some_and(|p| is_noise(p.as_rule())) {
            self.inner.next();
        }
    }

    /// The next child, which the grammar guarantees.
    pub(super) fn next(&mut self) -> PResult<Pair<'i, Rule>> {
        self.skip_noise();
        self.inner
            .next()
            .ok_or_else(|| internal("a part of the syntax tree is missing", self.end))
    }

    /// The next child if it is a `rule`.
    pub(super) fn next_if(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        self.skip_noise();
        if self.inner.peek().is_some_and(|p| p.as_rule() == rule) {
            self.inner.next()
        } else {
            None
        }
    }
}

impl<'i> Iterator for Kids<'i> {
    type Item = Pair<'i, Rule>;
    fn next(&mut self) -> Option<Self::Item> {
        self.skip_noise();
        self.inner.next()
    }
}

/// A name (an `ident`, `member` or contextual-word pair). Names are atomic tokens, so the pair's
/// span is exactly the name.
///
/// The fast grammar lets a bare name be a reserved word; such a name is refused here, and
/// `syntax::parse` then lets the strict grammar report it as it always has.
pub(super) fn ident(pair: &Pair<'_, Rule>) -> PResult<Ident> {
    let name = pair.as_str();
    let start = in_file(pair.as_span().start());
    if pair.as_rule() == Rule::ident && is_keyword(name) {
        return Err(internal("a reserved word as a bare name", start));
    }
    Ok(Ident {
        name: name.into(),
        span: Span::new(start, start + name.len()),
    })
}

/// A `path` pair (or any `$` rule whose children are names).
pub(super) fn path(pair: Pair<'_, Rule>) -> PResult<Path> {
    let span = span_of(&pair);
    let segments: Vec<Ident> = pair
        .into_inner()
        .filter(|p| matches!(p.as_rule(), Rule::ident | Rule::member))
        .map(|p| ident(&p))
        .collect::<PResult<_>>()?;
    if segments.is_empty() {
        return Err(internal("a path without names", span.start));
    }
    Ok(Path { segments, span })
}

/// The two names of `ALIAS.Object` / `SYS.action` / `SYS.create`.
pub(super) fn two_names(pair: Pair<'_, Rule>) -> PResult<(Ident, Ident)> {
    let start = in_file(pair.as_span().start());
    let mut names = pair
        .into_inner()
        .filter(|p| {
            matches!(
                p.as_rule(),
                Rule::ident | Rule::member | Rule::w_create | Rule::w_update
            )
        })
        .map(|p| ident(&p));
    match (names.next(), names.next()) {
        (Some(a), Some(b)) => Ok((a?, b?)),
        _ => Err(internal("a dotted name without two parts", start)),
    }
}

/// A `string` pair.
pub(super) fn string(pair: Pair<'_, Rule>) -> PResult<StrLit> {
    let span = span_of(&pair);
    let raw = pair
        .into_inner()
        .find(|p| p.as_rule() == Rule::str_inner)
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    Ok(StrLit {
        value: unescape(&raw),
        raw,
        span,
    })
}

/// Resolves `\"`, `\\` and `\n` (the only escapes the grammar accepts).
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A `duration` pair: digits and a unit.
pub(super) fn duration(pair: &Pair<'_, Rule>) -> PResult<Duration> {
    let span = span_of(pair);
    let text = pair.as_str();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let factor: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => 86_400_000,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .map(|millis| Duration { millis, span })
        .ok_or_else(|| {
            Diagnostic::error(Code::Syntax, format!("duration `{text}` is too long"), span)
                .with_label("too long")
                .with_help("a duration must fit in 64-bit milliseconds")
        })
}

/// An `int` pair as a `u32`, with `what` naming it in the overflow error.
pub(super) fn int_u32(pair: &Pair<'_, Rule>, what: &str) -> PResult<u32> {
    let span = span_of(pair);
    pair.as_str().parse::<u32>().map_err(|_| {
        Diagnostic::error(
            Code::Syntax,
            format!("{what} `{}` is too large", pair.as_str()),
            span,
        )
        .with_label("too large")
        .with_help(format!("the largest {what} is {}", u32::MAX))
    })
}

/// A `literal` pair.
pub(super) fn literal(pair: Pair<'_, Rule>) -> PResult<Literal> {
    let span = span_of(&pair);
    let text = pair.as_str().to_string();
    let inner = Kids::of(pair).next()?;
    let kind = match inner.as_rule() {
        Rule::string => LitKind::Str(string(inner)?),
        Rule::duration => LitKind::Duration(duration(&inner)?),
        Rule::number => LitKind::Number(
            inner
                .as_str()
                .parse::<f64>()
                .map_err(|_| internal("a number that does not parse", span.start))?,
        ),
        Rule::boolean => LitKind::Bool(inner.as_str() == "true"),
        _ => return Err(internal("an unknown kind of literal", span.start)),
    };
    Ok(Literal { kind, text, span })
}

/// An `expr` pair.
pub(super) fn expr(pair: Pair<'_, Rule>) -> PResult<Expr> {
    let inner = Kids::of(pair).next()?;
    let span = span_of(&inner);
    match inner.as_rule() {
        Rule::env_call => {
            let var = string(Kids::of(inner).next()?)?;
            Ok(Expr::Env { var, span })
        }
        Rule::func_call => {
            let mut kids = Kids::of(inner);
            let name = ident(&kids.next()?)?;
            let args = kids.map(named_arg).collect::<PResult<_>>()?;
            Ok(Expr::Func { name, args, span })
        }
        Rule::literal => Ok(Expr::Literal(literal(inner)?)),
        Rule::path => Ok(Expr::Path(path(inner)?)),
        _ => Err(internal("an unknown kind of value", span.start)),
    }
}

/// A `named_arg` pair: `name = expr`.
pub(super) fn named_arg(pair: Pair<'_, Rule>) -> PResult<NamedArg> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let name = ident(&kids.next()?)?;
    let value = expr(kids.next()?)?;
    Ok(NamedArg { name, value, span })
}

/// A `call` pair: `SYS.action(arg = expr, ...)`.
pub(super) fn call(pair: Pair<'_, Rule>) -> PResult<Call> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let (system, action) = two_names(kids.next()?)?;
    let args = kids.map(named_arg).collect::<PResult<_>>()?;
    Ok(Call {
        system,
        action,
        args,
        span,
    })
}

/// A `cond` pair, folded by precedence: `not` > `and` > `or`, both infix operators left-assoc.
pub(super) fn cond(pair: Pair<'_, Rule>) -> PResult<Cond> {
    let span = span_of(&pair);
    let operators = pair
        .clone()
        .into_inner()
        .flatten()
        .filter(|p| matches!(p.as_rule(), Rule::kw_and | Rule::kw_or | Rule::kw_not))
        .count();
    if operators > MAX_CONDITION_OPERATORS {
        return Err(
            Diagnostic::error(Code::Syntax, "condition has too many operators", span)
                .with_label(format!("{operators} `and`/`or`/`not` operators"))
                .with_help(format!(
                    "a condition may use at most {MAX_CONDITION_OPERATORS} operators; split it up"
                )),
        );
    }
    let pratt = PrattParser::new()
        .op(Op::infix(Rule::kw_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not));
    pratt
        .map_primary(cond_primary)
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let span = span_of(&op).join(rhs.span());
            Ok(Cond::Not(Box::new(rhs), span))
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let span = lhs.span().join(rhs.span());
            Ok(match op.as_rule() {
                Rule::kw_and => Cond::And(Box::new(lhs), Box::new(rhs), span),
                _ => Cond::Or(Box::new(lhs), Box::new(rhs), span),
            })
        })
        .parse(pair.into_inner())
}

fn cond_primary(pair: Pair<'_, Rule>) -> PResult<Cond> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::group => {
            let inner = cond(Kids::of(pair).next()?)?;
            Ok(Cond::Group(Box::new(inner), span))
        }
        Rule::comparison => comparison(pair),
        _ => Err(internal("an unknown kind of condition", span.start)),
    }
}

fn comparison(pair: Pair<'_, Rule>) -> PResult<Cond> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let left = operand(kids.next()?)?;
    let next = kids.next()?;
    if next.as_rule() == Rule::in_list {
        let list = Kids::of(next).map(literal).collect::<PResult<_>>()?;
        return Ok(Cond::In { left, list, span });
    }
    let op = match next.as_str() {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        _ => CmpOp::Ge,
    };
    let right = operand(kids.next()?)?;
    Ok(Cond::Compare {
        left,
        op,
        right,
        span,
    })
}

fn operand(pair: Pair<'_, Rule>) -> PResult<Operand> {
    let inner = Kids::of(pair).next()?;
    match inner.as_rule() {
        Rule::literal => Ok(Operand::Literal(literal(inner)?)),
        _ => Ok(Operand::Path(path(inner)?)),
    }
}
