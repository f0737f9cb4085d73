//! One module per subcommand: flags (clap) and rendering, nothing else.

pub mod check;
pub mod compile;
pub mod demo;
pub mod diff;
pub mod dlq;
pub mod fmt;
pub mod graph;
pub mod links;
pub mod load;
pub mod reconcile;
pub mod run;
pub mod sandbox;
pub mod table;
pub mod why;
