//! `seam fmt`: one canonical layout for a parsed file.
//!
//! Rules: 2-space indentation; a blank line between declarations; inside a block, an author's
//! blank line between items is kept (at most one); `->` aligned in each run of link mappings and
//! `=>` in each map; `=` aligned in system settings, record assignments and policy settings;
//! the clause words `key`/`open` and `on`/`when` padded so their operands line up; consecutive
//! `own` entries of one object share a line. Nothing the author ordered is sorted. Literals are
//! printed exactly as written. Comments stay where they were: a comment on a line of its own
//! goes before the next item, one at the end of a line stays at the end of that item's line.
//!
//! INVARIANT: the output parses to the same AST up to spans (tested: same plan hash, and
//! formatting the output again changes nothing).

use crate::span::Span;
use crate::syntax::ast::*;

/// Formats a parsed file. `src` is the text it was parsed from (for comments and durations).
pub fn format(file: &SeamFile, src: &str) -> String {
    let mut p = Printer {
        src,
        out: String::new(),
        comments: &file.comments,
        next_comment: 0,
        indent: 0,
    };
    for (i, item) in file.items.iter().enumerate() {
        let span = item_span(item);
        if i > 0 {
            p.out.push('\n');
        }
        p.leading(span.start);
        p.item(item);
    }
    p.leading(usize::MAX);
    let mut out = p.out.trim_end().to_string();
    out.push('\n');
    if file.items.is_empty() && file.comments.is_empty() {
        return String::new();
    }
    out
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Seam(d) => d.span,
        Item::System(d) => d.span,
        Item::Object(d) => d.span,
        Item::Identity(d) => d.span,
        Item::Own(d) => d.span,
        Item::Link(d) => d.span,
        Item::Workflow(d) => d.span,
        Item::Policy(d) => d.span,
    }
}

struct Printer<'a> {
    src: &'a str,
    out: String,
    comments: &'a [Comment],
    next_comment: usize,
    indent: usize,
}

impl Printer<'_> {
    fn pad(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    /// Starts a new line at the current indentation.
    fn line(&mut self, text: &str) {
        self.pad();
        self.out.push_str(text);
    }

    /// Ends a line: a comment that followed `end` on the same source line goes here.
    fn end_line(&mut self, end: usize) {
        if let Some(c) = self.comments.get(self.next_comment) {
            let between = self.src.get(end..c.span.start).unwrap_or("\n");
            if c.span.start >= end && !between.contains('\n') {
                self.out.push_str("  //");
                self.out.push_str(c.text.trim_end());
                self.next_comment += 1;
            }
        }
        self.out.push('\n');
    }

    /// Every comment before `pos`, each on its own line.
    fn leading(&mut self, pos: usize) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.span.start >= pos {
                break;
            }
            self.line("//");
            self.out.push_str(c.text.trim_end());
            self.out.push('\n');
            self.next_comment += 1;
        }
    }

    /// Whether the author left a blank line between two items of a block.
    fn blank_between(&self, prev_end: usize, next_start: usize) -> bool {
        let gap = self.src.get(prev_end..next_start).unwrap_or("");
        // A blank line is an interior line of the gap with nothing on it (the gap's first line
        // ends the previous item, its last one is the next item's indentation).
        let lines: Vec<&str> = gap.split('\n').collect();
        lines
            .iter()
            .skip(1)
            .take(lines.len().saturating_sub(2))
            .any(|l| l.trim().is_empty())
    }

    /// Prints block items: `leading` comments, an optional kept blank line, then the item.
    fn block<T>(
        &mut self,
        items: &[T],
        span: impl Fn(&T) -> Span,
        mut print: impl FnMut(&mut Self, usize, &T),
    ) {
        let mut prev: Option<usize> = None;
        for (i, item) in items.iter().enumerate() {
            let s = span(item);
            if let Some(end) = prev {
                if self.blank_between(end, self.first_thing_after(end, s.start)) {
                    self.out.push('\n');
                }
            }
            self.leading(s.start);
            print(self, i, item);
            prev = Some(s.end);
        }
    }

    /// The start of the first comment after `end` and before `start`, else `start`.
    fn first_thing_after(&self, end: usize, start: usize) -> usize {
        self.comments
            .iter()
            .skip(self.next_comment)
            .map(|c| c.span.start)
            .find(|&s| s >= end && s < start)
            .unwrap_or(start)
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Seam(d) => {
                self.line(&format!("seam {}", d.name.name));
                self.end_line(d.span.end);
            }
            Item::System(d) => self.system(d),
            Item::Object(d) => self.object(d),
            Item::Identity(d) => {
                self.line(&format!(
                    "identity {} = {} <-> {}",
                    d.name.name,
                    path(&d.left),
                    path(&d.right)
                ));
                self.end_line(d.span.end);
            }
            Item::Own(d) => self.own(d),
            Item::Link(d) => self.link(d),
            Item::Workflow(d) => self.workflow(d),
            Item::Policy(d) => self.policy(d),
        }
    }

    fn open_block(&mut self, header: String, header_end: usize) {
        self.line(&header);
        self.end_line(header_end);
        self.indent += 1;
    }

    fn close_block(&mut self, block_end: usize) {
        self.leading(block_end);
        self.indent -= 1;
        self.line("}");
        self.end_line(block_end);
    }

    fn system(&mut self, d: &SystemDecl) {
        self.open_block(
            format!("system {}: {} {{", d.alias.name, d.kind.name),
            d.kind.span.end,
        );
        let width = d
            .settings
            .iter()
            .map(|s| s.name.name.len())
            .max()
            .unwrap_or(0);
        self.block(
            &d.settings,
            |s| s.span,
            |p, _, s| {
                let text = format!("{:width$} = {}", s.name.name, expr(p.src, &s.value));
                p.line(&text);
                p.end_line(s.span.end);
            },
        );
        self.close_block(d.span.end);
    }

    fn object(&mut self, d: &ObjectDecl) {
        self.open_block(
            format!("object {}.{} {{", d.system.name, d.object.name),
            d.object.span.end,
        );
        self.block(
            &d.fields,
            |f| f.span,
            |p, _, f| {
                let mut text = format!("{}: {}", f.name.name, type_text(&f.ty));
                if f.unique.is_some() {
                    text.push_str(" unique");
                }
                if let Some(from) = &f.derived_from {
                    let names: Vec<&str> = from.iter().map(|i| i.name.as_str()).collect();
                    text.push_str(&format!(" from({})", names.join(", ")));
                }
                p.line(&text);
                p.end_line(f.span.end);
            },
        );
        self.close_block(d.span.end);
    }

    fn own(&mut self, d: &OwnDecl) {
        self.open_block(format!("own {} {{", d.system.name), d.system.span.end);
        // Consecutive entries of one object share a line, unless a comment or a blank line
        // separates them.
        let mut lines: Vec<Vec<&OwnEntry>> = Vec::new();
        let mut prev_end: Option<usize> = None;
        for e in &d.entries {
            let same_object = lines
                .last()
                .and_then(|l| l.last())
                .is_some_and(|last| last.object.name == e.object.name);
            let separated = prev_end.is_some_and(|end| {
                let gap = self.src.get(end..e.span.start).unwrap_or("");
                gap.contains("//") || self.blank_between(end, e.span.start)
            });
            match lines.last_mut() {
                Some(line) if same_object && !separated => line.push(e),
                _ => lines.push(vec![e]),
            }
            prev_end = Some(e.span.end);
        }
        self.block(
            &lines,
            |l| line_span(l),
            |p, _, l| {
                let text: Vec<String> = l.iter().map(|e| own_entry(e)).collect();
                p.line(&text.join(", "));
                p.end_line(line_span(l).end);
            },
        );
        self.close_block(d.span.end);
    }

    fn link(&mut self, d: &LinkDecl) {
        self.open_block(
            format!(
                "link {}: {} <-> {} {{",
                d.name.name,
                path(&d.left),
                path(&d.right)
            ),
            d.right.span.end,
        );
        // `->` aligns within each run of mappings not broken by another item or a blank line.
        let mut widths = vec![0usize; d.items.len()];
        let mut run: Vec<usize> = Vec::new();
        let mut prev_end: Option<usize> = None;
        for (i, item) in d.items.iter().enumerate() {
            let LinkItem::Mapping(m) = item else {
                flush_run(&mut run, &mut widths, &d.items);
                prev_end = None;
                continue;
            };
            if prev_end.is_some_and(|end| self.blank_between(end, m.span.start)) {
                flush_run(&mut run, &mut widths, &d.items);
            }
            run.push(i);
            prev_end = Some(m.span.end);
        }
        flush_run(&mut run, &mut widths, &d.items);
        self.block(&d.items, link_item_span, |p, i, item| match item {
            LinkItem::Key(k) => {
                p.line(&format!("key  {} <-> {}", path(&k.left), path(&k.right)));
                p.end_line(k.span.end);
            }
            LinkItem::Open(o) => {
                p.line(&format!(
                    "open {} when {}",
                    path(&o.target),
                    cond(&o.condition)
                ));
                p.end_line(o.span.end);
            }
            LinkItem::Mapping(m) => {
                let width = widths.get(i).copied().unwrap_or(0);
                let mut text = format!("{:width$} -> {}", path(&m.source), path(&m.target));
                match &m.map {
                    Some(map) => {
                        text.push_str(" map {");
                        p.line(&text);
                        p.end_line(m.target.span.end);
                        p.indent += 1;
                        p.arms(map);
                        p.leading(map.span.end);
                        p.indent -= 1;
                        let mut close = "}".to_string();
                        if let Some(via) = &m.via {
                            close.push_str(&format!(" via {}", via.name));
                        }
                        p.line(&close);
                    }
                    None => {
                        if let Some(via) = &m.via {
                            text.push_str(&format!(" via {}", via.name));
                        }
                        p.line(&text);
                    }
                }
                p.end_line(m.span.end);
            }
        });
        self.close_block(d.span.end);
    }

    fn arms(&mut self, map: &ValueMap) {
        let pattern = |a: &MapArm| match &a.pattern {
            MapPattern::Value(l) => l.text.clone(),
            MapPattern::Default(_) => "_".to_string(),
        };
        let width = map
            .arms
            .iter()
            .map(|a| pattern(a).chars().count())
            .max()
            .unwrap_or(0);
        self.block(
            &map.arms,
            |a| a.span,
            |p, _, a| {
                let pat = pattern(a);
                let pad = " ".repeat(width - pat.chars().count());
                p.line(&format!("{pat}{pad} => {}", a.value.text));
                p.end_line(a.span.end);
            },
        );
    }

    fn workflow(&mut self, d: &WorkflowDecl) {
        self.open_block(format!("workflow {} {{", d.name.name), d.name.span.end);
        let (trigger, trigger_span) = match &d.trigger {
            Trigger::Becomes {
                path: p,
                value,
                span,
            } => (format!("{} becomes {}", path(p), value.text), *span),
            Trigger::Changes { path: p, span } => (format!("{} changes", path(p)), *span),
            Trigger::Created { object, span } => (format!("{} created", path(object)), *span),
        };
        self.leading(trigger_span.start);
        self.line(&format!("on   {trigger}"));
        self.end_line(trigger_span.end);
        if let Some(guard) = &d.guard {
            self.leading(guard.span().start);
            self.line(&format!("when {}", cond(guard)));
            self.end_line(guard.span().end);
        }
        let do_start = d.steps.first().map_or(d.span.end, |s| step_span(s).start);
        let guard_end = d.guard.as_ref().map_or(trigger_span.end, |g| g.span().end);
        let do_header = self
            .src
            .get(guard_end..do_start)
            .and_then(|t| t.find('{'))
            .map_or(guard_end, |i| guard_end + i + 1);
        self.leading(do_header);
        let do_end = self
            .src
            .get(..d.span.end)
            .and_then(|t| t.rfind('}'))
            .unwrap_or(d.span.end);
        self.open_block("do {".to_string(), do_header);
        self.block(&d.steps, step_span, |p, _, s| p.step(s));
        // The `}` of `do` is the last `}` before the workflow's own `}`.
        let inner_end = self
            .src
            .get(..do_end)
            .and_then(|t| t.rfind('}'))
            .unwrap_or(do_end);
        self.close_block(inner_end);
        self.close_block(d.span.end);
    }

    fn step(&mut self, s: &Step) {
        match s {
            Step::Open { target, link, span } => {
                self.line(&format!("open {} via {}", path(target), link.name));
                self.end_line(span.end);
            }
            Step::Create(w) => self.record("create", w),
            Step::Update(w) => self.record("update", w),
            Step::Let {
                name,
                call: c,
                span,
            } => {
                self.line(&format!("let {} = {}", name.name, call(self.src, c)));
                self.end_line(span.end);
            }
            Step::Call(c) => {
                self.line(&call(self.src, c));
                self.end_line(c.span.end);
            }
        }
    }

    fn record(&mut self, verb: &str, w: &RecordWrite) {
        let mut header = format!("{}.{verb} {}", w.system.name, w.object.name);
        if let Some(via) = &w.via {
            header.push_str(&format!(" via {}", via.name));
        }
        header.push_str(" {");
        let header_end = w.via.as_ref().map_or(w.object.span.end, |v| v.span.end);
        self.open_block(header, header_end);
        let width = w
            .assignments
            .iter()
            .map(|a| a.field.name.len())
            .max()
            .unwrap_or(0);
        self.block(
            &w.assignments,
            |a| a.span,
            |p, _, a| {
                let text = format!("{:width$} = {}", a.field.name, expr(p.src, &a.value));
                p.line(&text);
                p.end_line(a.span.end);
            },
        );
        self.close_block(w.span.end);
    }

    fn policy(&mut self, d: &PolicyDecl) {
        let header_end = self
            .src
            .get(d.span.start..d.span.end)
            .and_then(|t| t.find('{'))
            .map_or(d.span.start, |i| d.span.start + i + 1);
        self.open_block("policy {".to_string(), header_end);
        let name = |i: &PolicyItem| match i {
            PolicyItem::Retry { .. } => Some("retry".len()),
            PolicyItem::DeadLetter { .. } => Some("dead_letter".len()),
            PolicyItem::Reconcile { .. } => Some("reconcile".len()),
            PolicyItem::Unknown(s) => Some(s.name.name.len()),
            PolicyItem::Alert { .. } => None,
        };
        let width = d.items.iter().filter_map(name).max().unwrap_or(0);
        self.block(&d.items, policy_item_span, |p, _, item| {
            let text = match item {
                PolicyItem::Retry {
                    attempts, backoff, ..
                } => {
                    let mut t = format!("{:width$} = {attempts} attempts", "retry");
                    if let Some((a, b)) = backoff {
                        t.push_str(&format!(", backoff {} .. {}", dur(p.src, a), dur(p.src, b)));
                    }
                    t
                }
                PolicyItem::DeadLetter { .. } => format!("{:width$} = after retry", "dead_letter"),
                PolicyItem::Alert {
                    call: c, condition, ..
                } => {
                    format!("alert {} when {}", call(p.src, c), cond(condition))
                }
                PolicyItem::Reconcile { every, .. } => {
                    format!("{:width$} = every {}", "reconcile", dur(p.src, every))
                }
                PolicyItem::Unknown(s) => {
                    format!("{:width$} = {}", s.name.name, expr(p.src, &s.value))
                }
            };
            p.line(&text);
            p.end_line(policy_item_span(item).end);
        });
        self.close_block(d.span.end);
    }
}

fn flush_run(run: &mut Vec<usize>, widths: &mut [usize], items: &[LinkItem]) {
    let width = run
        .iter()
        .filter_map(|&i| match items.get(i) {
            Some(LinkItem::Mapping(m)) => Some(path(&m.source).chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    for &i in run.iter() {
        if let Some(w) = widths.get_mut(i) {
            *w = width;
        }
    }
    run.clear();
}

fn line_span(l: &[&OwnEntry]) -> Span {
    let start = l.first().map_or(0, |e| e.span.start);
    let end = l.last().map_or(start, |e| e.span.end);
    Span::new(start, end)
}

fn own_entry(e: &OwnEntry) -> String {
    match &e.field {
        OwnField::Named(f) => format!("{}.{}", e.object.name, f.name),
        OwnField::All(_) => format!("{}.*", e.object.name),
    }
}

fn link_item_span(i: &LinkItem) -> Span {
    match i {
        LinkItem::Key(k) => k.span,
        LinkItem::Open(o) => o.span,
        LinkItem::Mapping(m) => m.span,
    }
}

fn step_span(s: &Step) -> Span {
    match s {
        Step::Open { span, .. } | Step::Let { span, .. } => *span,
        Step::Create(w) | Step::Update(w) => w.span,
        Step::Call(c) => c.span,
    }
}

fn policy_item_span(i: &PolicyItem) -> Span {
    match i {
        PolicyItem::Retry { span, .. }
        | PolicyItem::DeadLetter { span }
        | PolicyItem::Alert { span, .. }
        | PolicyItem::Reconcile { span, .. } => *span,
        PolicyItem::Unknown(s) => s.span,
    }
}

fn path(p: &Path) -> String {
    let names: Vec<&str> = p.segments.iter().map(|s| s.name.as_str()).collect();
    names.join(".")
}

/// A duration as written (`5m`), from the source.
fn dur(src: &str, d: &Duration) -> String {
    src.get(d.span.start..d.span.end)
        .map_or_else(|| format!("{}ms", d.millis), str::to_string)
}

fn type_text(t: &TypeExpr) -> String {
    match &t.kind {
        TypeKind::Text(None) => "text".into(),
        TypeKind::Text(Some(n)) => format!("text({n})"),
        TypeKind::Number => "number".into(),
        TypeKind::Bool => "bool".into(),
        TypeKind::Datetime => "datetime".into(),
        TypeKind::Id => "id".into(),
        TypeKind::Ref(o) => format!("ref({})", o.name),
        TypeKind::Picklist(values) => {
            let v: Vec<String> = values.iter().map(|s| format!("\"{}\"", s.raw)).collect();
            format!("picklist({})", v.join(", "))
        }
    }
}

fn expr(src: &str, e: &Expr) -> String {
    match e {
        Expr::Literal(l) => l.text.clone(),
        Expr::Path(p) => path(p),
        Expr::Env { var, .. } => format!("env(\"{}\")", var.raw),
        Expr::Func { name, args, .. } => format!("{}({})", name.name, named_args(src, args)),
    }
}

fn named_args(src: &str, args: &[NamedArg]) -> String {
    let a: Vec<String> = args
        .iter()
        .map(|a| format!("{} = {}", a.name.name, expr(src, &a.value)))
        .collect();
    a.join(", ")
}

fn call(src: &str, c: &Call) -> String {
    format!(
        "{}.{}({})",
        c.system.name,
        c.action.name,
        named_args(src, &c.args)
    )
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Path(p) => path(p),
        Operand::Literal(l) => l.text.clone(),
    }
}

fn cond(c: &Cond) -> String {
    match c {
        Cond::Compare {
            left, op, right, ..
        } => {
            format!("{} {} {}", operand(left), op.as_str(), operand(right))
        }
        Cond::In { left, list, .. } => {
            let v: Vec<&str> = list.iter().map(|l| l.text.as_str()).collect();
            format!("{} in [{}]", operand(left), v.join(", "))
        }
        Cond::And(a, b, _) => format!("{} and {}", cond(a), cond(b)),
        Cond::Or(a, b, _) => format!("{} or {}", cond(a), cond(b)),
        Cond::Not(a, _) => format!("not {}", cond(a)),
        Cond::Group(a, _) => format!("({})", cond(a)),
    }
}
