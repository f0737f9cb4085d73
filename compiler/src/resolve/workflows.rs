//! Workflows (trigger, guard, steps), and the values and conditions that steps, `open` rules and
//! alerts share.

use super::Lookup;
use crate::catalog::{SystemKind, SLACK_ACTIONS};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::fx::HashMap;
use crate::model::{
    Arg, Assignment, Cond, Metric, ObjRef, Operand, Spanned, Step, Template, TemplatePart, Trigger,
    Value, Workflow,
};
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::ast::{self, Expr, Ident, LitKind, Path, RecordWrite};
use crate::syntax::template::parse_template;

/// What a single name (`bridge`, `lag`) can mean where a value is read.
#[derive(Default)]
pub(crate) struct Scope {
    /// `let` names bound by earlier steps.
    bindings: HashMap<String, Span>,
    /// Whether policy metrics (`dead_letter`, `lag`) are in scope (alerts only).
    metrics: bool,
}

impl Scope {
    pub(crate) fn for_alerts() -> Self {
        Scope {
            metrics: true,
            ..Scope::default()
        }
    }
}

impl Lookup<'_> {
    /// A workflow, when everything it names resolved.
    pub(crate) fn workflow(&mut self, decl: &ast::WorkflowDecl) -> Option<Workflow> {
        let trigger = match &decl.trigger {
            ast::Trigger::Becomes { path, value, .. } => {
                self.field_path(path, "triggers")
                    .map(|field| Trigger::Becomes {
                        field,
                        value: value.clone(),
                    })
            }
            ast::Trigger::Changes { path, .. } => self
                .field_path(path, "triggers")
                .map(|field| Trigger::Changes { field }),
            ast::Trigger::Created { object, .. } => self
                .object_path(object)
                .map(|object| Trigger::Created { object }),
        };
        let mut scope = Scope::default();
        let guard = decl.guard.as_ref().map(|g| self.condition(&mut scope, g));
        let trigger_object = trigger.as_ref().map(Trigger::object);
        let mut steps = Vec::new();
        let mut complete = true;
        for step in &decl.steps {
            match self.step(&mut scope, trigger_object.as_ref(), step) {
                Some(step) => steps.push(step),
                None => complete = false,
            }
        }
        let (Some(trigger), true) = (trigger, complete) else {
            return None;
        };
        let guard = match guard {
            Some(Some(g)) => Some(g),
            Some(None) => return None,
            None => None,
        };
        Some(Workflow {
            name: String::from(decl.name.name.as_str()),
            name_span: decl.name.span,
            trigger,
            guard,
            steps,
            span: decl.span,
        })
    }

    fn step(
        &mut self,
        scope: &mut Scope,
        trigger: Option<&ObjRef>,
        step: &ast::Step,
    ) -> Option<Step> {
        match step {
            ast::Step::Open { target, link, span } => {
                let link_index = self.link_by_name(link);
                let target = self.object_path(target)?;
                let link_index = link_index?;
                let l = self.model.links.get(link_index)?;
                if target.node != l.left.node && target.node != l.right.node {
                    let label = format!(
                        "link `{}` joins `{}` and `{}`",
                        l.name, l.left.node, l.right.node
                    );
                    self.error(
                        Diagnostic::error(
                            Code::NameUnknown,
                            format!("`{}` is not a side of link `{}`", target.node, link.name),
                            target.span,
                        )
                        .with_label(label)
                        .with_help(
                            "`open B.Obj via LINK` creates the twin on one side of the link",
                        ),
                    );
                    return None;
                }
                Some(Step::Open {
                    target,
                    link: link_index,
                    span: *span,
                })
            }
            ast::Step::Create(rw) => {
                let (object, assignments) = self.record_write(scope, rw)?;
                Some(Step::Create {
                    object,
                    assignments,
                    span: rw.span,
                })
            }
            ast::Step::Update(rw) => {
                let via = rw.via.as_ref().map(|name| self.link_by_name(name));
                let (object, assignments) = self.record_write(scope, rw)?;
                let link = match via {
                    Some(found) => Some(found?),
                    None => self.implicit_link(trigger?, &object)?,
                };
                Some(Step::Update {
                    object,
                    link,
                    assignments,
                    span: rw.span,
                })
            }
            ast::Step::Let { name, call, span } => {
                let resolved = self.action(scope, call);
                if let Some(&first) = scope.bindings.get(name.name.as_str()) {
                    self.error(
                        Diagnostic::error(
                            Code::NameDuplicate,
                            format!("`let {}` binds the name twice", name.name),
                            name.span,
                        )
                        .with_label("bound again here")
                        .with_secondary(first, "first bound here")
                        .with_help("give each `let` its own name"),
                    );
                }
                scope
                    .bindings
                    .insert(String::from(name.name.as_str()), name.span);
                let (system, action, args) = resolved?;
                Some(Step::Action {
                    binding: Some(Spanned {
                        node: String::from(name.name.as_str()),
                        span: name.span,
                    }),
                    system,
                    action,
                    args,
                    span: *span,
                })
            }
            ast::Step::Call(call) => {
                let (system, action, args) = self.action(scope, call)?;
                Some(Step::Action {
                    binding: None,
                    system,
                    action,
                    args,
                    span: call.span,
                })
            }
        }
    }

    /// `SYS.update Obj` without `via`: the trigger record itself, or its twin through the only
    /// link between the two objects.
    fn implicit_link(
        &mut self,
        trigger: &ObjRef,
        object: &Spanned<ObjRef>,
    ) -> Option<Option<usize>> {
        if &object.node == trigger {
            return Some(None);
        }
        let joining: Vec<usize> = self
            .model
            .links
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                (l.left.node == *trigger && l.right.node == object.node)
                    || (l.right.node == *trigger && l.left.node == object.node)
            })
            .map(|(i, _)| i)
            .collect();
        match joining.as_slice() {
            [one] => Some(Some(*one)),
            [] => {
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("no link joins `{trigger}` and `{}`", object.node),
                        object.span,
                    )
                    .with_label("no record to update")
                    .with_help(format!(
                        "`update` writes the trigger record (`{trigger}`) or its twin through a link; declare a link between the two objects"
                    )),
                );
                None
            }
            several => {
                let names: Vec<String> = several
                    .iter()
                    .filter_map(|&i| self.model.links.get(i).map(|l| format!("`{}`", l.name)))
                    .collect();
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("several links join `{trigger}` and `{}`", object.node),
                        object.span,
                    )
                    .with_label(format!("could be {}", names.join(" or ")))
                    .with_help("say which twin to update with `update Obj via LINK { ... }`"),
                );
                None
            }
        }
    }

    fn record_write(
        &mut self,
        scope: &mut Scope,
        rw: &RecordWrite,
    ) -> Option<(Spanned<ObjRef>, Vec<Assignment>)> {
        let kind = self.lookup_system(&rw.system)?;
        if kind == SystemKind::Slack {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!(
                        "`{}` is a slack system and has no records to create or update",
                        rw.system.name
                    ),
                    rw.system.span,
                )
                .with_label("slack system")
                .with_help("use its actions: `create_channel`, `post`, `invite`"),
            );
            return None;
        }
        let object = self.lookup_object(&rw.system, &rw.object)?;
        let mut assignments = Vec::new();
        let mut complete = true;
        for a in &rw.assignments {
            let field = self.lookup_field(&object, &a.field);
            let value = self.value(scope, &a.value);
            match (field, value) {
                (Some(field), Some(value)) => assignments.push(Assignment {
                    field: Spanned {
                        node: field,
                        span: a.field.span,
                    },
                    value,
                    span: a.span,
                }),
                _ => complete = false,
            }
        }
        let object = Spanned {
            node: object,
            span: rw.system.span.join(rw.object.span),
        };
        complete.then_some((object, assignments))
    }

    /// `SYS.action(arg = value, ...)`: only slack systems have actions.
    pub(crate) fn action(
        &mut self,
        scope: &mut Scope,
        call: &ast::Call,
    ) -> Option<(String, String, Vec<Arg>)> {
        let kind = self.lookup_system(&call.system)?;
        let names: Vec<&str> = SLACK_ACTIONS.iter().map(|a| a.name).collect();
        let action = SLACK_ACTIONS
            .iter()
            .find(|a| a.name == call.action.name && kind == SystemKind::Slack);
        let Some(action) = action else {
            let help = if kind == SystemKind::Slack {
                did_you_mean(&call.action.name, names.iter().copied()).unwrap_or_else(|| {
                    "slack actions are `create_channel`, `post` and `invite`".into()
                })
            } else {
                format!(
                    "{} steps are `{}.create Object {{ ... }}`, `{}.update Object {{ ... }}` and `open Object via LINK`",
                    kind.as_str(),
                    call.system.name,
                    call.system.name
                )
            };
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!("unknown action `{}.{}`", call.system.name, call.action.name),
                    call.action.span,
                )
                .with_label(format!("not an action of a {} system", kind.as_str()))
                .with_help(help),
            );
            return None;
        };
        let mut args = Vec::new();
        let mut complete = true;
        for arg in &call.args {
            if !action.params.iter().any(|p| p.name == arg.name.name) {
                let help = did_you_mean(&arg.name.name, action.params.iter().map(|p| p.name))
                    .unwrap_or_else(|| {
                        let params: Vec<&str> = action.params.iter().map(|p| p.name).collect();
                        format!(
                            "`{}` takes {}",
                            action.name,
                            super::decls::backticked(&params)
                        )
                    });
                self.error(
                    Diagnostic::error(
                        Code::NameUnknown,
                        format!("unknown argument `{}` of `{}`", arg.name.name, action.name),
                        arg.name.span,
                    )
                    .with_label("not an argument of this action")
                    .with_help(help),
                );
                complete = false;
                continue;
            }
            match self.value(scope, &arg.value) {
                Some(value) => args.push(Arg {
                    name: String::from(arg.name.name.as_str()),
                    value,
                    span: arg.span,
                }),
                None => complete = false,
            }
        }
        let missing: Vec<&str> = action
            .params
            .iter()
            .filter(|p| p.required && !call.args.iter().any(|a| a.name.name == p.name))
            .map(|p| p.name)
            .collect();
        if !missing.is_empty() {
            self.error(
                Diagnostic::error(
                    Code::NameUnknown,
                    format!(
                        "`{}` is missing {}",
                        action.name,
                        super::decls::backticked(&missing)
                    ),
                    call.span,
                )
                .with_label("incomplete call")
                .with_help(format!(
                    "write `{}.{}({})`",
                    call.system.name,
                    action.name,
                    action
                        .params
                        .iter()
                        .filter(|p| p.required)
                        .map(|p| format!("{} = ...", p.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            complete = false;
        }
        complete.then(|| {
            (
                String::from(call.system.name.as_str()),
                action.name.to_string(),
                args,
            )
        })
    }

    /// A value in a step or an alert: a literal, a template string, a path or a `let` name.
    fn value(&mut self, scope: &Scope, expr: &Expr) -> Option<Value> {
        match expr {
            Expr::Literal(lit) => match &lit.kind {
                LitKind::Str(s) => {
                    let template = match parse_template(s) {
                        Ok(t) => t,
                        Err(d) => {
                            self.error(d);
                            return None;
                        }
                    };
                    if template
                        .parts
                        .iter()
                        .all(|p| matches!(p, ast::TemplatePart::Text(_)))
                    {
                        return Some(Value::Literal(lit.clone()));
                    }
                    let mut parts = Vec::new();
                    let mut complete = true;
                    for part in &template.parts {
                        match part {
                            ast::TemplatePart::Text(t) => parts.push(TemplatePart::Text(t.clone())),
                            ast::TemplatePart::Hole(path) => match self.hole(scope, path) {
                                Some(p) => parts.push(p),
                                None => complete = false,
                            },
                        }
                    }
                    complete.then_some(Value::Template(Template {
                        parts,
                        span: template.span,
                    }))
                }
                _ => Some(Value::Literal(lit.clone())),
            },
            Expr::Path(path) => match path.segments.as_slice() {
                [name] => self.single_name(scope, name, false).map(|p| match p {
                    TemplatePart::Binding(b) => Value::Binding(b),
                    _ => Value::Binding(Spanned {
                        node: String::from(name.name.as_str()),
                        span: name.span,
                    }),
                }),
                _ => self.value_path(path).map(Value::Path),
            },
            Expr::Env { span, .. } | Expr::Func { span, .. } => {
                self.error(
                    Diagnostic::error(Code::NameUnknown, "`env(...)` and function forms belong in `system` settings", *span)
                        .with_label("not a step value")
                        .with_help("a step value is a literal, a template string, a field path or a `let` name"),
                );
                None
            }
        }
    }

    fn hole(&mut self, scope: &Scope, path: &Path) -> Option<TemplatePart> {
        match path.segments.as_slice() {
            [name] => self.single_name(scope, name, true),
            _ => self.value_path(path).map(TemplatePart::Path),
        }
    }

    /// A one-segment name: a `let` binding, or (in alerts) a policy metric.
    fn single_name(
        &mut self,
        scope: &Scope,
        name: &Ident,
        allow_metric: bool,
    ) -> Option<TemplatePart> {
        if scope.bindings.contains_key(name.name.as_str()) {
            return Some(TemplatePart::Binding(Spanned {
                node: String::from(name.name.as_str()),
                span: name.span,
            }));
        }
        if scope.metrics && allow_metric {
            if let Some(m) = Metric::ALL.into_iter().find(|m| m.as_str() == name.name) {
                return Some(TemplatePart::Metric(Spanned {
                    node: m,
                    span: name.span,
                }));
            }
        }
        let mut candidates: Vec<&str> = scope.bindings.keys().map(String::as_str).collect();
        if scope.metrics {
            candidates.extend(Metric::ALL.map(|m| m.as_str()));
        }
        let help = did_you_mean(&name.name, candidates).unwrap_or_else(|| {
            if scope.metrics {
                "alerts can read `dead_letter` and `lag`".to_string()
            } else {
                "a bare name is a `let` bound by an earlier step; fields are written `system.Object.field`".to_string()
            }
        });
        self.error(
            Diagnostic::error(
                Code::NameUnknown,
                format!("unknown name `{}`", name.name),
                name.span,
            )
            .with_label("not bound here")
            .with_help(help),
        );
        None
    }

    pub(crate) fn condition(&mut self, scope: &mut Scope, cond: &ast::Cond) -> Option<Cond> {
        match cond {
            ast::Cond::Compare {
                left,
                op,
                right,
                span,
            } => {
                let l = self.operand(scope, left);
                let r = self.operand(scope, right);
                Some(Cond::Compare {
                    left: l?,
                    op: *op,
                    right: r?,
                    span: *span,
                })
            }
            ast::Cond::In { left, list, span } => Some(Cond::In {
                left: self.operand(scope, left)?,
                list: list.clone(),
                span: *span,
            }),
            ast::Cond::And(a, b, _) => {
                let a = self.condition(scope, a);
                let b = self.condition(scope, b);
                Some(Cond::And(Box::new(a?), Box::new(b?)))
            }
            ast::Cond::Or(a, b, _) => {
                let a = self.condition(scope, a);
                let b = self.condition(scope, b);
                Some(Cond::Or(Box::new(a?), Box::new(b?)))
            }
            ast::Cond::Not(c, _) => Some(Cond::Not(Box::new(self.condition(scope, c)?))),
            ast::Cond::Group(c, _) => self.condition(scope, c),
        }
    }

    fn operand(&mut self, scope: &Scope, operand: &ast::Operand) -> Option<Operand> {
        match operand {
            ast::Operand::Literal(l) => Some(Operand::Literal(l.clone())),
            ast::Operand::Path(path) => {
                match path.segments.as_slice() {
                    [name] => match self.single_name(scope, name, true)? {
                        TemplatePart::Metric(m) => Some(Operand::Metric(m)),
                        _ => {
                            self.error(
                            Diagnostic::error(
                                Code::NameUnknown,
                                format!("`{}` cannot be compared in a condition", name.name),
                                name.span,
                            )
                            .with_label("a `let` binding")
                            .with_help("conditions compare fields (`system.Object.field`) with literals"),
                        );
                            None
                        }
                    },
                    _ => self.value_path(path).map(Operand::Path),
                }
            }
        }
    }
}
