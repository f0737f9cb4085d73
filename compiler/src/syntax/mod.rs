//! Source text to AST. `parse` returns the whole file, or the first syntax error as a
//! `seam::syntax` diagnostic that says what was expected in the user's words.
//!
//! Guarantees: `parse` never panics and never recurses without bound, whatever the input (a
//! cheap pre-scan rejects deeply nested parentheses before pest sees them, and conditions have
//! an operator budget so the AST stays shallow enough to drop). Every AST node carries the exact
//! byte span of its text.
//!
//! Layout: `grammar.pest` (the grammar), `lexical` (pre-scan, comments, the token at an offset),
//! `errors` (pest errors to diagnostics), `decl` (declarations), `expr` (names, literals,
//! values, conditions), `template` (interpolated strings).

// The AST is a fixed contract shared with other stages; its enums hold their nodes inline
// (one file's worth, built once), so the size lint's advice to box them is not taken here.
#[allow(clippy::large_enum_variant)]
pub mod ast;
mod decl;
mod errors;
mod expr;
mod lexical;
pub mod template;

#[cfg(test)]
mod tests;

use crate::diagnostic::Diagnostic;
use pest::Parser as _;

/// The pest parser generated from `grammar.pest`.
#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(crate) struct SeamParser;

/// Parses one `.seam` file.
///
/// An empty file is an empty [`ast::SeamFile`]; a missing `seam` line is reported by a later
/// check, not here.
pub fn parse(src: &str) -> Result<ast::SeamFile, Diagnostic> {
    let comments = lexical::prescan(src)?;
    let mut pairs = SeamParser::parse(Rule::file, src).map_err(|e| errors::from_pest(src, &e))?;
    let file = pairs
        .next()
        .ok_or_else(|| errors::internal("the file produced no parse tree", src.len()))?;
    let items = decl::file(file)?;
    Ok(ast::SeamFile {
        items,
        comments,
    })
}
