//! Whole-file tests: the complete example, robustness, error messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::ast::*;
use super::parse;

const EXAMPLE: &str = include_str!("../../../examples/case_incident.seam");

/// (message, underlined text, help) of the error for `src`.
fn err(src: &str) -> (String, String, Option<String>) {
    let d = parse(src).expect_err("expected a syntax error");
    assert_eq!(d.code, crate::codes::Code::Syntax);
    let s = d.primary_span();
    let text = src.get(s.start..s.end).unwrap().to_string();
    (d.message, text, d.help)
}

fn ok(src: &str) -> SeamFile {
    match parse(src) {
        Ok(f) => f,
        Err(d) => panic!(
            "{src:?} did not parse: {} at {:?}",
            d.message,
            d.primary_span()
        ),
    }
}

fn text(src: &str, span: crate::span::Span) -> &str {
    src.get(span.start..span.end).unwrap()
}

fn dotted(p: &Path) -> String {
    p.segments
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

#[test]
fn the_complete_example_parses() {
    let f = ok(EXAMPLE);
    assert_eq!(f.items.len(), 13);
    let Item::Seam(seam) = &f.items[0] else {
        panic!()
    };
    assert_eq!(seam.name.name, "case_incident");
    assert_eq!(f.comments.len(), 8);
    assert_eq!(
        f.comments[0].text,
        " The first seam: a customer Case and its Incident in lock-step."
    );
    assert!(text(EXAMPLE, f.comments[0].span).starts_with("// The first seam"));

    let systems: Vec<_> = f
        .items
        .iter()
        .filter_map(|i| match i {
            Item::System(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(systems.len(), 3);
    let sf = systems[0];
    assert_eq!(
        (sf.alias.name.as_str(), sf.kind.name.as_str()),
        ("sf", "salesforce")
    );
    assert_eq!(sf.settings.len(), 3);
    let Expr::Func { name, args, .. } = &sf.settings[1].value else {
        panic!()
    };
    assert_eq!(name.name, "oauth_client_credentials");
    assert_eq!(args.len(), 2);
    let Expr::Env { var, .. } = &args[0].value else {
        panic!()
    };
    assert_eq!(var.value, "SF_CLIENT_ID");

    let Item::Object(case) = &f.items[5] else {
        panic!()
    };
    assert_eq!(case.object.name, "Case");
    assert_eq!(case.fields.len(), 6);
    let TypeKind::Picklist(values) = &case.fields[0].ty.kind else {
        panic!()
    };
    assert_eq!(values.len(), 4);
    assert_eq!(case.fields[5].ty.kind, TypeKind::Text(Some(4000)));
    // Spans stop at the last token: not at the trailing comment or line break.
    assert_eq!(
        text(EXAMPLE, case.fields[0].span),
        "Priority: picklist(\"Critical\", \"High\", \"Medium\", \"Low\")"
    );
    assert_eq!(
        text(EXAMPLE, case.fields[2].span),
        "Incident_Number__c: text"
    );
    let Item::Object(account) = &f.items[4] else {
        panic!()
    };
    assert!(account.fields[0].unique.is_some());

    let Item::Identity(id) = &f.items[7] else {
        panic!()
    };
    assert_eq!(dotted(&id.left), "sf.Account.Customer_Key__c");
    assert_eq!(dotted(&id.right), "snow.core_company.u_customer_key");

    let Item::Own(own_sf) = &f.items[8] else {
        panic!()
    };
    assert_eq!(own_sf.entries.len(), 6);
    assert!(matches!(own_sf.entries[0].field, OwnField::All(_)));

    let Item::Link(link) = &f.items[10] else {
        panic!()
    };
    assert_eq!(link.name.name, "case_incident");
    assert_eq!(link.items.len(), 10);
    let mappings: Vec<&Mapping> = link
        .items
        .iter()
        .filter_map(|i| match i {
            LinkItem::Mapping(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(mappings.len(), 8);
    let urgency = mappings[2];
    assert_eq!(dotted(&urgency.target), "snow.incident.urgency");
    let map = urgency.map.as_ref().unwrap();
    assert_eq!(map.arms.len(), 4);
    let MapPattern::Value(first) = &map.arms[0].pattern else {
        panic!()
    };
    assert_eq!(first.text, "\"Critical\"");
    assert_eq!(map.arms[0].value.text, "\"1\"");
    let company = mappings[3];
    assert_eq!(company.via.as_ref().unwrap().name, "customer");
    assert!(company.map.is_none());
    assert_eq!(mappings[5].map.as_ref().unwrap().arms.len(), 6);
    let LinkItem::Open(open) = &link.items[1] else {
        panic!()
    };
    assert_eq!(
        text(EXAMPLE, open.condition.span()),
        "sf.Case.Type == \"Infrastructure\""
    );

    let Item::Workflow(wf) = &f.items[11] else {
        panic!()
    };
    let Trigger::Becomes { path, value, .. } = &wf.trigger else {
        panic!()
    };
    assert_eq!(dotted(path), "sf.Case.Priority");
    assert_eq!(value.text, "\"Critical\"");
    assert!(wf.guard.is_some());
    assert_eq!(wf.steps.len(), 4);
    assert!(matches!(&wf.steps[0], Step::Open { link, .. } if link.name == "case_incident"));
    let Step::Create(task) = &wf.steps[1] else {
        panic!()
    };
    assert_eq!(
        (task.system.name.as_str(), task.object.name.as_str()),
        ("sf", "Task")
    );
    assert_eq!(task.assignments.len(), 3);
    let Expr::Literal(Literal {
        kind: LitKind::Str(subject),
        ..
    }) = &task.assignments[2].value
    else {
        panic!()
    };
    let t = super::template::parse_template(subject).unwrap();
    let holes: Vec<_> = t
        .parts
        .iter()
        .filter_map(|p| match p {
            TemplatePart::Hole(p) => Some(p),
            TemplatePart::Text(_) => None,
        })
        .collect();
    assert_eq!(holes.len(), 2);
    assert_eq!(text(EXAMPLE, holes[0].span), "sf.Case.CaseNumber");
    assert_eq!(text(EXAMPLE, holes[1].span), "sf.Case.Subject");
    let Step::Let { name, call, .. } = &wf.steps[2] else {
        panic!()
    };
    assert_eq!(name.name, "bridge");
    assert_eq!(call.action.name, "create_channel");
    let Step::Call(post) = &wf.steps[3] else {
        panic!()
    };
    assert_eq!(
        (post.system.name.as_str(), post.action.name.as_str()),
        ("chat", "post")
    );
    assert!(matches!(&post.args[0].value, Expr::Path(p) if dotted(p) == "bridge"));

    let Item::Policy(policy) = &f.items[12] else {
        panic!()
    };
    assert_eq!(policy.items.len(), 3);
    let PolicyItem::Retry {
        attempts, backoff, ..
    } = &policy.items[0]
    else {
        panic!()
    };
    assert_eq!(*attempts, 8);
    let (lo, hi) = backoff.as_ref().unwrap();
    assert_eq!((lo.millis, hi.millis), (1_000, 300_000));
    assert!(matches!(policy.items[1], PolicyItem::DeadLetter { .. }));
    let PolicyItem::Alert {
        call, condition, ..
    } = &policy.items[2]
    else {
        panic!()
    };
    assert_eq!(call.args.len(), 2);
    let Cond::Or(l, r, _) = condition else {
        panic!()
    };
    assert_eq!(text(EXAMPLE, l.span()), "dead_letter > 10");
    assert_eq!(text(EXAMPLE, r.span()), "lag > 5m");
}

#[test]
fn every_span_in_the_example_is_its_own_text() {
    let f = ok(EXAMPLE);
    for item in &f.items {
        if let Item::Link(l) = item {
            assert!(text(EXAMPLE, l.span).starts_with("link case_incident"));
            assert!(text(EXAMPLE, l.span).ends_with('}'));
            for i in &l.items {
                if let LinkItem::Mapping(m) = i {
                    assert!(text(EXAMPLE, m.span).starts_with(&dotted(&m.source)));
                    assert_eq!(text(EXAMPLE, m.target.span), dotted(&m.target));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Forms

#[test]
fn empty_and_comment_only_files_are_empty() {
    assert_eq!(ok("").items.len(), 0);
    let f = ok("  // only a comment\n\n");
    assert!(f.items.is_empty());
    assert_eq!(f.comments[0].text, " only a comment");
}

#[test]
fn seam_may_appear_anywhere_and_twice() {
    let f = ok("policy {}\nseam a\nseam b");
    assert_eq!(f.items.len(), 3);
    assert!(matches!(&f.items[2], Item::Seam(s) if s.name.name == "b"));
}

#[test]
fn commas_are_optional_in_braces_and_trailing_everywhere() {
    ok("own sf { Case.A Case.B, Case.C, }");
    ok("system s: slack { a = 1, b = 2, }");
    ok("object sf.X { A: text, B: picklist(\"a\", \"b\",), C: text(10,) }");
    ok("system s: slack { auth = basic(user = env(\"U\",), password = env(\"P\"),) }");
    ok("workflow w { on a.B.c changes when a.B.c in [\"x\", \"y\",] do { c.post(a = 1,), } }");
    ok("link l: a.B <-> c.D { a.B.x -> c.D.y map { \"a\" => \"b\", _ => \"c\", }, }");
}

#[test]
fn commas_are_required_in_parens_and_brackets() {
    let (m, t, h) = err("object sf.X { B: picklist(\"a\" \"b\") }");
    assert_eq!(m, "expected `,` or `)`, found `\"b\"`");
    assert_eq!(t, "\"b\"");
    assert!(h.unwrap().contains("separated by commas"));
    let (m, _, _) = err("workflow w { on a.B.c changes when a.B.c in [\"x\" \"y\"] do {} }");
    assert_eq!(m, "expected `,` or `]`, found `\"y\"`");
}

#[test]
fn keywords_are_names_after_a_dot() {
    let f = ok("link l: sf.Case <-> snow.incident { key sf.Case.key <-> snow.incident.from }");
    let Item::Link(l) = &f.items[0] else { panic!() };
    let LinkItem::Key(k) = &l.items[0] else {
        panic!()
    };
    assert_eq!(dotted(&k.left), "sf.Case.key");
    assert_eq!(dotted(&k.right), "snow.incident.from");
    ok("own sf { Case.open, Case.when }");
    ok("object sf.link { in: text }".replace("in:", "X:").as_str());
}

#[test]
fn object_fields_types_and_modifiers() {
    let src = "object snow.incident {\n  priority: number from(impact, urgency,) unique\n  u_x: ref(Account)\n  u_d: datetime\n  u_b: bool\n  u_i: id unique\n}";
    let f = ok(src);
    let Item::Object(o) = &f.items[0] else {
        panic!()
    };
    let p = &o.fields[0];
    assert_eq!(p.ty.kind, TypeKind::Number);
    let from: Vec<_> = p
        .derived_from
        .as_ref()
        .unwrap()
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(from, ["impact", "urgency"]);
    assert_eq!(text(src, p.unique.unwrap()), "unique");
    assert!(matches!(&o.fields[1].ty.kind, TypeKind::Ref(i) if i.name == "Account"));
    assert_eq!(o.fields[2].ty.kind, TypeKind::Datetime);
    assert_eq!(o.fields[3].ty.kind, TypeKind::Bool);
    assert_eq!(o.fields[4].ty.kind, TypeKind::Id);
    assert_eq!(text(src, o.fields[1].ty.span), "ref(Account)");
}

#[test]
fn literals_keep_their_text() {
    let src = "system s: slack { a = -5, b = 2.5, c = true, d = false, e = 500ms, f = 1d, g = \"q\\\"\\\\\\n\" }";
    let f = ok(src);
    let Item::System(s) = &f.items[0] else {
        panic!()
    };
    let lits: Vec<&Literal> = s
        .settings
        .iter()
        .map(|st| match &st.value {
            Expr::Literal(l) => l,
            _ => panic!(),
        })
        .collect();
    assert_eq!(lits[0].kind, LitKind::Number(-5.0));
    assert_eq!(lits[0].text, "-5");
    assert_eq!(lits[1].kind, LitKind::Number(2.5));
    assert_eq!(lits[2].kind, LitKind::Bool(true));
    assert_eq!(lits[3].kind, LitKind::Bool(false));
    assert!(matches!(&lits[4].kind, LitKind::Duration(d) if d.millis == 500));
    assert!(matches!(&lits[5].kind, LitKind::Duration(d) if d.millis == 86_400_000));
    let LitKind::Str(s) = &lits[6].kind else {
        panic!()
    };
    assert_eq!(s.value, "q\"\\\n");
    assert_eq!(s.raw, "q\\\"\\\\\\n");
    assert_eq!(lits[6].text, "\"q\\\"\\\\\\n\"");
    assert_eq!(text(src, lits[6].span), lits[6].text);
}

fn guard(src: &str) -> Cond {
    let f = ok(&format!(
        "workflow w {{ on a.B created when {src} do {{}} }}"
    ));
    let Item::Workflow(w) = f.items.into_iter().next().unwrap() else {
        panic!()
    };
    w.guard.unwrap()
}

#[test]
fn conditions_follow_precedence() {
    // not > and > or
    let c = guard("not a == 1 and b != 2 or c < 3");
    let Cond::Or(l, r, _) = c else { panic!() };
    let Cond::And(n, _, _) = *l else { panic!() };
    assert!(matches!(*n, Cond::Not(..)));
    assert!(matches!(*r, Cond::Compare { op: CmpOp::Lt, .. }));
    // and binds tighter than or, on either side
    let Cond::Or(_, r, _) = guard("a == 1 or b == 2 and c == 3") else {
        panic!()
    };
    assert!(matches!(*r, Cond::And(..)));
    // left associative
    let Cond::And(l, _, _) = guard("a == 1 and b == 2 and c == 3") else {
        panic!()
    };
    assert!(matches!(*l, Cond::And(..)));
}

#[test]
fn conditions_groups_in_and_operators() {
    let src = "workflow w { on a.B created when not (a.B.c >= 1d or a.B.d <= 2) and x in [\"a\", \"b\"] do {} }";
    let f = ok(src);
    let Item::Workflow(w) = &f.items[0] else {
        panic!()
    };
    let Some(Cond::And(l, r, span)) = &w.guard else {
        panic!()
    };
    assert_eq!(
        text(src, *span),
        "not (a.B.c >= 1d or a.B.d <= 2) and x in [\"a\", \"b\"]"
    );
    let Cond::Not(g, nspan) = &**l else { panic!() };
    assert_eq!(text(src, *nspan), "not (a.B.c >= 1d or a.B.d <= 2)");
    let Cond::Group(inner, gspan) = &**g else {
        panic!()
    };
    assert_eq!(text(src, *gspan), "(a.B.c >= 1d or a.B.d <= 2)");
    assert!(matches!(&**inner, Cond::Or(..)));
    let Cond::In { left, list, .. } = &**r else {
        panic!()
    };
    assert_eq!(text(src, left.span()), "x");
    assert_eq!(list.len(), 2);
    for (op, want) in [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<", CmpOp::Lt),
        ("<=", CmpOp::Le),
        (">", CmpOp::Gt),
        (">=", CmpOp::Ge),
    ] {
        let Cond::Compare { op: got, right, .. } = guard(&format!("a.B.c {op} -1.5")) else {
            panic!()
        };
        assert_eq!(got, want);
        assert!(
            matches!(right, Operand::Literal(Literal { kind: LitKind::Number(n), .. }) if n == -1.5)
        );
    }
    assert!(matches!(
        guard("true == a"),
        Cond::Compare {
            left: Operand::Literal(_),
            ..
        }
    ));
}

#[test]
fn triggers_and_steps() {
    let f = ok("workflow w { on sf.Case created do { sf.update Case via l { Status = \"x\" } snow.update incident {} } }");
    let Item::Workflow(w) = &f.items[0] else {
        panic!()
    };
    assert!(matches!(&w.trigger, Trigger::Created { object, .. } if dotted(object) == "sf.Case"));
    assert!(w.guard.is_none());
    let Step::Update(u) = &w.steps[0] else {
        panic!()
    };
    assert_eq!(u.via.as_ref().unwrap().name, "l");
    assert_eq!(u.assignments[0].field.name, "Status");
    assert!(matches!(&w.steps[1], Step::Update(u) if u.via.is_none()));
    let f = ok("workflow w { on sf.Case.Status changes do {} }");
    let Item::Workflow(w) = &f.items[0] else {
        panic!()
    };
    assert!(
        matches!(&w.trigger, Trigger::Changes { path, .. } if dotted(path) == "sf.Case.Status")
    );
}

#[test]
fn policy_items() {
    let src = "policy { retry = 3 attempts\n reconcile = every 2h\n max_lag = 5m\n alert c.post(text = \"x\") when lag > 1s }";
    let f = ok(src);
    let Item::Policy(p) = &f.items[0] else {
        panic!()
    };
    let PolicyItem::Retry {
        attempts,
        attempts_span,
        backoff,
        span,
    } = &p.items[0]
    else {
        panic!()
    };
    assert_eq!(*attempts, 3);
    assert_eq!(text(src, *attempts_span), "3");
    assert!(backoff.is_none());
    assert_eq!(text(src, *span), "retry = 3 attempts");
    assert!(
        matches!(&p.items[1], PolicyItem::Reconcile { every, .. } if every.millis == 7_200_000)
    );
    let PolicyItem::Unknown(s) = &p.items[2] else {
        panic!()
    };
    assert_eq!(s.name.name, "max_lag");
    assert!(matches!(&p.items[3], PolicyItem::Alert { .. }));
}

// ---------------------------------------------------------------------------------------------
// Errors: message, underlined text, help

#[test]
fn error_unknown_declaration() {
    let (m, t, h) = err("seam x\nfoo");
    assert_eq!(
        m,
        "expected a declaration (`system`, `object`, `identity`, `own`, `link`, `workflow`, `policy`), found `foo`"
    );
    assert_eq!(t, "foo");
    assert!(h.is_some());
    let (m, t, _) = err("foo");
    assert!(m.starts_with("expected a declaration (`system`"), "{m}");
    assert_eq!(t, "foo");
}

#[test]
fn error_wrong_arrows() {
    let (m, t, h) = err("identity customer = sf.A.b -> snow.c.d");
    assert_eq!(m, "expected `<->`, found `->`");
    assert_eq!(t, "->");
    assert!(h.unwrap().contains("<->"));
    let (m, t, _) = err("link l: sf.Case <-> snow.incident {\n sf.Case.a = snow.incident.b\n}");
    assert_eq!(m, "expected `->`, found `=`");
    assert_eq!(t, "=");
    let (m, t, _) = err("link l: a.B <-> c.D { a.B.x -> c.D.y map { \"a\" -> \"b\" } }");
    assert_eq!(m, "expected `=>`, found `->`");
    assert_eq!(t, "->");
}

#[test]
fn error_reserved_word_as_name() {
    let (m, t, h) = err("link key: sf.Case <-> snow.incident {}");
    assert_eq!(m, "`key` is a reserved word and cannot be used as a name");
    assert_eq!(t, "key");
    assert!(h.unwrap().contains("after a dot"));
    let (m, t, _) = err("object sf.X { from: text }");
    assert_eq!(m, "`from` is a reserved word and cannot be used as a name");
    assert_eq!(t, "from");
}

#[test]
fn error_missing_closing_brace_names_the_block() {
    let src = "seam x\nlink l: sf.Case <-> snow.incident {\n key sf.Case.Id <-> snow.incident.x\n";
    let d = parse(src).unwrap_err();
    assert_eq!(
        d.message,
        "expected `key`, `open`, a mapping (`a.Object.field -> b.Object.field`) or `}`, found end of file"
    );
    assert_eq!(d.labels[1].span, crate::span::Span::new(41, 42));
    assert_eq!(
        d.help.as_deref(),
        Some("add a `}` to close the block opened on line 2")
    );
    // A missing brace before the next declaration.
    let (m, t, h) = err("own sf { Case.A\nlink l: a.B <-> c.D {}");
    assert_eq!(m, "expected a name or `}`, found `link`");
    assert_eq!(t, "link");
    assert!(h.unwrap().contains("line 1"));
}

#[test]
fn error_missing_comma_in_arguments() {
    let (m, t, h) =
        err("system sf: salesforce {\n auth = basic(user = env(\"U\") password = env(\"P\"))\n}");
    assert_eq!(m, "expected `,` or `)`, found `password`");
    assert_eq!(t, "password");
    assert!(h.unwrap().contains("commas"));
}

#[test]
fn error_assignment_in_condition() {
    let (m, t, h) = err("workflow w { on a.B.c becomes \"x\" when a.B.c = \"b\" do {} }");
    assert_eq!(
        m,
        "expected `in` or a comparison operator (`==`, `!=`, `<`, `<=`, `>`, `>=`), found `=`"
    );
    assert_eq!(t, "=");
    assert!(h.unwrap().contains("`==`"));
}

#[test]
fn error_bad_trigger_and_step() {
    let (m, t, _) = err("workflow w { on a.B.c goes \"x\" do {} }");
    assert_eq!(
        m,
        "expected `becomes`, `changes` or `created`, found `goes`"
    );
    assert_eq!(t, "goes");
    let (m, t, _) = err("workflow w { on a.B.c changes do { 42 } }");
    assert_eq!(
        m,
        "expected a step (`open`, `let`, `SYS.create`, `SYS.update` or `SYS.action(...)`) or `}`, found `42`"
    );
    assert_eq!(t, "42");
}

#[test]
fn error_policy_and_types() {
    let (m, t, _) = err("policy { retry = 8 tries }");
    assert_eq!(m, "expected `attempts`, found `tries`");
    assert_eq!(t, "tries");
    let (m, t, _) = err("object sf.Case { A: txt }");
    assert!(m.starts_with("expected a field type (`text`"), "{m}");
    assert_eq!(t, "txt");
    let (m, t, h) = err("object sf.Case { A = text }");
    assert_eq!(m, "expected `:`, found `=`");
    assert_eq!(t, "=");
    assert!(h.is_some());
}

#[test]
fn error_strings() {
    let (m, t, _) = err("system s: slack { url = \"abc\n}");
    assert_eq!(m, "unterminated string");
    assert_eq!(t, "\"abc");
    let (m, t, _) = err("system s: slack { url = \"a\\tb\" }");
    assert_eq!(m, "unknown escape `\\t` in a string");
    assert_eq!(t, "\\t");
}

#[test]
fn error_end_of_file_and_unclosed_paren() {
    let (m, t, _) = err("seam");
    assert_eq!(m, "expected a name, found end of file");
    assert_eq!(t, "");
    let d = parse("link l: a.B <-> c.D { open c.D when (a == 1 }").unwrap_err();
    assert_eq!(d.message, "expected `and`, `or` or `)`, found `}`");
    assert_eq!(d.labels[1].span.start, 36);
}

#[test]
fn errors_never_name_grammar_rules() {
    let inputs = [
        "foo",
        "seam",
        "{",
        "system",
        "link l: a.B",
        "policy { alert }",
        "object a.B { x: picklist(",
        "workflow w { on",
        "own s { A. }",
        "\u{0}",
        "seam x\n\"abc\"",
    ];
    for src in inputs {
        let d = parse(src).unwrap_err();
        for bad in [
            "EOI",
            "ident_char",
            "field_path",
            "_decl",
            "kw_",
            "rbrace",
            "cmp_op",
            "str_inner",
        ] {
            assert!(!d.message.contains(bad), "{src:?}: {}", d.message);
            for l in &d.labels {
                assert!(
                    !l.text.clone().unwrap_or_default().contains(bad),
                    "{src:?}: {:?}",
                    l.text
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: no panic, no hang, no stack overflow.

/// A small deterministic PRNG (xorshift64*), so the fuzz tests need no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn every_prefix_of_the_example_parses_or_errors() {
    for (i, _) in EXAMPLE.char_indices() {
        let prefix = &EXAMPLE[..i];
        if let Err(d) = parse(prefix) {
            assert_eq!(d.code, crate::codes::Code::Syntax);
            assert!(d.primary_span().end <= prefix.len());
        }
    }
}

#[test]
fn random_bytes_and_token_soup_do_not_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let len = (rng.next() % 200) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }
    let tokens = [
        "seam",
        "x",
        "sf.Case.A",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "->",
        "<->",
        "=>",
        "=",
        "==",
        ",",
        "\"s\"",
        "5m",
        "-1.5",
        "link",
        "when",
        "not",
        "and",
        "or",
        "in",
        "open",
        "via",
        "map",
        "_",
        ":",
        "object",
        "text",
        "policy",
        "retry",
        "\"{a}\"",
        "//c\n",
        "\n",
        "do",
        "on",
    ];
    for _ in 0..3000 {
        let n = (rng.next() % 40) as usize;
        let src: Vec<&str> = (0..n)
            .map(|_| tokens[(rng.next() % tokens.len() as u64) as usize])
            .collect();
        let _ = parse(&src.join(" "));
    }
}

#[test]
fn mutations_of_the_example_do_not_panic() {
    let mut rng = Rng(42);
    let bytes = EXAMPLE.as_bytes();
    for _ in 0..300 {
        let mut b = bytes.to_vec();
        for _ in 0..3 {
            let at = (rng.next() % b.len() as u64) as usize;
            b[at] = b" {}()[]\"=-<>.,x1\\\n"[(rng.next() % 18) as usize];
        }
        let _ = parse(&String::from_utf8_lossy(&b));
    }
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    let src = format!(
        "link l: a.B <-> c.D {{ open c.D when {}a == 1 }}",
        "(".repeat(100_000)
    );
    let (m, t, _) = err(&src);
    assert_eq!(m, "conditions nest too deeply");
    assert_eq!(t, "(");
    let ok_depth = format!(
        "workflow w {{ on a.B created when {}a == 1{} do {{}} }}",
        "(".repeat(60),
        ")".repeat(60)
    );
    ok(&ok_depth);
    let func = format!("system s: slack {{ a = {}", "f(x = ".repeat(100_000));
    assert!(parse(&func).is_err());
}

#[test]
fn long_conditions_are_a_diagnostic() {
    let many = vec!["a == 1"; 10_000].join(" and ");
    let (m, _, _) = err(&format!(
        "workflow w {{ on a.B created when {many} do {{}} }}"
    ));
    assert_eq!(m, "condition has too many operators");
    let nots = format!(
        "workflow w {{ on a.B created when {} a == 1 do {{}} }}",
        "not ".repeat(100_000)
    );
    assert!(parse(&nots).is_err());
    let fine = vec!["a == 1"; 200].join(" or ");
    ok(&format!(
        "workflow w {{ on a.B created when {fine} do {{}} }}"
    ));
}

#[test]
fn a_ten_megabyte_file() {
    let line = "own sf { Case.Subject, Case.Description } // a comment\n";
    let big = line.repeat(10 * 1024 * 1024 / line.len());
    let f = ok(&big);
    assert_eq!(f.items.len(), big.len() / line.len());
    let garbage = "{".repeat(10 * 1024 * 1024);
    assert!(parse(&garbage).is_err());
    let open_string = format!("seam x \"{}", "a".repeat(10 * 1024 * 1024));
    assert!(parse(&open_string).is_err());
}

#[test]
fn nesting_at_the_limit_parses() {
    let depth = super::lexical::MAX_NESTING;
    let funcs = format!(
        "system s: slack {{ a = {}1{} }}",
        "f(x = ".repeat(depth),
        ")".repeat(depth)
    );
    ok(&funcs);
    let conds = format!(
        "workflow w {{ on a.B created when {}not a == 1{} do {{}} }}",
        "not (".repeat(depth),
        ")".repeat(depth)
    );
    ok(&conds);
}
