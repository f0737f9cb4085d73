//! `link` blocks: the two objects, the key, the `open` rules and the mappings.

use super::workflows::Scope;
use super::{Lookup, Resolver};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{FieldRef, Link, LinkKey, Mapping, ObjRef, Open, Spanned};
use crate::suggest::did_you_mean;
use crate::syntax::ast::{Ident, LinkDecl, LinkItem};

impl Resolver {
    /// Every `link` block, in order. Each link is resolved independently of the others (it
    /// reads the systems, objects and identities, all known by now), so on a large spec they
    /// are resolved on two threads ([`Resolver::each`]), then recorded here in file order: the
    /// model, the link indices and the order of the diagnostics are those of a serial run.
    pub(crate) fn links(&mut self, decls: &[&LinkDecl]) {
        // A duplicate is reported, not resolved: which ones are, is known from the names.
        let mut seen = crate::fx::HashSet::default();
        let decls: Vec<(&LinkDecl, bool)> = decls
            .iter()
            .map(|&d| (d, seen.insert(d.name.name.as_str())))
            .collect();
        let resolved = self.each(
            &decls,
            |(d, _)| d.items.len() + 1,
            // A mapping mentions a field on each side.
            2,
            |lookup, &(decl, first)| first.then(|| lookup.link(decl)).flatten(),
        );
        for ((decl, first), (link, diagnostics)) in decls.into_iter().zip(resolved) {
            if !first {
                self.duplicate_link(decl);
                continue;
            }
            self.diagnostics.extend(diagnostics);
            self.add_link(decl, link);
        }
    }

    /// Reports a link whose name an earlier link has; true if `decl` is one.
    pub(crate) fn duplicate_link(&mut self, decl: &LinkDecl) -> bool {
        let Some(entry) = self.link_index.get(decl.name.name.as_str()) else {
            return false;
        };
        let first = entry
            .and_then(|i| self.model.links.get(i))
            .map(|l| l.name_span)
            .unwrap_or(decl.name.span);
        self.error(
            Diagnostic::error(
                Code::NameDuplicate,
                format!("link `{}` is declared twice", decl.name.name),
                decl.name.span,
            )
            .with_label("declared again here")
            .with_secondary(first, "first declared here")
            .with_help("rename one of them: link names are unique in a file"),
        );
        true
    }

    /// Records a link that is not a duplicate, resolved by [`Lookup::link`] (`None`: its
    /// sides did not resolve; the name is remembered so later references to it do not
    /// cascade).
    pub(crate) fn add_link(&mut self, decl: &LinkDecl, link: Option<Link>) {
        match link {
            Some(link) => {
                self.link_index.insert(
                    String::from(decl.name.name.as_str()),
                    Some(self.model.links.len()),
                );
                self.model.links.push(link);
            }
            None => {
                self.link_index
                    .insert(String::from(decl.name.name.as_str()), None);
            }
        }
    }
}

impl Lookup<'_> {
    /// A link that is not a duplicate: `None` if its sides did not resolve. Then what the link
    /// names is still resolved: real typos inside it are reported, and what it uses is not
    /// then reported as unused.
    pub(crate) fn link(&mut self, decl: &LinkDecl) -> Option<Link> {
        let left = self.object_path(&decl.left);
        let right = self.object_path(&decl.right);
        let (Some(left), Some(right)) = (left, right) else {
            self.link_items_unchecked(decl);
            return None;
        };
        let mut link = Link {
            name: String::from(decl.name.name.as_str()),
            name_span: decl.name.span,
            left,
            right,
            key: None,
            opens: Vec::new(),
            mappings: Vec::new(),
            span: decl.span,
        };
        for item in &decl.items {
            match item {
                LinkItem::Key(key) => self.link_key(&mut link, key),
                LinkItem::Open(open) => self.link_open(&mut link, open),
                LinkItem::Mapping(m) => self.link_mapping(&mut link, m),
            }
        }
        Some(link)
    }

    /// The items of a link whose sides did not resolve: names only, no side checks.
    fn link_items_unchecked(&mut self, decl: &LinkDecl) {
        for item in &decl.items {
            match item {
                LinkItem::Key(key) => {
                    self.field_path(&key.left, "link keys");
                    self.field_path(&key.right, "link keys");
                }
                LinkItem::Open(open) => {
                    self.object_path(&open.target);
                    self.condition(&mut Scope::default(), &open.condition);
                }
                LinkItem::Mapping(m) => {
                    self.field_path(&m.source, "mappings");
                    self.field_path(&m.target, "mappings");
                    if let Some(via) = &m.via {
                        self.identity_by_name(via);
                    }
                }
            }
        }
    }

    fn link_key(&mut self, link: &mut Link, key: &crate::syntax::ast::LinkKey) {
        if let Some(first) = &link.key {
            self.error(
                Diagnostic::error(
                    Code::NameDuplicate,
                    format!("link `{}` has two keys", link.name),
                    key.span,
                )
                .with_label("second key")
                .with_secondary(first.span, "first key")
                .with_help("a link is remembered by exactly one `key A.Obj.f <-> B.Obj.g`"),
            );
            return;
        }
        let a = self.field_path(&key.left, "link keys");
        let b = self.field_path(&key.right, "link keys");
        let (Some(a), Some(b)) = (a, b) else { return };
        // Accept either order; store left side first.
        let (left, right) =
            if a.node.object_ref() == link.right.node && b.node.object_ref() == link.left.node {
                (b, a)
            } else {
                (a, b)
            };
        let ok_left = self.on_side(link, &left, &link.left.node.clone());
        let ok_right = self.on_side(link, &right, &link.right.node.clone());
        if ok_left && ok_right {
            link.key = Some(LinkKey {
                left,
                right,
                span: key.span,
            });
        }
    }

    /// Reports a field that is not on the expected side of the link.
    fn on_side(&mut self, link: &Link, field: &Spanned<FieldRef>, side: &ObjRef) -> bool {
        if &field.node.object_ref() == side {
            return true;
        }
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("`{}` is not a field of `{side}`", field.node),
                field.span,
            )
            .with_label(format!(
                "link `{}` joins `{}` and `{}`",
                link.name, link.left.node, link.right.node
            ))
            .with_help(format!("name a field of `{side}` here")),
        );
        false
    }

    fn link_open(&mut self, link: &mut Link, open: &crate::syntax::ast::OpenRule) {
        let Some(target) = self.object_path(&open.target) else {
            return;
        };
        if target.node != link.left.node && target.node != link.right.node {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!("`{}` is not a side of link `{}`", target.node, link.name),
                    target.span,
                )
                .with_label(format!(
                    "link `{}` joins `{}` and `{}`",
                    link.name, link.left.node, link.right.node
                ))
                .with_help("`open` names the side on which the twin is created"),
            );
            return;
        }
        if let Some(first) = link.opens.iter().find(|o| o.target.node == target.node) {
            let first = first.span;
            self.error(
                Diagnostic::error(
                    Code::NameDuplicate,
                    format!("link `{}` opens `{}` twice", link.name, target.node),
                    open.span,
                )
                .with_label("second `open` in this direction")
                .with_secondary(first, "first `open` rule")
                .with_help("combine the conditions with `or` in one `open ... when` rule"),
            );
            return;
        }
        let mut scope = Scope::default();
        let Some(condition) = self.condition(&mut scope, &open.condition) else {
            return;
        };
        link.opens.push(Open {
            target,
            condition,
            span: open.span,
        });
    }

    fn link_mapping(&mut self, link: &mut Link, m: &crate::syntax::ast::Mapping) {
        let source = self.field_path(&m.source, "mappings");
        let target = self.field_path(&m.target, "mappings");
        let via = match &m.via {
            Some(name) => match self.identity_by_name(name) {
                Some(i) => Some(Spanned {
                    node: i,
                    span: name.span,
                }),
                None => return,
            },
            None => None,
        };
        let (Some(source), Some(target)) = (source, target) else {
            return;
        };
        let source_obj = source.node.object_ref();
        let (from, to) = if source_obj == link.left.node {
            (link.left.node.clone(), link.right.node.clone())
        } else if source_obj == link.right.node {
            (link.right.node.clone(), link.left.node.clone())
        } else {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!(
                        "`{}` is not on either side of link `{}`",
                        source.node, link.name
                    ),
                    source.span,
                )
                .with_label(format!(
                    "link `{}` joins `{}` and `{}`",
                    link.name, link.left.node, link.right.node
                ))
                .with_help("a mapping copies a field of one side of the link into the other side"),
            );
            return;
        };
        let _ = from;
        if !self.on_side(link, &target, &to) {
            return;
        }
        link.mappings.push(Mapping {
            link: link.name.clone(),
            source,
            target,
            map: m.map.clone(),
            via,
            span: m.span,
        });
    }

    pub(crate) fn link_by_name(&mut self, name: &Ident) -> Option<usize> {
        match self.link_index.get(name.name.as_str()) {
            Some(entry) => *entry,
            None => {
                let names: Vec<String> = self.link_index.keys().cloned().collect();
                let help = did_you_mean(&name.name, names.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        "declare it with `link NAME: A.Obj <-> B.Obj { ... }`".into()
                    });
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("unknown link `{}`", name.name),
                        name.span,
                    )
                    .with_label("no `link` has this name")
                    .with_help(help),
                );
                None
            }
        }
    }
}
