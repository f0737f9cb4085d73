//! Source text to AST. `parse` returns the whole file, or the first syntax error as a
//! `seam::syntax` diagnostic that says what was expected in the user's words.
//!
//! Guarantees: `parse` never panics and never recurses without bound, whatever the input (a
//! cheap pre-scan rejects deeply nested parentheses before pest sees them, and conditions have
//! an operator budget so the AST stays shallow enough to drop). Every AST node carries the exact
//! byte span of its text.
//!
//! Layout: `grammar.pest` (the grammar), `hand` (a hand-written parser that builds the same AST
//! for the texts it is sure of, much faster; pest runs when it refuses), `lexical` (pre-scan,
//! comments, the token at an offset),
//! `errors` (pest errors to diagnostics), `decl` (declarations), `expr` (names, literals,
//! values, conditions), `template` (interpolated strings).

// The AST is a fixed contract shared with other stages; its enums hold their nodes inline
// (one file's worth, built once), so the size lint's advice to box them is not taken here.
#[allow(clippy::large_enum_variant)]
pub mod ast;
mod chunks;
mod decl;
mod errors;
mod expr;
mod hand;
mod lexical;
pub mod template;

#[cfg(test)]
mod agree_tests;
#[cfg(test)]
mod chunk_tests;
#[cfg(test)]
mod hand_tests;
#[cfg(test)]
mod tests;

use crate::diagnostic::Diagnostic;
use pest::Parser as _;

/// The strict parser: `grammar.pest` with reserved words refused as bare names. Its errors are
/// the syntax diagnostics, so it is the one that defines the language.
#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
#[grammar = "reserved_strict.pest"]
pub(crate) struct SeamParser;

/// The fast parser: the same grammar without the reserved-word lookahead before every name.
/// It accepts every text the strict parser accepts, with the same tree. Where it accepts more,
/// its tree holds a bare name that is a keyword, which the conversion refuses; a grammar walk
/// (`syntax::agree_tests`) shows that in that case the strict parser fails.
pub(crate) mod fast {
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar.pest"]
    #[grammar = "reserved_fast.pest"]
    pub(crate) struct FastParser;
}

/// Parses one `.seam` file.
///
/// An empty file is an empty [`ast::SeamFile`]; a missing `seam` line is reported by a later
/// check, not here.
///
/// The hand-written parser (`syntax::hand`) runs first; it builds the AST the pest path below
/// would, or refuses. Then the fast parser and the conversion run. Only when either refuses the
/// text does the strict parser run, and its error is the diagnostic, exactly as if it had run alone; when it
/// accepts the text, the conversion's own diagnostic (a number too large, ...) stands.
///
/// A large text is first parsed in chunks on several threads (`syntax::chunks`); if any chunk
/// is refused, the whole text is parsed as described above, so the result never depends on it.
pub fn parse(src: &str) -> Result<ast::SeamFile, Diagnostic> {
    parse_in_chunks(src, chunks::count(src.len()))
}

/// [`parse`], trying up to `k` chunks in parallel first.
fn parse_in_chunks(src: &str, k: usize) -> Result<ast::SeamFile, Diagnostic> {
    let lexical::Prescan {
        comments,
        item_ends,
    } = lexical::prescan(src)?;
    if k > 1 {
        let ranges = chunks::ranges(src.len(), &item_ends, k);
        if ranges.len() > 1 {
            if let Some(items) = chunks::parse_items(src, &ranges) {
                return Ok(ast::SeamFile { items, comments });
            }
        }
    }
    if let Some(items) = hand::items(src, 0, src.len()) {
        return Ok(ast::SeamFile { items, comments });
    }
    let items = pest_items(src)?;
    Ok(ast::SeamFile { items, comments })
}

/// The pest path: the fast parser and the conversion, or the strict parser's diagnostic.
fn pest_items(src: &str) -> Result<Vec<ast::Item>, Diagnostic> {
    match fast::FastParser::parse(fast::Rule::file, src) {
        Ok(mut pairs) => match pairs.next() {
            Some(file) => decl::file(file).map_err(|d| strict_error(src, d)),
            None => Err(strict_error(
                src,
                errors::internal("the file produced no parse tree", src.len()),
            )),
        },
        Err(_) => Err(strict_error(
            src,
            errors::internal("the fast parser refused a valid file", 0),
        )),
    }
}

/// The diagnostic for a text the fast path refused: the strict parser's error if it fails too,
/// otherwise `converted`.
fn strict_error(src: &str, converted: Diagnostic) -> Diagnostic {
    match SeamParser::parse(Rule::file, src) {
        Err(e) => errors::from_pest(src, &e),
        Ok(_) => converted,
    }
}
