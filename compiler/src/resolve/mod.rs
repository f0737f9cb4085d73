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
use crate::model::{Mentions, Model, Names, ObjRef};
use crate::span::Span;
use crate::syntax::ast::{Item, LinkDecl, ObjectDecl, OwnDecl, SeamFile};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Resolves a parsed file against the built-in catalogue.
pub fn resolve(file: &SeamFile) -> (Model, Vec<Diagnostic>) {
    resolve_on(file, None)
}

/// [`resolve`] with a second thread where it pays (`None`), never, or whenever there are two
/// runs of items to share (`Some(true)`, for tests).
fn resolve_on(file: &SeamFile, threads: Option<bool>) -> (Model, Vec<Diagnostic>) {
    let mut r = Resolver {
        threads,
        model: Model::with_catalog(Catalog::builtin()),
        diagnostics: Vec::new(),
        identity_index: HashMap::default(),
        link_index: HashMap::default(),
        names: Names::default(),
        mentions: Mentions::default(),
    };
    r.seam_name(file);
    // Declarations first (any order in the file), then what refers to them.
    for item in &file.items {
        if let Item::System(s) = item {
            r.system(s);
        }
    }
    let objects: Vec<&ObjectDecl> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Object(o) => Some(o),
            _ => None,
        })
        .collect();
    r.objects(&objects);
    for item in &file.items {
        if let Item::Object(o) = item {
            r.object_derivations(o);
        }
    }
    // `own` blocks only look names up: resolved first (in parallel on a large spec), then
    // recorded in file order between the identities.
    let owns: Vec<&OwnDecl> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Own(o) => Some(o),
            _ => None,
        })
        .collect();
    // One claim per entry but for `Object.*` ones: the claims' list sized once, not doubled.
    r.model
        .owns
        .reserve(owns.iter().map(|o| o.entries.len()).sum());
    let mut owns = r
        .each(&owns, |o| o.entries.len() + 1, 1, |lookup, o| lookup.own(o))
        .into_iter();
    for item in &file.items {
        match item {
            Item::Identity(i) => r.identity(i),
            Item::Own(_) => {
                if let Some((claims, diagnostics)) = owns.next() {
                    r.diagnostics.extend(diagnostics);
                    r.model.owns.extend(claims);
                }
            }
            _ => {}
        }
    }
    let links: Vec<&LinkDecl> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Link(l) => Some(l),
            _ => None,
        })
        .collect();
    r.links(&links);
    let mut workflow_names = HashMap::default();
    let mut policy_span = None;
    for item in &file.items {
        match item {
            Item::Workflow(w) if r.unique_name("workflow", &w.name, &mut workflow_names) => {
                if let Some(w) = r.lookup().workflow(w) {
                    r.model.workflows.push(w);
                }
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
    r.model.mentions = r.mentions;
    (r.model, r.diagnostics)
}

pub(crate) struct Resolver {
    threads: Option<bool>,
    pub(crate) model: Model,
    pub(crate) diagnostics: Vec<Diagnostic>,
    identity_index: HashMap<String, usize>,
    link_index: HashMap<String, Option<usize>>,
    /// Every name a reference holds, interned.
    pub(crate) names: Names,
    /// What the spec mentions, moved into the model at the end (kept apart so that lookups
    /// read the model while they record mentions).
    mentions: Mentions,
}

/// Looking names up: reads the model as built so far, records mentions, interns names and
/// reports. The resolver lends one out for each lookup ([`Resolver::lookup`]); the workers that
/// resolve links in parallel each own their names, mentions and diagnostics.
pub(crate) struct Lookup<'a> {
    pub(crate) model: &'a Model,
    identity_index: &'a HashMap<String, usize>,
    link_index: &'a HashMap<String, Option<usize>>,
    names: &'a mut Names,
    mentions: &'a mut Mentions,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// The objects this lookup found last (a link's two sides, an `own` block's object). The
    /// model cannot change while a lookup borrows it, so they are found again by comparing
    /// names, without hashing.
    recent: [Option<ObjRef>; 2],
}

impl Lookup<'_> {
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

/// Items whose weights (a link's mappings, an `own` block's entries) add up to less than this
/// are resolved on this thread alone: a second thread costs more than it saves.
const PARALLEL_MIN_WEIGHT: usize = 2_000;

/// Items are handed out to the threads in runs of about this weight, so that both finish
/// together even when one core is busy with something else.
const RUN_WEIGHT: usize = 2_000;

/// A worker gets the stack of a main thread, so a condition nested as deep as the parser
/// accepts resolves there too.
const WORKER_STACK_BYTES: usize = 8 << 20;

impl Resolver {
    /// Resolves each item with `resolve`, which only looks names up: the result and the
    /// diagnostics it reported, per item, in order. When the items weigh enough, runs of them
    /// are resolved on a second thread too, with its own names and mentions (merged here);
    /// what each item resolves to does not depend on the thread. `mentions_per_weight` is about
    /// how many fields a unit of weight mentions: the mentions sets are sized for them up
    /// front, so that they are not rehashed (every `FieldRef` hashed again) as they grow.
    pub(crate) fn each<T: Sync, R: Send>(
        &mut self,
        items: &[T],
        weight: impl Fn(&T) -> usize,
        mentions_per_weight: usize,
        resolve: impl Fn(&mut Lookup<'_>, &T) -> R + Sync,
    ) -> Vec<(R, Vec<Diagnostic>)> {
        let total: usize = items.iter().map(&weight).sum();
        let expected_mentions = total.saturating_mul(mentions_per_weight);
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let runs = runs(items, weight);
        let threads = self
            .threads
            .unwrap_or(total >= PARALLEL_MIN_WEIGHT && workers >= 2);
        let Resolver {
            model,
            identity_index,
            link_index,
            names,
            mentions,
            ..
        } = self;
        let (model, identity_index, link_index) = (&*model, &*identity_index, &*link_index);
        // This thread's set ends up with the helper's too; what earlier calls mentioned is
        // mostly mentioned again (an `own` entry's field is mapped), so room for `expected`
        // in all, not on top.
        mentions
            .fields
            .reserve(expected_mentions.saturating_sub(mentions.fields.len()));
        // Resolves one run with the given names and mentions.
        let run = |(start, end): (usize, usize), names: &mut Names, mentions: &mut Mentions| {
            let items = items.get(start..end).unwrap_or_default();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let mut diagnostics = Vec::new();
                let mut lookup = Lookup {
                    model,
                    identity_index,
                    link_index,
                    names: &mut *names,
                    mentions: &mut *mentions,
                    diagnostics: &mut diagnostics,
                    recent: [None, None],
                };
                let resolved = resolve(&mut lookup, item);
                out.push((resolved, diagnostics));
            }
            out
        };
        if !threads || runs.len() < 2 {
            return run((0, items.len()), names, mentions);
        }
        let next = AtomicUsize::new(0);
        // Takes runs until none is left: (run index, its results) for each.
        let work = |names: &mut Names, mentions: &mut Mentions| {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&range) = runs.get(i) else {
                    return done;
                };
                done.push((i, run(range, names, mentions)));
            }
        };
        let mut done = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, || {
                    let mut names = Names::default();
                    let mut mentions = Mentions::default();
                    // About half the runs.
                    mentions.fields.reserve(expected_mentions / 2);
                    (work(&mut names, &mut mentions), mentions)
                });
            let mut done = work(names, mentions);
            // A helper that could not start leaves its share to this thread; one that
            // panicked loses its runs, which are resolved again below.
            if let Ok(Ok((part, theirs))) = helper.map(|h| h.join()) {
                done.extend(part);
                mentions.fields.extend(theirs.fields);
                mentions.identities.extend(theirs.identities);
            }
            done
        });
        done.sort_unstable_by_key(|(i, _)| *i);
        let mut all = Vec::with_capacity(items.len());
        let mut done = done.into_iter().peekable();
        for (i, &range) in runs.iter().enumerate() {
            match done.next_if(|(j, _)| *j == i) {
                Some((_, part)) => all.extend(part),
                None => all.extend(run(range, names, mentions)),
            }
        }
        all
    }

    pub(crate) fn lookup(&mut self) -> Lookup<'_> {
        Lookup {
            model: &self.model,
            identity_index: &self.identity_index,
            link_index: &self.link_index,
            names: &mut self.names,
            mentions: &mut self.mentions,
            diagnostics: &mut self.diagnostics,
            recent: [None, None],
        }
    }

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
            self.model.name = Some(String::from(decl.name.name.as_str()));
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
        if let Some(&first) = seen.get(name.name.as_str()) {
            self.diagnostics.push(duplicate_name(kind, name, first));
            return false;
        }
        seen.insert(String::from(name.name.as_str()), name.span);
        true
    }

    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

/// `seam::name::duplicate` for a second `name` of this kind.
pub(crate) fn duplicate_name(
    kind: &str,
    name: &crate::syntax::ast::Ident,
    first: Span,
) -> Diagnostic {
    Diagnostic::error(
        Code::NameDuplicate,
        format!("{kind} `{}` is declared twice", name.name),
        name.span,
    )
    .with_label("declared again here")
    .with_secondary(first, "first declared here")
    .with_help(format!(
        "rename one of them: {kind} names are unique in a file"
    ))
}

/// Cuts `items` into consecutive runs of about [`RUN_WEIGHT`] (a run holds at least one item).
fn runs<T>(items: &[T], weight: impl Fn(&T) -> usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let (mut start, mut sum) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        sum += weight(item);
        if sum >= RUN_WEIGHT {
            runs.push((start, i + 1));
            (start, sum) = (i + 1, 0);
        }
    }
    if start < items.len() {
        runs.push((start, items.len()));
    }
    runs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::resolve_on;
    use crate::catalog::SystemKind;
    use crate::model::Model;

    /// Everything a model holds that the checks and the Plan read, for comparing two.
    fn parts(m: &Model) -> String {
        let catalog: Vec<_> = SystemKind::ALL
            .iter()
            .map(|&k| m.catalog.objects(k))
            .collect();
        let mut fields: Vec<String> = m.mentions.fields.iter().map(|f| f.to_string()).collect();
        fields.sort();
        let mut identities: Vec<&String> = m.mentions.identities.iter().collect();
        identities.sort();
        format!(
            "{:?}\n{:?}\n{catalog:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{fields:?}\n{identities:?}",
            m.name,
            m.systems,
            m.custom_fields,
            m.identities,
            m.owns,
            m.links,
            m.workflows,
            m.policy
        )
    }

    /// A spec large enough to be resolved on two threads, with errors of every kind the
    /// link and `own` resolution reports, on both threads' runs.
    fn large_spec_with_errors() -> String {
        let mut src = crate::synthetic::spec(3_000);
        for (from, to) in [
            ("link l1:", "link l0:"),
            ("link l7: sf.Obj7__c", "link l7: sf.Nope__c"),
            ("link l20: sf.Obj20__c", "link l20: sf.Obj20__c.F1__c"),
            ("  sf.Obj9__c.F1__c ->", "  sf.Obj9__c.F1x__c ->"),
            ("  snow.u_obj25.u_f4 -> sf", "  snow.u_obj25.u_f4 -> snow"),
            ("  Obj3__c.F0__c\n", "  Obj3__c.F0x__c\n  Nope__c.F1__c\n"),
            ("  u_obj28.u_f4\n", "  u_obj28.u_f4\n  u_obj28.*\n"),
        ] {
            assert!(src.contains(from), "{from}");
            src = src.replacen(from, to, 1);
        }
        src = src.replacen(
            "object sf.Obj2__c {\n",
            "object sf.Obj2__c {\n  Id: text\n  Bad: text\n  F0__c: text\n",
            1,
        );
        src.push_str(concat!(
            "object sf.Obj5__c { X__c: text }\n",
            "object sf.Case { Priority: picklist(\"P1\", \"P2\") New__c: text Status: text }\n",
            "object zz.Obj1__c { A__c: text }\n",
            "object sf.Plain { A__c: text }\n",
            "object snow.incident { u_extra: ref(u_obj3) }\n",
        ));
        let key = "  key sf.Obj29__c.Id <-> snow.u_obj29.u_key\n";
        src.replacen(key, &format!("{key}{key}  open snow.u_obj29 when sf.Obj29__c.F1__c == \"x\" and sf.Obj29__c.Nope__c == 1\n"), 1)
    }

    #[test]
    fn two_threads_resolve_what_one_resolves_in_the_same_order() {
        let clean = crate::synthetic::spec(3_000);
        // Two aliases of one platform extend the same objects: resolved block by block.
        let shared = large_spec_with_errors().replacen(
            "system snow:",
            "system sf2: salesforce { url = env(\"U\") }\nobject sf2.Obj3__c { Y__c: text }\nsystem snow:",
            1,
        );
        for src in [large_spec_with_errors(), clean, shared] {
            let file = crate::syntax::parse(&src).unwrap();
            let (serial, serial_diagnostics) = resolve_on(&file, Some(false));
            let (threaded, threaded_diagnostics) = resolve_on(&file, Some(true));
            assert_eq!(threaded_diagnostics, serial_diagnostics);
            assert_eq!(parts(&threaded), parts(&serial));
            let (auto, auto_diagnostics) = resolve_on(&file, None);
            assert_eq!(auto_diagnostics, serial_diagnostics);
            assert_eq!(parts(&auto), parts(&serial));
        }
        let (_, diagnostics) = resolve_on(
            &crate::syntax::parse(&large_spec_with_errors()).unwrap(),
            None,
        );
        for expected in [
            "link `l0` is declared twice",
            "unknown object `sf.Nope__c`",
            "unknown field `sf.Obj9__c.F1x__c`",
            "`sf.Obj2__c.Id` is a standard field and cannot be redeclared",
            "unknown field `sf.Obj2__c.Bad`",
            "field `F0__c` is declared twice",
            "object `sf.Obj5__c` is declared twice",
            "unknown system `zz`",
            "unknown object `sf.Plain`",
            "link `l29` has two keys",
        ] {
            assert!(
                diagnostics.iter().any(|d| d.message == expected),
                "no {expected:?} in {diagnostics:#?}"
            );
        }
    }
}
