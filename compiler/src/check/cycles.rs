//! Rule 4: the dependency graph — mappings, derived fields and workflows — has no cycle.
//!
//! Nodes are fields (and objects, for `created` triggers and `create` steps); only writes are
//! edges (detail 9). Strongly connected components (Tarjan, linear) find every cycle; each is
//! reported once, as the whole chain from its smallest node, with every edge labelled.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fx::{HashMap, HashSet};
use crate::model::{FieldRef, Model, Name, ObjRef, Step, Trigger};
use crate::span::Span;
use petgraph::graph::{DiGraph, NodeIndex};
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::fmt;

/// A node of the dependency graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GraphNode {
    Field(FieldRef),
    /// "a record of this object is created"
    Object(ObjRef),
}

impl fmt::Display for GraphNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphNode::Field(field) => write!(f, "{field}"),
            GraphNode::Object(obj) => write!(f, "{obj} (created)"),
        }
    }
}

/// An edge's kind. The link's or workflow's name is shared by all its edges (one allocation
/// per link, not one per mapping).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// `A -> B` in a link.
    Mapping { link: Name },
    /// `from(...)`: the platform computes the target from the source.
    Derived,
    /// A workflow's trigger to what its steps write.
    Workflow { workflow: Name },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphEdge {
    pub kind: EdgeKind,
    /// Where the write is declared (no span for the catalogue's derivations).
    pub span: Option<Span>,
}

impl GraphEdge {
    fn describe(&self) -> String {
        match &self.kind {
            EdgeKind::Mapping { link } => format!("mapping in link `{link}`"),
            EdgeKind::Derived => "derived by the platform".to_string(),
            EdgeKind::Workflow { workflow } => format!("workflow `{workflow}`"),
        }
    }
}

/// The dependency graph of a model.
pub fn dependency_graph(model: &Model) -> DiGraph<GraphNode, GraphEdge> {
    // Sized for the mappings up front (two nodes and an edge each at most; workflows add
    // few): the node map and the graph's lists grew by doubling, rehashing or copying every
    // entry and holding the old and new tables at once at each step.
    let mappings: usize = model.links.iter().map(|l| l.mappings.len()).sum();
    let mut builder = Builder::with_capacity(2 * mappings, mappings);
    for link in &model.links {
        let name = Name::from(link.name.as_str());
        for m in &link.mappings {
            builder.edge(
                GraphNode::Field(m.source.node.clone()),
                GraphNode::Field(m.target.node.clone()),
                EdgeKind::Mapping {
                    link: Name::clone(&name),
                },
                Some(m.span),
            );
        }
    }
    for w in &model.workflows {
        let from = match &w.trigger {
            Trigger::Becomes { field, .. } | Trigger::Changes { field } => {
                GraphNode::Field(field.node.clone())
            }
            Trigger::Created { object } => GraphNode::Object(object.node.clone()),
        };
        let name = Name::from(w.name.as_str());
        let kind = || EdgeKind::Workflow {
            workflow: Name::clone(&name),
        };
        for step in &w.steps {
            match step {
                Step::Create {
                    object,
                    assignments,
                    span,
                } => {
                    builder.edge(
                        from.clone(),
                        GraphNode::Object(object.node.clone()),
                        kind(),
                        Some(*span),
                    );
                    for a in assignments {
                        builder.edge(
                            from.clone(),
                            GraphNode::Field(a.field.node.clone()),
                            kind(),
                            Some(a.span),
                        );
                    }
                }
                Step::Update { assignments, .. } => {
                    for a in assignments {
                        builder.edge(
                            from.clone(),
                            GraphNode::Field(a.field.node.clone()),
                            kind(),
                            Some(a.span),
                        );
                    }
                }
                Step::Open { link, span, .. } => {
                    let Some(link) = model.links.get(*link) else {
                        continue;
                    };
                    for m in &link.mappings {
                        builder.edge(
                            from.clone(),
                            GraphNode::Field(m.target.node.clone()),
                            kind(),
                            Some(*span),
                        );
                    }
                }
                Step::Action { .. } => {}
            }
        }
    }
    // Derivations of every object the graph touches (e.g. incident.priority from urgency).
    let objects: HashSet<ObjRef> = builder
        .index
        .keys()
        .filter_map(|n| match n {
            GraphNode::Field(f) => Some(f.object_ref()),
            GraphNode::Object(_) => None,
        })
        .collect();
    let mut objects: Vec<ObjRef> = objects.into_iter().collect();
    objects.sort();
    for obj in objects {
        let Some(kind) = model.kind(&obj.system) else {
            continue;
        };
        let Some(def) = model.catalog.object(kind, &obj.object) else {
            continue;
        };
        for field in &def.fields {
            for input in &field.derived_from {
                builder.edge(
                    GraphNode::Field(obj.field(Name::from(input.as_str()))),
                    GraphNode::Field(obj.field(Name::from(field.name.as_str()))),
                    EdgeKind::Derived,
                    None,
                );
            }
        }
    }
    builder.graph
}

/// A node of [`has_cycle`]'s graph: a [`GraphNode`] borrowed from the model (owned only for
/// the catalogue's derivations, whose names the model does not hold). Hashes and compares as
/// the [`GraphNode`] it stands for, so both graphs have the same nodes.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key<'m> {
    Field(Cow<'m, FieldRef>),
    Object(&'m ObjRef),
}

/// Whether the [`dependency_graph`] has a cycle (a self-loop included). The same nodes and
/// edges, built without cloning a name (no reference count touched, so no cache line shared
/// with the threads doing other checks) and without node or edge weights (a fraction of the
/// memory); a cycle is then a failed topological sort.
pub(crate) fn has_cycle(model: &Model) -> bool {
    let mappings: usize = model.links.iter().map(|l| l.mappings.len()).sum();
    let mut b = Light::with_capacity(2 * mappings, mappings);
    for link in &model.links {
        for m in &link.mappings {
            b.edge(
                Key::Field(Cow::Borrowed(&m.source.node)),
                Key::Field(Cow::Borrowed(&m.target.node)),
            );
        }
    }
    for w in &model.workflows {
        let from = match &w.trigger {
            Trigger::Becomes { field, .. } | Trigger::Changes { field } => {
                Key::Field(Cow::Borrowed(&field.node))
            }
            Trigger::Created { object } => Key::Object(&object.node),
        };
        for step in &w.steps {
            match step {
                Step::Create {
                    object,
                    assignments,
                    ..
                } => {
                    b.edge(from.clone(), Key::Object(&object.node));
                    for a in assignments {
                        b.edge(from.clone(), Key::Field(Cow::Borrowed(&a.field.node)));
                    }
                }
                Step::Update { assignments, .. } => {
                    for a in assignments {
                        b.edge(from.clone(), Key::Field(Cow::Borrowed(&a.field.node)));
                    }
                }
                Step::Open { link, .. } => {
                    let Some(link) = model.links.get(*link) else {
                        continue;
                    };
                    for m in &link.mappings {
                        b.edge(from.clone(), Key::Field(Cow::Borrowed(&m.target.node)));
                    }
                }
                Step::Action { .. } => {}
            }
        }
    }
    // Derivations of every object the graph touches, as in `dependency_graph` (in any order:
    // only the edges matter here).
    let objects: HashSet<ObjRef> = b
        .index
        .keys()
        .filter_map(|n| match n {
            Key::Field(f) => Some(f.object_ref()),
            Key::Object(_) => None,
        })
        .collect();
    for obj in objects {
        let Some(kind) = model.kind(&obj.system) else {
            continue;
        };
        let Some(def) = model.catalog.object(kind, &obj.object) else {
            continue;
        };
        for field in &def.fields {
            for input in &field.derived_from {
                b.edge(
                    Key::Field(Cow::Owned(obj.field(Name::from(input.as_str())))),
                    Key::Field(Cow::Owned(obj.field(Name::from(field.name.as_str())))),
                );
            }
        }
    }
    petgraph::algo::is_cyclic_directed(&b.graph)
}

/// [`has_cycle`]'s graph under construction.
struct Light<'m> {
    graph: DiGraph<(), ()>,
    index: HashMap<Key<'m>, NodeIndex>,
}

impl<'m> Light<'m> {
    fn with_capacity(nodes: usize, edges: usize) -> Light<'m> {
        let mut index = HashMap::default();
        index.reserve(nodes);
        Light {
            graph: DiGraph::with_capacity(nodes, edges),
            index,
        }
    }

    fn node(&mut self, key: Key<'m>) -> NodeIndex {
        match self.index.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => *e.insert(self.graph.add_node(())),
        }
    }

    fn edge(&mut self, from: Key<'m>, to: Key<'m>) {
        let a = self.node(from);
        let b = self.node(to);
        self.graph.add_edge(a, b, ());
    }
}

#[derive(Default)]
struct Builder {
    graph: DiGraph<GraphNode, GraphEdge>,
    index: HashMap<GraphNode, NodeIndex>,
}

impl Builder {
    fn with_capacity(nodes: usize, edges: usize) -> Builder {
        let mut index = HashMap::default();
        index.reserve(nodes);
        Builder {
            graph: DiGraph::with_capacity(nodes, edges),
            index,
        }
    }

    fn node(&mut self, node: GraphNode) -> NodeIndex {
        match self.index.entry(node) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let i = self.graph.add_node(e.key().clone());
                e.insert(i);
                i
            }
        }
    }

    fn edge(&mut self, from: GraphNode, to: GraphNode, kind: EdgeKind, span: Option<Span>) {
        let a = self.node(from);
        let b = self.node(to);
        self.graph.add_edge(a, b, GraphEdge { kind, span });
    }
}

/// Every cycle of the model's dependency graph, each reported once. Most models have none:
/// [`has_cycle`] answers that on a graph of borrowed names first, and only a model with a
/// cycle builds the [`dependency_graph`] to report it.
pub fn check(model: &Model) -> Vec<Diagnostic> {
    if !has_cycle(model) {
        return Vec::new();
    }
    report_cycles(model)
}

/// [`check`] on the [`dependency_graph`] alone: every strongly connected component with a
/// cycle, reported (none when the graph has no cycle).
fn report_cycles(model: &Model) -> Vec<Diagnostic> {
    let graph = dependency_graph(model);
    let mut out = Vec::new();
    for component in petgraph::algo::tarjan_scc(&graph) {
        let cyclic = component.len() > 1
            || component
                .first()
                .is_some_and(|&n| graph.find_edge(n, n).is_some());
        if !cyclic {
            continue;
        }
        if let Some(d) = report(&graph, &component) {
            out.push(d);
        }
    }
    out
}

/// One cycle through the component, from its smallest node, as a diagnostic.
fn report(graph: &DiGraph<GraphNode, GraphEdge>, component: &[NodeIndex]) -> Option<Diagnostic> {
    let members: HashSet<NodeIndex> = component.iter().copied().collect();
    let start = *component.iter().min_by_key(|&&n| &graph[n])?;
    // Shortest way round: breadth-first from `start` back to `start`, inside the component.
    let mut previous: HashMap<NodeIndex, petgraph::graph::EdgeIndex> = HashMap::default();
    let mut queue = VecDeque::from([start]);
    let mut closing = None;
    'search: while let Some(n) = queue.pop_front() {
        let mut edges: Vec<_> = graph.edges(n).collect();
        edges.sort_by(|a, b| {
            graph[petgraph::visit::EdgeRef::target(a)]
                .cmp(&graph[petgraph::visit::EdgeRef::target(b)])
        });
        for e in edges {
            use petgraph::visit::EdgeRef;
            let t = e.target();
            if t == start {
                closing = Some(e.id());
                break 'search;
            }
            if members.contains(&t) && !previous.contains_key(&t) {
                previous.insert(t, e.id());
                queue.push_back(t);
            }
        }
    }
    let mut path = vec![closing?];
    let mut at = graph.edge_endpoints(closing?)?.0;
    while at != start {
        let e = *previous.get(&at)?;
        path.push(e);
        at = graph.edge_endpoints(e)?.0;
    }
    path.reverse();
    let mut chain = vec![format!("`{}`", graph[start])];
    for &e in &path {
        chain.push(format!("`{}`", graph[graph.edge_endpoints(e)?.1]));
    }
    let spanned: Vec<_> = path
        .iter()
        .filter_map(|&e| graph[e].span.map(|s| (e, s)))
        .collect();
    let (_, primary) = *spanned.first()?;
    let first_edge = path.first()?;
    let mut d = Diagnostic::error(
        Code::Cycle,
        format!("sync cycle: {}", chain.join(" -> ")),
        primary,
    )
    .with_label(describe_edge(graph, *first_edge)?);
    for &(e, span) in spanned.iter().skip(1) {
        d = d.with_secondary(span, describe_edge(graph, e)?);
    }
    let steps: Vec<String> = path
        .iter()
        .filter_map(|&e| describe_edge(graph, e))
        .collect();
    Some(d.with_help(format!(
        "each write triggers the next until it comes back: an echo loop waiting to happen ({}); remove one of these writes or give the field a single owner",
        steps.join("; ")
    )))
}

fn describe_edge(
    graph: &DiGraph<GraphNode, GraphEdge>,
    e: petgraph::graph::EdgeIndex,
) -> Option<String> {
    let (a, b) = graph.edge_endpoints(e)?;
    Some(format!(
        "`{}` -> `{}`: {}",
        short(&graph[a]),
        short(&graph[b]),
        graph[e].describe()
    ))
}

fn short(node: &GraphNode) -> String {
    match node {
        GraphNode::Field(f) => format!("{}.{}", f.object, f.field),
        GraphNode::Object(o) => format!("{} created", o.object),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every spec of the repository (and the plan tests' generated one), and generated ones
    /// with cycles (a mapping reversed, a field mapped onto itself).
    fn specs() -> Vec<(String, String)> {
        let synthetic = crate::synthetic::spec(2_500);
        let mut texts = crate::plan::tests::every_spec();
        for (name, extra) in [
            (
                "synthetic, a mapping both ways",
                "  snow.u_obj0.u_f0 -> sf.Obj0__c.F0__c\n",
            ),
            (
                "synthetic, a self-loop",
                "  sf.Obj0__c.F1__c -> sf.Obj0__c.F1__c\n",
            ),
        ] {
            let first = "  sf.Obj0__c.F0__c -> snow.u_obj0.u_f0\n";
            texts.push((
                name.to_string(),
                synthetic.replacen(first, &format!("{first}{extra}"), 1),
            ));
        }
        texts
    }

    #[test]
    fn the_borrowed_graph_has_a_cycle_exactly_when_the_dependency_graph_does() {
        let (mut cyclic, mut acyclic) = (0, 0);
        for (name, text) in specs() {
            let Ok(file) = crate::syntax::parse(&text) else {
                continue;
            };
            let (model, _) = crate::resolve::resolve(&file);
            let full = petgraph::algo::is_cyclic_directed(&dependency_graph(&model));
            assert_eq!(has_cycle(&model), full, "{name}");
            assert_eq!(check(&model), report_cycles(&model), "{name}");
            if full {
                cyclic += 1;
            } else {
                acyclic += 1;
            }
        }
        assert!(
            cyclic >= 4 && acyclic > 10,
            "{cyclic} cyclic, {acyclic} not"
        );
    }
}
