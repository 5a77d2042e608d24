//! Custom masks (`type: component`): parsing, locations, the plan, and the
//! hook `veil check` validates components through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

use veil_policy::{check_components, component_masks, Catalog, Condition, Directory, Engine, Literal, Mask, PolicySet};

const CATALOG: &str = "
sources:
  - name: accounts
    columns:
      - {name: id, type: integer}
      - {name: iban, type: text, tags: [Finance.IBAN]}
      - {name: opened, type: date, tags: [Finance.IBAN]}
";

fn rule(mask: &str) -> String {
    format!("name: ibans\ntype: data\nrules:\n  - type: mask\n    columns: {{tags: [Finance.IBAN]}}\n    mask: {mask}\n    exceptFor: {{groups: [Payments]}}\n")
}

#[test]
fn a_component_mask_is_read_with_its_path_relative_to_the_policy_file() {
    let text = rule(
        "{type: component, component: ../masks/iban.wasm, function: mask-iban, params: {keep-last: 4, fill: '*'}}",
    );
    let set = PolicySet::from_yaml_str(&text, "project/policies/bank.yaml").unwrap();
    let uses = component_masks(set.policies());
    assert_eq!(uses.len(), 1);
    let used = uses[0];
    assert_eq!(used.component, Path::new("project/policies/../masks/iban.wasm"));
    assert_eq!(used.function, "mask-iban");
    assert_eq!(used.prefix, "iban");
    // Parameters keep the order written (the SQL call passes them in it).
    assert_eq!(
        used.params,
        [("keep-last".to_owned(), Literal::Integer(4)), ("fill".to_owned(), Literal::Text("*".into()))]
    );
    assert_eq!((used.location.line, used.location.column), (6, 18));
}

#[test]
fn parameters_are_kept_in_the_order_written() {
    let text = rule("{type: component, component: m.wasm, function: f, params: {zeta: 1, alpha: true, mid: 0.5}}");
    let set = PolicySet::from_yaml_str(&text, "p.yaml").unwrap();
    let names: Vec<&str> = component_masks(set.policies())[0].params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
}

#[test]
fn malformed_component_masks_point_at_the_mask() {
    let cases = [
        ("{type: component, function: f}", "mask `component` needs `component`"),
        ("{type: component, component: m.wasm}", "mask `component` needs `function`"),
        ("{type: component, component: '', function: f}", "`component` names no file"),
        (
            "{type: component, component: m.wasm, function: f, pattern: x}",
            "mask `component` has no parameter `pattern`",
        ),
        ("{type: hash, component: m.wasm}", "mask `hash` has no parameter `component`"),
        ("{type: component, component: m.wasm, function: f, params: [1, 2]}", "mapping"),
        ("{type: component, component: m.wasm, function: f, params: {a: 1, a: 2}}", "duplicate mapping key"),
    ];
    for (mask, expected) in cases {
        let e = PolicySet::from_yaml_str(&rule(mask), "p.yaml").expect_err(mask);
        let at = e.location().unwrap_or_else(|| panic!("no location: {e}"));
        assert_eq!(at.line, 6, "{mask}: {e}");
        assert!(e.to_string().contains(expected), "{mask}: {e}");
    }
}

#[test]
fn two_files_with_one_prefix_are_refused_across_policy_files() {
    let mut set =
        PolicySet::from_yaml_str(&rule("{type: component, component: a/iban.wasm, function: f}"), "p.yaml").unwrap();
    let other = rule("{type: component, component: b/iban.wasm, function: f}").replace("name: ibans", "name: more");
    let e = set.add_yaml_str(&other, "q.yaml").expect_err("same prefix, other file");
    assert!(e.to_string().starts_with("q.yaml:6:"), "{e}");
    assert!(e.to_string().contains("as `iban_*`"), "{e}");
    // The same file twice is one component.
    let mut set =
        PolicySet::from_yaml_str(&rule("{type: component, component: a/iban.wasm, function: f}"), "p.yaml").unwrap();
    let same = rule("{type: component, component: ./a/iban.wasm, function: g}").replace("name: ibans", "name: again");
    set.add_yaml_str(&same, "p.yaml").unwrap();
    assert_eq!(component_masks(set.policies()).len(), 2);
}

#[test]
fn the_plan_carries_the_mask_with_exceptions_and_text_output() {
    let text = rule("{type: component, component: iban.wasm, function: redact-iban}");
    let set = PolicySet::from_yaml_str(&text, "p.yaml").unwrap();
    let catalog = Catalog::from_yaml_str(CATALOG, "c.yaml").unwrap();
    let engine = Engine::new(set, Directory::default(), catalog).unwrap();
    let plan = engine.plan("accounts").unwrap();
    for name in ["iban", "opened"] {
        let column = plan.columns.iter().find(|c| c.name == name).unwrap();
        // The exception first (shown as is), then the mask for everyone else.
        assert_eq!(column.chain.len(), 1, "{name}");
        let case = &column.chain[0];
        assert!(matches!(&case.mask, Mask::Component { function, .. } if function == "redact-iban"));
        assert_eq!(case.output_type, veil_policy::ColumnType::Text);
        assert_eq!(case.when, Condition::not(Condition::InGroup { group: "Payments".into() }));
        assert_eq!(case.mask.kind(), "component");
    }
}

#[test]
fn check_components_reports_each_refusal_at_its_mask() {
    let mut text = rule("{type: component, component: iban.wasm, function: redact-iban}");
    text.push_str("---\n");
    text.push_str(&rule("{type: component, component: iban.wasm, function: nope}").replace("name: ibans", "name: two"));
    let set = PolicySet::from_yaml_str(&text, "p.yaml").unwrap();
    let mut seen = Vec::new();
    let e = check_components(set.policies(), |used| {
        seen.push(used.function.to_owned());
        if used.function == "nope" {
            Err(("the component has no export `nope`".into(), "name an export".into()))
        } else {
            Ok(())
        }
    })
    .expect_err("one refused");
    assert_eq!(seen, ["redact-iban", "nope"]);
    let at = e.location().unwrap();
    assert_eq!((at.line, at.column), (14, 18), "{e}");
    assert!(e.to_string().contains("no export `nope`") && e.to_string().contains("help: name an export"), "{e}");
}
