//! The dependency graph for people: fields as nodes grouped by system and object; mapping,
//! derivation and workflow edges styled differently; every edge on a cycle drawn in red.
//!
//! Built from the model's [`dependency_graph`], not from a Plan, so a spec whose only problem
//! is a cycle still draws — that is when the picture helps most. Three outputs: DOT, Mermaid
//! (renders in GitHub markdown) and SVG, laid out in-process by `layout-rs` (no Graphviz).

use crate::check::{dependency_graph, EdgeKind, GraphNode};
use crate::model::Model;
use petgraph::visit::EdgeRef;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A node: a field, or "a record of this object is created".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub system: String,
    /// The system's kind (`salesforce`), empty when unknown.
    pub kind: String,
    pub object: String,
    /// The field name, or `(created)` for an object node.
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Mapping,
    Derived,
    Workflow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub style: Style,
    /// The link or workflow name; `derived` for derivations.
    pub label: String,
    /// On a cycle (a strongly connected component with more than one node, or a self-loop).
    pub in_cycle: bool,
}

/// The graph in a stable order: nodes sorted by system, object, field; edges by endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldGraph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl FieldGraph {
    pub fn build(model: &Model) -> FieldGraph {
        let graph = dependency_graph(model);
        // Per node index: on a cycle.
        let mut cyclic = vec![false; graph.node_count()];
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let self_loop = scc
                .first()
                .is_some_and(|&n| graph.find_edge(n, n).is_some());
            if scc.len() > 1 || self_loop {
                for n in scc {
                    if let Some(slot) = cyclic.get_mut(n.index()) {
                        *slot = true;
                    }
                }
            }
        }
        let on_cycle =
            |n: petgraph::graph::NodeIndex| cyclic.get(n.index()).copied().unwrap_or(false);
        let mut order: Vec<petgraph::graph::NodeIndex> = graph.node_indices().collect();
        order.sort_by(|a, b| graph[*a].cmp(&graph[*b]));
        let mut position = vec![0usize; graph.node_count()];
        let mut nodes = Vec::with_capacity(order.len());
        for (i, n) in order.iter().enumerate() {
            if let Some(slot) = position.get_mut(n.index()) {
                *slot = i;
            }
            let (system, object, label) = match &graph[*n] {
                GraphNode::Field(f) => (
                    String::from(&*f.system),
                    String::from(&*f.object),
                    String::from(&*f.field),
                ),
                GraphNode::Object(o) => (
                    String::from(&*o.system),
                    String::from(&*o.object),
                    "(created)".into(),
                ),
            };
            let kind = model.kind(&system).map(|k| k.as_str()).unwrap_or_default();
            nodes.push(Node {
                kind: kind.to_string(),
                system,
                object,
                label,
            });
        }
        let at = |n: petgraph::graph::NodeIndex| position.get(n.index()).copied().unwrap_or(0);
        let mut edges: Vec<Edge> = graph
            .edge_references()
            .map(|e| {
                let (style, label) = match &e.weight().kind {
                    EdgeKind::Mapping { link } => (Style::Mapping, String::from(&**link)),
                    EdgeKind::Derived => (Style::Derived, "derived".to_string()),
                    EdgeKind::Workflow { workflow } => (Style::Workflow, String::from(&**workflow)),
                };
                Edge {
                    from: at(e.source()),
                    to: at(e.target()),
                    style,
                    label,
                    in_cycle: on_cycle(e.source()) && on_cycle(e.target()),
                }
            })
            .collect();
        // The catalogue's derivations are drawn only where they touch the spec's own edges:
        // `Task.IsClosed from Status` is noise in a picture of this seam.
        let mut linked = vec![false; nodes.len()];
        for e in edges.iter().filter(|e| e.style != Style::Derived) {
            for end in [e.from, e.to] {
                if let Some(slot) = linked.get_mut(end) {
                    *slot = true;
                }
            }
        }
        let is_linked = |n: usize| linked.get(n).copied().unwrap_or(false);
        edges.retain(|e| e.style != Style::Derived || is_linked(e.from) || is_linked(e.to));
        edges.sort_by(|a, b| (a.from, a.to, &a.label).cmp(&(b.from, b.to, &b.label)));
        edges.dedup();
        // Renumber the nodes that still have an edge.
        let mut kept: Vec<Option<usize>> = vec![None; nodes.len()];
        let mut used: Vec<usize> = edges.iter().flat_map(|e| [e.from, e.to]).collect();
        used.sort_unstable();
        used.dedup();
        let mut nodes: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
        let nodes: Vec<Node> = used
            .iter()
            .enumerate()
            .filter_map(|(new, &old)| {
                if let Some(slot) = kept.get_mut(old) {
                    *slot = Some(new);
                }
                nodes.get_mut(old).and_then(Option::take)
            })
            .collect();
        let renumber = |i: usize| kept.get(i).copied().flatten().unwrap_or(0);
        for e in &mut edges {
            e.from = renumber(e.from);
            e.to = renumber(e.to);
        }
        FieldGraph { nodes, edges }
    }

    /// Node indices grouped by system, then object, in node order.
    fn groups(&self) -> BTreeMap<(&str, &str), BTreeMap<&str, Vec<usize>>> {
        let mut groups: BTreeMap<(&str, &str), BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            groups
                .entry((n.system.as_str(), n.kind.as_str()))
                .or_default()
                .entry(n.object.as_str())
                .or_default()
                .push(i);
        }
        groups
    }

    /// Graphviz DOT: a cluster per system holding a cluster per object.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph seam {\n  rankdir=LR;\n  fontname=\"Helvetica\";\n");
        out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];\n");
        out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
        for (s, ((system, kind), objects)) in self.groups().into_iter().enumerate() {
            let _ = writeln!(
                out,
                "  subgraph cluster_{s} {{\n    label={};\n    style=filled;\n    fillcolor=\"{}\";\n    color=\"#999999\";",
                quote(&format!("{system} ({kind})")),
                system_colour(kind)
            );
            for (o, (object, members)) in objects.into_iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    subgraph cluster_{s}_{o} {{\n      label={};\n      style=\"rounded,filled\";\n      fillcolor=\"#ffffff80\";",
                    quote(object)
                );
                for i in members {
                    if let Some(n) = self.nodes.get(i) {
                        let _ = write!(out, "      n{i} [label=");
                        push_quoted(&mut out, &n.label);
                        out.push_str("];\n");
                    }
                }
                out.push_str("    }\n");
            }
            out.push_str("  }\n");
        }
        for e in &self.edges {
            let (style, colour) = edge_look(e);
            let width = if e.in_cycle { ", penwidth=2.5" } else { "" };
            let _ = write!(out, "  n{} -> n{} [label=", e.from, e.to);
            push_quoted(&mut out, &e.label);
            let _ = writeln!(
                out,
                ", style={style}, color=\"{colour}\", fontcolor=\"{colour}\"{width}];"
            );
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart: subgraphs per system and object; `-->` mapping, `-.->` derived,
    /// `==>` workflow; cycle edges coloured red with `linkStyle`.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (s, ((system, kind), objects)) in self.groups().into_iter().enumerate() {
            let _ = writeln!(
                out,
                "  subgraph s{s}[\"{}\"]",
                mermaid_text(&format!("{system} ({kind})"))
            );
            for (o, (object, members)) in objects.into_iter().enumerate() {
                let _ = writeln!(out, "    subgraph s{s}_{o}[\"{}\"]", mermaid_text(object));
                for i in members {
                    if let Some(n) = self.nodes.get(i) {
                        let _ = write!(out, "      n{i}[\"");
                        push_mermaid_text(&mut out, &n.label);
                        out.push_str("\"]\n");
                    }
                }
                out.push_str("    end\n");
            }
            out.push_str("  end\n");
        }
        let mut red = Vec::new();
        for (k, e) in self.edges.iter().enumerate() {
            let arrow = match e.style {
                Style::Mapping => "-->",
                Style::Derived => "-.->",
                Style::Workflow => "==>",
            };
            let _ = write!(out, "  n{} {arrow}|\"", e.from);
            push_mermaid_text(&mut out, &e.label);
            let _ = writeln!(out, "\"| n{}", e.to);
            if e.in_cycle {
                red.push(k.to_string());
            }
        }
        if !red.is_empty() {
            let _ = writeln!(
                out,
                "  linkStyle {} stroke:#d62728,stroke-width:3px,color:#d62728",
                red.join(",")
            );
        }
        out
    }

    /// SVG laid out by `layout-rs`. It has no nested clusters, so each node names its system
    /// and object on a first line and is filled with its system's colour.
    pub fn svg(&self) -> String {
        use layout::backends::svg::SVGWriter;
        use layout::core::base::Orientation;
        use layout::core::color::Color;
        use layout::core::style::{LineStyleKind, StyleAttr};
        use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
        use layout::topo::layout::VisualGraph;

        let mut vg = VisualGraph::new(Orientation::LeftToRight);
        let handles: Vec<_> = self
            .nodes
            .iter()
            .map(|n| {
                let text = format!("{}.{}\n{}", n.system, n.object, n.label);
                let fill =
                    Color::from_name(svg_fill(&n.kind)).unwrap_or_else(|| Color::new(0xffffffff));
                let look = StyleAttr::new(Color::new(0x555555ff), 1, Some(fill), 6, 14);
                let shape = ShapeKind::new_box(&text);
                // layout-rs sizes only connectors itself; a box takes the size it is given.
                let size = layout::std_shapes::render::get_shape_size(
                    Orientation::LeftToRight,
                    &shape,
                    look.font_size,
                    false,
                );
                vg.add_node(Element::create(shape, look, Orientation::LeftToRight, size))
            })
            .collect();
        for e in &self.edges {
            let (Some(&a), Some(&b)) = (handles.get(e.from), handles.get(e.to)) else {
                continue;
            };
            let (line, colour) = match e.style {
                Style::Mapping => (LineStyleKind::Normal, 0x1f5fbfff),
                Style::Derived => (LineStyleKind::Dashed, 0x777777ff),
                Style::Workflow => (LineStyleKind::Dotted, 0x2a8a2aff),
            };
            let colour = if e.in_cycle { 0xd62728ff } else { colour };
            let look = StyleAttr::new(
                Color::new(colour),
                if e.in_cycle { 3 } else { 2 },
                None,
                0,
                12,
            );
            let arrow = Arrow::new(
                LineEndKind::None,
                LineEndKind::Arrow,
                line,
                &e.label,
                &look,
                &None,
                &None,
            );
            vg.add_edge(arrow, a, b);
        }
        if self.nodes.is_empty() {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"40\"><text x=\"10\" y=\"25\">no fields cross the seam</text></svg>\n".into();
        }
        let mut svg = SVGWriter::new();
        vg.do_it(false, false, false, &mut svg);
        svg.finalize()
    }
}

fn edge_look(e: &Edge) -> (&'static str, &'static str) {
    let style = match e.style {
        Style::Mapping => "solid",
        Style::Derived => "dashed",
        Style::Workflow => "bold",
    };
    let colour = if e.in_cycle {
        "#d62728"
    } else {
        match e.style {
            Style::Mapping => "#1f5fbf",
            Style::Derived => "#777777",
            Style::Workflow => "#2a8a2a",
        }
    };
    (style, colour)
}

fn system_colour(kind: &str) -> &'static str {
    match kind {
        "salesforce" => "#e3f0ff",
        "servicenow" => "#e6f5e6",
        _ => "#f3f3f3",
    }
}

fn svg_fill(kind: &str) -> &'static str {
    match kind {
        "salesforce" => "lightblue",
        "servicenow" => "palegreen",
        _ => "whitesmoke",
    }
}

/// A DOT string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s);
    out
}

/// [`quote`], appended to `out` (one call per node and edge of a large graph: no allocation).
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    if !s.contains(['\\', '"']) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Mermaid label text: quotes become `#quot;`.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// [`mermaid_text`], appended to `out`.
fn push_mermaid_text(out: &mut String, s: &str) {
    if s.contains('"') {
        out.push_str(&mermaid_text(s));
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_backslashes_then_quotes_as_the_replace_chain_did() {
        for s in [
            "plain",
            "",
            "a\"b",
            "back\\slash",
            "\\\"",
            "ü\"\\ü",
            "#quot;\"",
        ] {
            let old = format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            assert_eq!(quote(s), old, "{s}");
            let mut out = String::from("x");
            push_quoted(&mut out, s);
            assert_eq!(out, format!("x{old}"));
            let mut out = String::new();
            push_mermaid_text(&mut out, s);
            assert_eq!(out, s.replace('"', "#quot;"));
        }
    }

    #[test]
    fn a_cycle_is_red_and_every_kept_node_has_an_edge() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let text = std::fs::read_to_string(format!("{root}/tests/fixtures/cycle.seam")).unwrap();
        let checked = crate::check_model(&text);
        let graph = FieldGraph::build(checked.model.as_ref().unwrap());
        assert!(graph.edges.iter().filter(|e| e.in_cycle).count() >= 2);
        // Every node kept has an edge, and every edge's ends are kept nodes.
        let mut used = vec![false; graph.nodes.len()];
        for e in &graph.edges {
            assert!(e.from < graph.nodes.len() && e.to < graph.nodes.len());
            used[e.from] = true;
            used[e.to] = true;
        }
        assert!(used.iter().all(|&u| u));
    }
}
