use super::*;
use crate::catalog::{Catalog, SystemKind};
use crate::model::{self, FieldRef, Model, ObjRef, Spanned};
use crate::span::Span;
use crate::syntax::ast;

fn ident(name: &str) -> ast::Ident {
    ast::Ident {
        name: name.into(),
        span: Span::default(),
    }
}

fn env(var: &str) -> ast::Expr {
    ast::Expr::Env {
        var: ast::StrLit {
            value: var.into(),
            raw: var.into(),
            span: Span::default(),
        },
        span: Span::default(),
    }
}

fn system(alias: &str, kind: SystemKind, settings: Vec<(&str, ast::Expr)>) -> model::System {
    model::System {
        alias: alias.into(),
        kind,
        decl: ast::SystemDecl {
            alias: ident(alias),
            kind: ident(kind.as_str()),
            settings: settings
                .into_iter()
                .map(|(n, value)| ast::Setting {
                    name: ident(n),
                    value,
                    span: Span::default(),
                })
                .collect(),
            span: Span::default(),
        },
    }
}

fn spanned<T>(node: T) -> Spanned<T> {
    Spanned {
        node,
        span: Span::default(),
    }
}

fn field(system: &str, object: &str, field: &str) -> FieldRef {
    FieldRef {
        system: system.into(),
        object: object.into(),
        field: field.into(),
    }
}

/// A small model built by hand: one link with one mapping.
pub(crate) fn small_model() -> Model {
    let mut m = Model::with_catalog(Catalog::builtin());
    m.name = Some("demo".into());
    m.add_system(system(
        "sf",
        SystemKind::Salesforce,
        vec![
            ("url", env("SF_URL")),
            (
                "auth",
                ast::Expr::Func {
                    name: ident("bearer"),
                    args: vec![ast::NamedArg {
                        name: ident("token"),
                        value: env("SF_TOKEN"),
                        span: Span::default(),
                    }],
                    span: Span::default(),
                },
            ),
            ("webhook_secret", env("SF_HOOK")),
        ],
    ));
    m.add_system(system("snow", SystemKind::ServiceNow, vec![]));
    let left = ObjRef {
        system: "sf".into(),
        object: "Case".into(),
    };
    let right = ObjRef {
        system: "snow".into(),
        object: "incident".into(),
    };
    m.links.push(model::Link {
        name: "case_incident".into(),
        name_span: Span::default(),
        left: spanned(left),
        right: spanned(right),
        key: Some(model::LinkKey {
            left: spanned(field("sf", "Case", "Id")),
            right: spanned(field("snow", "incident", "correlation_id")),
            span: Span::default(),
        }),
        opens: vec![],
        mappings: vec![model::Mapping {
            link: "case_incident".into(),
            source: spanned(field("sf", "Case", "Subject")),
            target: spanned(field("snow", "incident", "short_description")),
            map: None,
            via: None,
            span: Span::default(),
        }],
        span: Span::default(),
    });
    m
}

#[test]
fn a_hand_built_model_compiles_to_a_plan_with_env_references_only() {
    let plan = Plan::from_model(&small_model());
    assert_eq!(plan.plan_version, PLAN_VERSION);
    assert_eq!(plan.spec_hash.len(), 64);
    assert_eq!(plan.spec_hash, plan.content_hash());
    let sf = &plan.systems[0];
    assert_eq!(
        sf.url,
        Some(SettingValue::Env(EnvRef {
            env: "SF_URL".into()
        }))
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["systems"][0]["url"],
        serde_json::json!({"env": "SF_URL"})
    );
    assert_eq!(
        json["systems"][0]["auth"]["params"][0]["value"]["env"],
        "SF_TOKEN"
    );
    assert_eq!(plan.ownership.len(), 1);
    assert_eq!(plan.ownership[0].owner, "sf");
    assert_eq!(plan.links[0].left_to_right.len(), 1);
    // Only touched fields appear.
    let case = plan.objects.iter().find(|o| o.object == "Case").unwrap();
    let names: Vec<&str> = case.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Id", "Subject"]);
    // The plan round-trips through its JSON.
    let back: Plan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn the_hash_follows_meaning() {
    let a = Plan::from_model(&small_model());
    let mut model = small_model();
    model.links[0].mappings[0].target.node.field = "description".into();
    let b = Plan::from_model(&model);
    assert_ne!(a.spec_hash, b.spec_hash);
    assert_eq!(a.spec_hash, Plan::from_model(&small_model()).spec_hash);
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&Plan::json_schema()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/plan.schema.json");
    if std::env::var_os("SEAM_BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "spec/plan.schema.json is stale: run `SEAM_BLESS=1 cargo test -p seam-compiler schema`"
    );
}

/// Every spec the repository holds (examples, corpus, fixtures), and a generated one large
/// enough for the threaded paths (2,500 mappings: the checks' second thread, a chunked parse).
pub(crate) fn every_spec() -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut texts: Vec<(String, String)> =
        vec![("synthetic".into(), crate::synthetic::spec(2_500))];
    for dir in ["examples", "spec/corpus", "tests/fixtures"] {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "seam"))
            .collect();
        paths.sort();
        for p in paths {
            texts.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    texts
}

/// Every clean spec of [`every_spec`], checked.
fn clean_models() -> Vec<(String, Model)> {
    let texts = every_spec();
    let models: Vec<(String, Model)> = texts
        .into_iter()
        .filter_map(|(name, text)| {
            let checked = crate::check_model(&text);
            let clean = !checked.has_errors();
            checked.model.filter(|_| clean).map(|m| (name, m))
        })
        .collect();
    assert!(models.len() > 10, "too few clean specs: {}", models.len());
    models
}

/// The ownership list as it was first built: a map keyed by the plan's own `FieldPath`s, fed
/// from the plan's links in order. The builder now sorts the model's shared names instead.
fn ownership_by_map(links: &[PlanLink]) -> Vec<FieldOwnership> {
    let mut map: std::collections::BTreeMap<FieldPath, Vec<Replica>> = Default::default();
    for l in links {
        for m in l.left_to_right.iter().chain(&l.right_to_left) {
            map.entry(m.source.clone()).or_default().push(Replica {
                field: m.target.clone(),
                link: l.name.clone(),
            });
        }
    }
    map.into_iter()
        .map(|(field, replicas)| FieldOwnership {
            owner: field.system.clone(),
            field,
            replicas,
        })
        .collect()
}

#[test]
fn ownership_is_sorted_by_field_with_replicas_in_link_order() {
    for (name, model) in clean_models() {
        let plan = Plan::from_model(&model);
        assert_eq!(plan.ownership, ownership_by_map(&plan.links), "{name}");
    }
    // Several links writing from one field, in both directions, out of order.
    let mut model = small_model();
    let mut second = model.links[0].clone();
    second.name = "another".into();
    second.mappings[0].target.node.field = "description".into();
    let mut back = second.mappings[0].clone();
    back.source.node = field("snow", "incident", "assigned_to");
    back.target.node = field("sf", "Case", "Description");
    second.mappings.insert(0, back);
    model.links.insert(0, second);
    let plan = Plan::from_model(&model);
    assert_eq!(plan.ownership, ownership_by_map(&plan.links));
    assert_eq!(plan.ownership.len(), 2);
    let links: Vec<&str> = plan.ownership[0]
        .replicas
        .iter()
        .map(|r| r.link.as_str())
        .collect();
    assert_eq!(links, ["another", "case_incident"]);
}

#[test]
fn every_way_of_building_a_plan_gives_the_same_plan() {
    for (name, model) in clean_models() {
        let plan = Plan::from_model(&model);
        let unhashed = Plan::from_model_unhashed(&model);
        assert_eq!(unhashed.spec_hash, "", "{name}");
        assert_eq!(unhashed.content_hash(), plan.spec_hash, "{name}");
        assert_eq!(
            Plan {
                spec_hash: plan.spec_hash.clone(),
                ..unhashed
            },
            plan,
            "{name}"
        );
    }
}

#[test]
fn the_fast_pretty_json_is_serde_jsons_byte_for_byte() {
    for (name, model) in clean_models() {
        let plan = Plan::from_model(&model);
        let mut fast = Vec::new();
        plan.write_pretty(&mut fast).unwrap();
        let expected = serde_json::to_string_pretty(&plan).unwrap();
        assert!(String::from_utf8(fast).unwrap() == expected, "{name}");
    }
}

#[test]
fn the_buffered_hash_is_the_sha256_of_the_whole_compact_json() {
    use sha2::{Digest, Sha256};
    for (name, model) in clean_models() {
        let plan = Plan::from_model_unhashed(&model);
        let json = serde_json::to_vec(&plan).unwrap();
        let expected: String = Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            plan.content_hash(),
            expected,
            "{name} ({} bytes)",
            json.len()
        );
    }
}

#[test]
fn the_plan_cut_in_pieces_on_threads_is_serde_jsons_byte_for_byte() {
    use sha2::{Digest, Sha256};
    for (name, model) in clean_models() {
        let plan = Plan::from_model(&model);
        let expected = serde_json::to_string_pretty(&plan).unwrap();
        let unhashed = Plan::from_model_unhashed(&model);
        let compact = serde_json::to_vec(&unhashed).unwrap();
        let hash: String = Sha256::digest(&compact)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(plan.spec_hash, hash, "{name}");
        for split in super::json::tests::SPLITS {
            let (pretty, hashed, content_hash) = super::json::tests::outputs(&plan, split);
            assert!(pretty == expected, "{name} {split:?}: pretty");
            assert!(hashed == expected, "{name} {split:?}: hashed and patched");
            assert_eq!(content_hash, hash, "{name} {split:?}");
            // The hash does not depend on what `spec_hash` holds.
            let (_, _, of_unhashed) = super::json::tests::outputs(&unhashed, split);
            assert_eq!(of_unhashed, hash, "{name} {split:?}");
        }
    }
}

#[test]
fn a_skeleton_written_with_its_parts_from_the_model_is_the_whole_plans_json() {
    for (name, model) in clean_models() {
        let plan = Plan::from_model(&model);
        let expected = serde_json::to_string_pretty(&plan).unwrap();
        let mut lean = Plan::skeleton(&model);
        assert!(lean.ownership.is_empty(), "{name}");
        assert!(
            lean.links
                .iter()
                .all(|l| l.left_to_right.is_empty() && l.right_to_left.is_empty()),
            "{name}"
        );
        let view = OwnershipView::of(&model);
        let entries = view.entries();
        assert_eq!(entries.len(), plan.ownership.len(), "{name}");
        // The order computed apart gives the same view.
        let ordered = OwnershipView::in_order(&model, &super::OwnershipOrder::of(&model));
        assert_eq!(
            serde_json::to_string(&ordered.entries()).unwrap(),
            serde_json::to_string(&entries).unwrap(),
            "{name}"
        );
        // Each entry serialises as the plan's entry does, alone.
        for (entry, owned) in entries.iter().zip(&plan.ownership) {
            assert_eq!(
                serde_json::to_string(entry).unwrap(),
                serde_json::to_string(owned).unwrap(),
                "{name}"
            );
        }
        let links = std::mem::take(&mut lean.links);
        let link_entries = LinkEntry::all(&links, &model);
        assert_eq!(link_entries.len(), plan.links.len(), "{name}");
        for (entry, link) in link_entries.iter().zip(&plan.links) {
            assert_eq!(
                serde_json::to_string_pretty(entry).unwrap(),
                serde_json::to_string_pretty(link).unwrap(),
                "{name}"
            );
        }
        let parts = ModelParts {
            ownership: &entries,
            links: &link_entries,
        };
        assert_eq!(lean.content_hash_with(parts), plan.spec_hash, "{name}");
        for split in super::json::tests::SPLITS {
            let (pretty, hashed, content_hash) =
                super::json::tests::outputs_with(&lean, Some(parts), split);
            assert_eq!(content_hash, plan.spec_hash, "{name} {split:?}");
            assert!(hashed == expected, "{name} {split:?}: hashed and patched");
            // Unhashed, the pretty form shows an empty hash; with it, the whole plan.
            assert!(pretty != expected || plan.spec_hash.is_empty(), "{name}");
        }
        lean.spec_hash = plan.spec_hash.clone();
        let mut pretty = Vec::new();
        lean.write_pretty_with(parts, &mut pretty).unwrap();
        assert!(pretty == expected.as_bytes(), "{name}: write_pretty_with");
        let mut hashed = Vec::new();
        let h = lean.write_pretty_hashing_with(parts, &mut hashed).unwrap();
        assert_eq!(h.spec_hash, plan.spec_hash, "{name}");
    }
}

#[test]
fn check_and_plan_checks_as_check_model_does_and_plans_only_clean_specs() {
    let mut texts = every_spec();
    // Large enough for the threaded path (the plan beside the checks), with an error only the
    // checks find (two mappings write one field): the plan built beside them is dropped.
    let synthetic = crate::synthetic::spec(2_500);
    let last = synthetic.rfind(" -> ").unwrap();
    let start = synthetic[..last].rfind('\n').unwrap() + 1;
    let end = start + synthetic[start..].find('\n').unwrap() + 1;
    let line = synthetic[start..end].to_string();
    let doubled = format!("{}{line}{}", &synthetic[..end], &synthetic[end..]);
    assert!(doubled.len() > 64 * 1024);
    texts.push(("synthetic, a field written twice".into(), doubled));
    // And one resolving already refuses (no plan is started).
    texts.push((
        "synthetic, an unknown field".into(),
        synthetic.replacen(" -> ", "_unknown -> ", 1),
    ));
    let (mut clean, mut with_errors) = (0, 0);
    for (name, text) in texts {
        let expected = crate::check_model(&text);
        let (checked, plan) = crate::check_and_plan(&text);
        assert_eq!(checked.diagnostics, expected.diagnostics, "{name}");
        assert!(checked.file.is_none(), "{name}");
        assert_eq!(checked.model.is_some(), expected.model.is_some(), "{name}");
        // `seam compile`'s way: the same diagnostics, a skeleton and the ownership order
        // exactly when `check_and_plan` gives a plan, and the AST handed back.
        let (parts_checked, parts) = crate::check_and_plan_parts(&text);
        assert_eq!(parts_checked.diagnostics, expected.diagnostics, "{name}");
        assert_eq!(
            parts_checked.file.is_some(),
            expected.model.is_some(),
            "{name}"
        );
        assert_eq!(parts.is_some(), plan.is_some(), "{name}");
        if let (Some((skeleton, order)), Some(model)) = (&parts, &parts_checked.model) {
            assert_eq!(*skeleton, Plan::skeleton(model), "{name}");
            assert_eq!(
                serde_json::to_string(&OwnershipView::in_order(model, order).entries()).unwrap(),
                serde_json::to_string(&OwnershipView::of(model).entries()).unwrap(),
                "{name}"
            );
        }
        if checked.has_errors() {
            with_errors += 1;
            assert!(plan.is_none(), "{name}: a plan from a spec with errors");
        } else {
            clean += 1;
            let model = checked.model.as_ref().unwrap();
            assert_eq!(plan, Some(Plan::from_model_unhashed(model)), "{name}");
        }
    }
    assert!(
        clean > 10 && with_errors > 10,
        "{clean} clean, {with_errors} with errors"
    );
}
