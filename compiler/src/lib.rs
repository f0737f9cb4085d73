//! seam-compiler: `.seam` source text to a checked model (and later a Plan), or diagnostics.
//!
//! The compiler is pure: it does no I/O beyond the text it is handed. It keeps checking after
//! the first problem and returns every diagnostic it finds, sorted by position.

pub mod catalog;
pub mod codes;
pub mod diagnostic;
pub mod span;
pub mod syntax;

pub use codes::Code;
pub use diagnostic::{Diagnostic, Label, Severity};
pub use span::{LineIndex, Span};
