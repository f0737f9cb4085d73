//! `seam graph FILE`: the dependency graph as DOT, Mermaid or SVG.

use super::load::{self, exit};
use clap::{Args, ValueEnum};
use seam_compiler::render::graph::FieldGraph;
use std::path::PathBuf;
use std::process::ExitCode;

/// `layout-rs` is strongly super-linear: 200 fields lay out in 0.3 s, 2,000 took over 4 minutes
/// (measured by `cargo bench -p seam-compiler --bench plan -- svg`). Past this, use DOT.
const SVG_MAX_NODES: usize = 400;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT
    Dot,
    /// A Mermaid flowchart (renders in GitHub markdown)
    Mermaid,
    /// SVG, laid out in-process (no Graphviz needed)
    Svg,
}

/// Draw the dependency graph: fields grouped by system and object, mapping / derived /
/// workflow edges styled differently, cycles in red.
///
/// The graph is drawn even when the spec has a cycle (its error is printed on stderr and the
/// exit status is 1); a spec that does not parse or resolve draws nothing.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  seam graph examples/case_incident.seam > seam.dot\n  seam graph --format mermaid examples/case_incident.seam\n  seam graph --format svg examples/case_incident.seam > seam.svg\n\nExit status: 0 drawn, 1 the spec has errors (still drawn when it resolved), 2 bad usage or unreadable file."
)]
pub struct GraphArgs {
    /// The `.seam` file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &GraphArgs) -> ExitCode {
    exit(draw(args))
}

fn draw(args: &GraphArgs) -> Result<(), ExitCode> {
    let loaded = load::load(&args.file)?;
    let verdict = loaded.require_clean();
    let Some(model) = &loaded.checked.model else {
        return verdict.and(Err(ExitCode::from(1)));
    };
    let graph = FieldGraph::build(model);
    if matches!(args.format, GraphFormat::Svg) && graph.nodes.len() > SVG_MAX_NODES {
        eprintln!(
            "error: the in-process SVG layout is for graphs of up to {SVG_MAX_NODES} fields; this one has {}. Use `--format dot` and Graphviz (`dot -Tsvg`)",
            graph.nodes.len()
        );
        return Err(ExitCode::from(2));
    }
    let text = match args.format {
        GraphFormat::Dot => graph.dot(),
        GraphFormat::Mermaid => graph.mermaid(),
        GraphFormat::Svg => graph.svg(),
    };
    load::emit(&text, args.output.as_deref())?;
    load::leave_to_exit((loaded, graph, text));
    verdict
}
