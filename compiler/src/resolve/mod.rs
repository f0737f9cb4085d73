//! Names to meanings: the AST plus the built-in catalogue become a [`Model`].
//!
//! Reports `seam::name::unknown` (with the nearest name) and `seam::name::duplicate`, and the
//! `seam NAME` rules. Whatever does not resolve is left out of the model, so the checks that run
//! afterwards never see it and one typo gives one diagnostic.

mod decls;
mod links;
mod paths;
mod workflows;

use crate::catalog::Catalog;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fx::HashMap;
use crate::model::{Model, Names};
use crate::span::Span;
use crate::syntax::ast::{Item, SeamFile};

/// Resolves a parsed file against the built-in catalogue.
pub fn resolve(file: &SeamFile) -> (Model, Vec<Diagnostic>) {
    let mut r = Resolver {
        model: Model::with_catalog(Catalog::builtin()),
        diagnostics: Vec::new(),
        identity_index: HashMap::default(),
        link_index: HashMap::default(),
        names: Names::default(),
    };
    r.seam_name(file);
    // Declarations first (any order in the file), then what refers to them.
    for item in &file.items {
        if let Item::System(s) = item {
            r.system(s);
        }
    }
    let mut seen_objects = HashMap::default();
    for item in &file.items {
        if let Item::Object(o) = item {
            r.object(o, &mut seen_objects);
        }
    }
    for item in &file.items {
        if let Item::Object(o) = item {
            r.object_derivations(o);
        }
    }
    for item in &file.items {
        match item {
            Item::Identity(i) => r.identity(i),
            Item::Own(o) => r.own(o),
            _ => {}
        }
    }
    for item in &file.items {
        if let Item::Link(l) = item {
            r.link(l);
        }
    }
    let mut workflow_names = HashMap::default();
    let mut policy_span = None;
    for item in &file.items {
        match item {
            Item::Workflow(w) if r.unique_name("workflow", &w.name, &mut workflow_names) => {
                r.workflow(w);
            }
            Item::Policy(p) => {
                if let Some(first) = policy_span {
                    r.diagnostics.push(
                        Diagnostic::error(
                            Code::NameDuplicate,
                            "`policy` is declared twice",
                            p.span,
                        )
                        .with_label("second `policy` block")
                        .with_secondary(first, "first declared here")
                        .with_help("merge the settings into one `policy` block"),
                    );
                } else {
                    policy_span = Some(p.span);
                    r.policy(p);
                }
            }
            _ => {}
        }
    }
    (r.model, r.diagnostics)
}

pub(crate) struct Resolver {
    pub(crate) model: Model,
    pub(crate) diagnostics: Vec<Diagnostic>,
    identity_index: HashMap<String, usize>,
    link_index: HashMap<String, Option<usize>>,
    /// Every name a reference holds, interned.
    pub(crate) names: Names,
}

impl Resolver {
    fn seam_name(&mut self, file: &SeamFile) {
        let mut first_seen: Option<Span> = None;
        for (i, item) in file.items.iter().enumerate() {
            let Item::Seam(decl) = item else { continue };
            if let Some(first) = first_seen {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::NameDuplicate,
                        format!("`seam {}` names the seam a second time", decl.name.name),
                        decl.span,
                    )
                    .with_label("second `seam` line")
                    .with_secondary(first, "the seam is named here")
                    .with_help("a file describes one seam: keep one `seam NAME` line"),
                );
                continue;
            }
            first_seen = Some(decl.span);
            self.model.name = Some(decl.name.name.clone());
            if i != 0 {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::Syntax,
                        "`seam NAME` must be the first declaration",
                        decl.span,
                    )
                    .with_label("not first")
                    .with_help("move this line to the top of the file (comments may precede it)"),
                );
            }
        }
        if first_seen.is_none() {
            let span = file.items.first().map_or(Span::default(), Item::span);
            self.diagnostics.push(
                Diagnostic::error(
                    Code::Syntax,
                    "expected `seam NAME` as the first declaration",
                    span,
                )
                .with_label("the file should start here")
                .with_help("add a first line naming the seam, e.g. `seam case_incident`"),
            );
        }
    }

    /// Records `name` in `seen`; reports a duplicate and returns false if it was there.
    pub(crate) fn unique_name(
        &mut self,
        kind: &str,
        name: &crate::syntax::ast::Ident,
        seen: &mut HashMap<String, Span>,
    ) -> bool {
        if let Some(&first) = seen.get(&name.name) {
            self.diagnostics.push(
                Diagnostic::error(
                    Code::NameDuplicate,
                    format!("{kind} `{}` is declared twice", name.name),
                    name.span,
                )
                .with_label("declared again here")
                .with_secondary(first, "first declared here")
                .with_help(format!(
                    "rename one of them: {kind} names are unique in a file"
                )),
            );
            return false;
        }
        seen.insert(name.name.clone(), name.span);
        true
    }

    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}
