//! Pest pairs to the top-level declarations of the AST (`Item`s) and everything inside them
//! except the shared pieces in `expr`.

use super::ast::*;
use super::errors::internal;
use super::expr::{self, ident, span_of, Kids, PResult};
use super::fast::Rule;
use pest::iterators::Pair;

/// The `file` pair: every declaration, in source order.
pub(super) fn file(pair: Pair<'_, Rule>) -> PResult<Vec<Item>> {
    Kids::of(pair).map(item).collect()
}

fn item(pair: Pair<'_, Rule>) -> PResult<Item> {
    let span = span_of(&pair);
    Ok(match pair.as_rule() {
        Rule::seam_decl => {
            let name = ident(&Kids::of(pair).next()?)?;
            Item::Seam(SeamDecl { name, span })
        }
        Rule::system_decl => Item::System(system(pair)?),
        Rule::object_decl => Item::Object(object(pair)?),
        Rule::identity_decl => {
            let mut kids = Kids::of(pair);
            let name = ident(&kids.next()?)?;
            let left = expr::path(kids.next()?)?;
            let right = expr::path(kids.next()?)?;
            Item::Identity(IdentityDecl {
                name,
                left,
                right,
                span,
            })
        }
        Rule::own_decl => Item::Own(own(pair)?),
        Rule::link_decl => Item::Link(link(pair)?),
        Rule::workflow_decl => Item::Workflow(workflow(pair)?),
        Rule::policy_decl => Item::Policy(policy(pair)?),
        _ => return Err(internal("an unknown kind of declaration", span.start)),
    })
}

fn system(pair: Pair<'_, Rule>) -> PResult<SystemDecl> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let alias = ident(&kids.next()?)?;
    let kind = ident(&kids.next()?)?;
    let settings = kids.map(setting).collect::<PResult<_>>()?;
    Ok(SystemDecl {
        alias,
        kind,
        settings,
        span,
    })
}

/// `name = expr` (a `setting`, `assignment` or `policy_setting` pair).
fn setting(pair: Pair<'_, Rule>) -> PResult<Setting> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let name = ident(&kids.next()?)?;
    let value = expr::expr(kids.next()?)?;
    Ok(Setting { name, value, span })
}

fn object(pair: Pair<'_, Rule>) -> PResult<ObjectDecl> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let (system, object) = expr::two_names(kids.next()?)?;
    let fields = kids.map(field).collect::<PResult<_>>()?;
    Ok(ObjectDecl {
        system,
        object,
        fields,
        span,
    })
}

fn field(pair: Pair<'_, Rule>) -> PResult<FieldDecl> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let name = ident(&kids.next()?)?;
    let ty = type_expr(kids.next()?)?;
    let mut unique = None;
    let mut derived_from = None;
    for modifier in kids {
        match modifier.as_rule() {
            Rule::kw_unique => unique = Some(span_of(&modifier)),
            _ => {
                derived_from = Some(
                    Kids::of(modifier)
                        .map(|p| ident(&p))
                        .collect::<PResult<_>>()?,
                )
            }
        }
    }
    Ok(FieldDecl {
        name,
        ty,
        unique,
        derived_from,
        span,
    })
}

fn type_expr(pair: Pair<'_, Rule>) -> PResult<TypeExpr> {
    let span = span_of(&pair);
    let inner = Kids::of(pair).next()?;
    let kind = match inner.as_rule() {
        Rule::text_type => match Kids::of(inner).next_if(Rule::int) {
            Some(n) => TypeKind::Text(Some(expr::int_u32(&n, "text length")?)),
            None => TypeKind::Text(None),
        },
        Rule::w_number => TypeKind::Number,
        Rule::w_bool => TypeKind::Bool,
        Rule::w_datetime => TypeKind::Datetime,
        Rule::w_id => TypeKind::Id,
        Rule::ref_type => TypeKind::Ref(ident(&Kids::of(inner).next()?)?),
        Rule::picklist_type => {
            TypeKind::Picklist(Kids::of(inner).map(expr::string).collect::<PResult<_>>()?)
        }
        _ => return Err(internal("an unknown field type", span.start)),
    };
    Ok(TypeExpr { kind, span })
}

fn own(pair: Pair<'_, Rule>) -> PResult<OwnDecl> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let system = ident(&kids.next()?)?;
    let entries = kids.map(own_entry).collect::<PResult<_>>()?;
    Ok(OwnDecl {
        system,
        entries,
        span,
    })
}

fn own_entry(pair: Pair<'_, Rule>) -> PResult<OwnEntry> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let object = ident(&kids.next()?)?;
    let last = kids.next()?;
    let field = match last.as_rule() {
        Rule::star => OwnField::All(span_of(&last)),
        _ => OwnField::Named(ident(&last)?),
    };
    Ok(OwnEntry {
        object,
        field,
        span,
    })
}

fn link(pair: Pair<'_, Rule>) -> PResult<LinkDecl> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let name = ident(&kids.next()?)?;
    let left = expr::path(kids.next()?)?;
    let right = expr::path(kids.next()?)?;
    let items = kids.map(link_item).collect::<PResult<_>>()?;
    Ok(LinkDecl {
        name,
        left,
        right,
        items,
        span,
    })
}

fn link_item(pair: Pair<'_, Rule>) -> PResult<LinkItem> {
    let span = span_of(&pair);
    let rule = pair.as_rule();
    let mut kids = Kids::of(pair);
    match rule {
        Rule::link_key => Ok(LinkItem::Key(LinkKey {
            left: expr::path(kids.next()?)?,
            right: expr::path(kids.next()?)?,
            span,
        })),
        Rule::open_rule => Ok(LinkItem::Open(Box::new(OpenRule {
            target: expr::path(kids.next()?)?,
            condition: expr::cond(kids.next()?)?,
            span,
        }))),
        Rule::mapping => {
            let source = expr::path(kids.next()?)?;
            let target = expr::path(kids.next()?)?;
            let mut map = None;
            let mut via = None;
            for suffix in kids {
                match suffix.as_rule() {
                    Rule::value_map => map = Some(value_map(suffix)?),
                    _ => via = Some(ident(&Kids::of(suffix).next()?)?),
                }
            }
            Ok(LinkItem::Mapping(Mapping {
                source,
                target,
                map,
                via,
                span,
            }))
        }
        _ => Err(internal("an unknown kind of link entry", span.start)),
    }
}

fn value_map(pair: Pair<'_, Rule>) -> PResult<ValueMap> {
    let span = span_of(&pair);
    let arms = Kids::of(pair).map(map_arm).collect::<PResult<_>>()?;
    Ok(ValueMap { arms, span })
}

fn map_arm(pair: Pair<'_, Rule>) -> PResult<MapArm> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let first = kids.next()?;
    let pattern = match first.as_rule() {
        Rule::default_arm => MapPattern::Default(span_of(&first)),
        _ => MapPattern::Value(expr::literal(first)?),
    };
    let value = expr::literal(kids.next()?)?;
    Ok(MapArm {
        pattern,
        value,
        span,
    })
}

fn workflow(pair: Pair<'_, Rule>) -> PResult<WorkflowDecl> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let name = ident(&kids.next()?)?;
    let trigger = trigger(kids.next()?)?;
    let guard = match kids.next_if(Rule::guard) {
        Some(g) => Some(expr::cond(Kids::of(g).next()?)?),
        None => None,
    };
    let steps = Kids::of(kids.next()?).map(step).collect::<PResult<_>>()?;
    Ok(WorkflowDecl {
        name,
        trigger,
        guard,
        steps,
        span,
    })
}

fn trigger(pair: Pair<'_, Rule>) -> PResult<Trigger> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let path = expr::path(kids.next()?)?;
    let what = kids.next()?;
    Ok(match what.as_rule() {
        Rule::becomes => Trigger::Becomes {
            path,
            value: expr::literal(Kids::of(what).next()?)?,
            span,
        },
        Rule::kw_changes => Trigger::Changes { path, span },
        _ => Trigger::Created { object: path, span },
    })
}

fn step(pair: Pair<'_, Rule>) -> PResult<Step> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::open_step => {
            let mut kids = Kids::of(pair);
            let target = expr::path(kids.next()?)?;
            let link = ident(&kids.next()?)?;
            Ok(Step::Open { target, link, span })
        }
        Rule::let_step => {
            let mut kids = Kids::of(pair);
            let name = ident(&kids.next()?)?;
            let call = expr::call(kids.next()?)?;
            Ok(Step::Let { name, call, span })
        }
        Rule::record_step => record_step(pair),
        Rule::call => Ok(Step::Call(expr::call(pair)?)),
        _ => Err(internal("an unknown kind of step", span.start)),
    }
}

fn record_step(pair: Pair<'_, Rule>) -> PResult<Step> {
    let span = span_of(&pair);
    let mut kids = Kids::of(pair);
    let (system, action) = expr::two_names(kids.next()?)?;
    let object = ident(&kids.next()?)?;
    let via = match kids.next_if(Rule::via_clause) {
        Some(v) => Some(ident(&Kids::of(v).next()?)?),
        None => None,
    };
    let assignments = kids
        .map(|a| {
            let s = setting(a)?;
            Ok(Assignment {
                field: s.name,
                value: s.value,
                span: s.span,
            })
        })
        .collect::<PResult<_>>()?;
    let write = RecordWrite {
        system,
        object,
        via,
        assignments,
        span,
    };
    Ok(match action.name.as_str() {
        "create" => Step::Create(write),
        _ => Step::Update(write),
    })
}

fn policy(pair: Pair<'_, Rule>) -> PResult<PolicyDecl> {
    let span = span_of(&pair);
    let items = Kids::of(pair).map(policy_item).collect::<PResult<_>>()?;
    Ok(PolicyDecl { items, span })
}

fn policy_item(pair: Pair<'_, Rule>) -> PResult<PolicyItem> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::retry_item => {
            let mut kids = Kids::of(pair);
            let n = kids.next()?;
            let attempts = expr::int_u32(&n, "number of attempts")?;
            let backoff = match kids.next_if(Rule::backoff) {
                Some(b) => {
                    let mut b = Kids::of(b);
                    let from = expr::duration(&b.next()?)?;
                    let to = expr::duration(&b.next()?)?;
                    Some((from, to))
                }
                None => None,
            };
            Ok(PolicyItem::Retry {
                attempts,
                attempts_span: span_of(&n),
                backoff,
                span,
            })
        }
        Rule::dead_letter_item => Ok(PolicyItem::DeadLetter { span }),
        Rule::alert_item => {
            let mut kids = Kids::of(pair);
            let call = expr::call(kids.next()?)?;
            let condition = expr::cond(kids.next()?)?;
            Ok(PolicyItem::Alert {
                call,
                condition,
                span,
            })
        }
        Rule::reconcile_item => Ok(PolicyItem::Reconcile {
            every: expr::duration(&Kids::of(pair).next()?)?,
            span,
        }),
        _ => Ok(PolicyItem::Unknown(setting(pair)?)),
    }
}
