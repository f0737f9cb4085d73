//! Renderers for people: the ownership table, the dependency graph, the canonical layout of a
//! spec (`fmt`) and the review of a change (`diff`). Pure functions from data to text.
pub mod diff;
pub mod fmt;
pub mod graph;
pub mod table;
