//! `compile` (check + Plan + JSON), `table` and `graph` of the generated 100,000-mapping spec
//! (custom objects of 100 fields each). Targets: compile < 1 s and < 500 MB peak; table and
//! graph < 2 s each. A plain timing binary, so the peak memory of one compile can be read with
//! `/usr/bin/time -v`:
//!
//! `cargo bench -p seam-compiler --bench plan` (all three), or with `-- compile` for one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use seam_compiler::render::{graph::FieldGraph, table};
use seam_compiler::Plan;
use std::time::Instant;

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let n = 100_000;
    let spec = seam_compiler::synthetic::spec(n);
    println!("spec: {n} mappings, {} MB of text", spec.len() / 1_000_000);

    let t = Instant::now();
    let checked = seam_compiler::check(&spec);
    assert!(!checked.has_errors());
    let model = checked.model.unwrap();
    let checked_at = t.elapsed();
    let plan = Plan::from_model(&model);
    let planned_at = t.elapsed();
    let json = serde_json::to_string(&plan).unwrap();
    let compile = t.elapsed();
    println!(
        "  check {:.3} s, plan {:.3} s, JSON {:.3} s",
        checked_at.as_secs_f64(),
        (planned_at - checked_at).as_secs_f64(),
        (compile - planned_at).as_secs_f64()
    );
    if run("compile") {
        println!(
            "compile (check + plan + JSON, {} MB): {:.3} s",
            json.len() / 1_000_000,
            compile.as_secs_f64()
        );
    }
    if run("table") {
        let t = Instant::now();
        let rows = table::build(&plan);
        let text = rows.markdown();
        println!(
            "table ({} rows, markdown): {:.3} s",
            rows.rows.len(),
            t.elapsed().as_secs_f64()
        );
        assert!(!text.is_empty());
    }
    if run("svg") {
        // The in-process SVG layout, at the size `seam graph --format svg` accepts.
        let small = seam_compiler::check(&seam_compiler::synthetic::spec(100));
        let g = FieldGraph::build(&small.model.unwrap());
        let t = Instant::now();
        let svg = g.svg();
        println!(
            "svg ({} nodes, {} edges): {:.3} s",
            g.nodes.len(),
            g.edges.len(),
            t.elapsed().as_secs_f64()
        );
        assert!(svg.contains("<svg"));
    }
    if run("graph") {
        let t = Instant::now();
        let g = FieldGraph::build(&model);
        let dot = g.dot();
        let mermaid = g.mermaid();
        println!(
            "graph ({} nodes, {} edges, dot + mermaid): {:.3} s",
            g.nodes.len(),
            g.edges.len(),
            t.elapsed().as_secs_f64()
        );
        assert!(!dot.is_empty() && !mermaid.is_empty());
    }
}
