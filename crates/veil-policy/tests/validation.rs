//! Validation: every error points at file:line:column with a help line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use veil_policy::{Catalog, ColumnType, Directory, Engine, Error, Mask, PolicySet};

fn policy_error(text: &str) -> Error {
    PolicySet::from_yaml_str(text, "p.yaml").expect_err("should not load")
}

/// The error of an engine over these policies (p.yaml) and catalog (c.yaml).
fn engine_error(policies: &str, catalog: &str) -> Error {
    let policies = PolicySet::from_yaml_str(policies, "p.yaml").unwrap();
    let catalog = Catalog::from_yaml_str(catalog, "c.yaml").unwrap();
    Engine::new(policies, Directory::default(), catalog).expect_err("should not build")
}

fn at(e: &Error) -> (usize, usize) {
    let l = e.location().unwrap_or_else(|| panic!("no location: {e}"));
    assert_eq!(l.file.to_str(), Some("p.yaml"));
    (l.line, l.column)
}

#[test]
fn malformed_yaml_points_at_the_problem() {
    let e = policy_error("name: a\ntype: data\nrules: [\n  - x: : y\n");
    assert!(matches!(e, Error::Yaml { .. }), "{e}");
    assert_eq!(at(&e).0, 4);
}

#[test]
fn unknown_field_points_at_the_field() {
    let e = policy_error("name: a\ntype: subscription\nactoins: {type: anyone}\n");
    assert_eq!(at(&e), (3, 1));
    assert!(e.to_string().contains("unknown field `actoins`"), "{e}");
    assert!(e.to_string().contains("help: "), "{e}");
}

#[test]
fn unknown_policy_type_points_at_the_type() {
    let e = policy_error("name: a\ntype: masking\nrules: []\n");
    assert_eq!(at(&e), (2, 7));
    assert!(e.to_string().contains("unknown policy type `masking`"), "{e}");
}

#[test]
fn unknown_dsl_function_points_at_the_character_in_the_file() {
    // Column of the `@` of `@isInGroup` inside the double-quoted scalar:
    // `  advanced: "` is 13 characters, the expression's `@isInGroup` is at offset 21.
    let text =
        "name: a\ntype: subscription\nactions:\n  type: grant\n  advanced: \"@isInGroups('A') and @isInGroup('B')\"\n";
    let e = policy_error(text);
    assert_eq!(at(&e), (5, 13 + 1 + 21));
    assert!(e.to_string().contains("unknown function `@isInGroup`"), "{e}");
    assert!(e.to_string().contains("known functions: @isInGroups"), "{e}");
}

#[test]
fn dsl_column_accounts_for_doubled_single_quotes() {
    // In a single-quoted YAML scalar `''` is one quote: the error after it
    // must still point at the right raw column.
    let text =
        "name: a\ntype: subscription\nactions:\n  type: grant\n  advanced: '@isInGroups(''A'') or @nope(''x'')'\n";
    let e = policy_error(text);
    let line = text.lines().nth(4).unwrap();
    let raw_column = line.find("@nope").unwrap() + 1;
    assert_eq!(at(&e), (5, raw_column));
}

#[test]
fn regex_that_does_not_compile_points_at_the_pattern() {
    let text = "name: a\ntype: data\nrules:\n  - type: mask\n    columns: {names: [x]}\n    mask: {type: regex, pattern: 'a(b', replacement: X}\n";
    let e = policy_error(text);
    assert_eq!(at(&e).0, 6);
    assert!(e.to_string().contains("regex `a(b` does not compile"), "{e}");
}

#[test]
fn where_clause_errors_point_inside_the_clause() {
    let text = "name: a\ntype: data\nrules:\n  - type: where\n    sql: \"x = 1; drop table t\"\n";
    let e = policy_error(text);
    // `    sql: "` is 10 characters; `;` is at offset 5 of the clause.
    assert_eq!(at(&e), (5, 10 + 1 + 5));
    assert!(e.to_string().contains("unexpected `;`"), "{e}");

    let text = "name: a\ntype: data\nrules:\n  - type: where\n    sql: \"id in (select id from secrets)\"\n";
    assert!(policy_error(text).to_string().contains("not allowed"));
}

#[test]
fn mask_parameters_are_checked_per_kind() {
    let e = policy_error(
        "name: a\ntype: data\nrules:\n  - type: mask\n    columns: {names: [x]}\n    mask: {type: hash, width: 3}\n",
    );
    assert_eq!(at(&e), (6, 18));
    assert!(e.to_string().contains("mask `hash` has no parameter `width`"), "{e}");
    let e = policy_error(
        "name: a\ntype: data\nrules:\n  - type: mask\n    columns: {names: [x]}\n    mask: {type: reveal}\n",
    );
    assert!(e.to_string().contains("exactly one of `first` and `last`"), "{e}");
    let e = policy_error(
        "name: a\ntype: data\nrules:\n  - type: mask\n    columns: {names: [x]}\n    mask: {type: blur}\n",
    );
    assert!(e.to_string().contains("unknown mask type `blur`"), "{e}");
}

#[test]
fn everyone_who_needs_otherwise() {
    let e = policy_error("name: a\ntype: data\nrules:\n  - type: mask\n    columns: {names: [x]}\n    everyoneWho:\n      - when: {groups: [A]}\n        mask: {type: hash}\n");
    assert_eq!(at(&e), (4, 11));
    assert!(e.to_string().contains("needs an `otherwise` mask"), "{e}");
}

#[test]
fn several_errors_are_reported_together_and_keys_are_unique() {
    let text = "name: a\ntype: nope\n---\nname: b\ntype: subscription\nactions: {type: anyone}\n---\nname: b\ntype: subscription\nactions: {type: anyone}\n";
    let e = policy_error(text);
    let Error::Many(errors) = &e else { panic!("{e}") };
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].location().unwrap().line, 2);
    assert_eq!(errors[1].location().unwrap().line, 8);
    assert!(errors[1].to_string().contains("already used at p.yaml:4:7"), "{e}");
}

#[test]
fn masks_that_do_not_fit_their_column_fail_with_the_mask_location() {
    let e = engine_error(
        "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: m\ntype: data\nrules:\n  - type: mask\n    columns: {tags: [Money]}\n    mask: {type: regex, pattern: '\\d', replacement: X}\n  - type: mask\n    columns: {names: [code]}\n    mask: {type: constant, value: redacted}\n",
        "sources:\n  - name: t\n    columns:\n      - {name: amount, type: integer, tags: [Money.Amount]}\n      - {name: code, type: integer}\n",
    );
    let Error::Many(errors) = &e else { panic!("{e}") };
    assert_eq!(at(&errors[0]), (10, 18));
    assert!(errors[0].to_string().contains("`t.amount`"), "{e}");
    assert!(errors[0].to_string().contains("mask `regex` needs a text column, not `integer`"), "{e}");
    assert_eq!(at(&errors[1]), (13, 18));
    assert!(errors[1].to_string().contains("constant `redacted` does not fit a `integer` column"), "{e}");
}

#[test]
fn masks_that_would_show_every_value_unchanged_are_refused() {
    let e = engine_error(
        "name: m\ntype: data\nrules:\n  - type: mask\n    columns: {names: [born]}\n    mask: {type: trunc, unit: day}\n  - type: mask\n    columns: {names: [age]}\n    mask: {type: round, width: 1}\n  - type: mask\n    columns: {names: [price]}\n    mask: {type: round, places: 2}\n  - type: mask\n    columns: {names: [price]}\n    mask: {type: round, width: 0.1}\n",
        "sources:\n  - name: t\n    columns:\n      - {name: born, type: date}\n      - {name: age, type: integer}\n      - {name: price, type: \"decimal(10,2)\"}\n",
    );
    let Error::Many(errors) = &e else { panic!("{e}") };
    assert_eq!(errors.len(), 3, "{e}");
    assert_eq!(at(&errors[0]), (6, 18));
    assert!(errors[0].to_string().contains("a date is whole days already"), "{e}");
    assert!(errors[1].to_string().contains("to a multiple of 1 would show every value unchanged"), "{e}");
    assert!(errors[2].to_string().contains("to 2 decimal place(s) would show every value unchanged"), "{e}");
    // A tenth is coarser than a decimal(10,2)'s hundredth: allowed.
    assert!(!e.to_string().contains("multiple of 0.1"), "{e}");
}

#[test]
fn time_window_needs_a_temporal_column() {
    let policies = PolicySet::from_yaml_str(
        "name: w\ntype: data\nrules:\n  - type: timeWindow\n    column: id\n    within: 7d\n",
        "p.yaml",
    )
    .unwrap();
    let catalog =
        Catalog::from_yaml_str("sources:\n  - {name: t, columns: [{name: id, type: integer}]}\n", "c.yaml").unwrap();
    let e = Engine::new(policies, Directory::default(), catalog).expect_err("not temporal");
    assert_eq!(at(&e), (4, 11));
    let e =
        policy_error("name: w\ntype: data\nrules:\n  - type: timeWindow\n    column: t\n    within: 7 fortnights\n");
    assert!(e.to_string().contains("is not a time window"), "{e}");
}

#[test]
fn mask_type_rules() {
    let hash = Mask::Hash { scope: Default::default(), per_reader: false };
    assert_eq!(hash.output_type(&ColumnType::Integer), Ok(ColumnType::Text));
    assert!(Mask::Email.output_type(&ColumnType::Integer).is_err());
    let money = ColumnType::parse("decimal(5,2)");
    let round = Mask::Round { rounding: veil_policy::Rounding::Places(1) };
    assert_eq!(round.output_type(&money), Ok(money.clone()));
    let too_big = Mask::Constant { value: veil_policy::Literal::Integer(12345) };
    assert!(too_big.output_type(&money).is_err());
    let fits = Mask::Constant { value: veil_policy::Literal::Integer(999) };
    assert!(fits.output_type(&money).is_ok());
    let date = Mask::Constant { value: veil_policy::Literal::Text("2024-02-30x".into()) };
    assert!(date.output_type(&ColumnType::Date).is_err());
    let date = Mask::Constant { value: veil_policy::Literal::Text("1970-01-01".into()) };
    assert!(date.output_type(&ColumnType::Date).is_ok());
    let hour = Mask::Trunc { unit: veil_policy::TimeUnit::Hour };
    assert!(hour.output_type(&ColumnType::Date).is_err());
    assert!(hour.output_type(&ColumnType::Timestamp).is_ok());
}

#[test]
fn users_and_catalog_errors_carry_locations() {
    let e = Directory::from_yaml_str("users:\n  - {name: a}\n  - {name: a}\n", "u.yaml").unwrap_err();
    let l = e.location().unwrap();
    assert_eq!((l.file.to_str(), l.line, l.column), (Some("u.yaml"), 3, 12));
    let e = Catalog::from_yaml_str("sources:\n  - {name: t, colums: []}\n", "c.yaml").unwrap_err();
    let l = e.location().unwrap();
    assert_eq!((l.file.to_str(), l.line), (Some("c.yaml"), 2));
    assert!(e.to_string().contains("unknown field `colums`"), "{e}");
}

#[test]
fn project_membership_is_enforced() {
    let dir = Directory::from_yaml_str(
        "projects: [{name: p, purposes: [Research]}]\nusers:\n  - {name: in, projects: [p]}\n  - {name: out}\n",
        "u.yaml",
    )
    .unwrap();
    assert!(dir.subject("in", Some("p")).unwrap().purposes.contains("Research"));
    assert!(matches!(dir.subject("out", Some("p")), Err(Error::Project { .. })));
    assert!(matches!(dir.subject("in", Some("q")), Err(Error::Project { .. })));
    assert!(matches!(dir.subject("ghost", None), Err(Error::UnknownUser(_))));
}

#[test]
fn policy_tags_reach_descendants_only() {
    let policies = PolicySet::from_yaml_str(
        "name: fin\ntype: subscription\nactions: {type: anyone}\ncircumstances: [{type: columnTags, columnTag: Financial}]\n",
        "p.yaml",
    )
    .unwrap();
    let catalog = Catalog::from_yaml_str(
        "sources:\n  - {name: card, columns: [{name: n, type: text, tags: [Financial.Card]}]}\n  - {name: finx, columns: [{name: n, type: text, tags: [FinancialX]}]}\n  - {name: parent, columns: [{name: n, type: text, tags: [Fin]}]}\n",
        "c.yaml",
    )
    .unwrap();
    let users = Directory::from_yaml_str("users: [{name: u}]\n", "u.yaml").unwrap();
    let engine = Engine::new(policies, users, catalog).unwrap();
    let u = engine.directory().subject("u", None).unwrap();
    assert!(engine.decide(&u, "card").unwrap().allowed);
    assert!(!engine.decide(&u, "finx").unwrap().allowed);
    assert!(!engine.decide(&u, "parent").unwrap().allowed);
    assert!(matches!(engine.decide(&u, "nope"), Err(Error::UnknownSource(_))));
}

#[test]
fn plans_serialize_to_json() {
    let policies = PolicySet::from_yaml_str(
        "name: open\ntype: subscription\nactions: {type: grant, entitlements: {groups: [G]}}\n---\nname: m\ntype: data\nrules:\n  - type: mask\n    columns: {names: [e]}\n    mask: {type: hash, scope: project}\n    exceptFor: {groups: [G]}\n",
        "p.yaml",
    )
    .unwrap();
    let catalog =
        Catalog::from_yaml_str("sources:\n  - {name: t, columns: [{name: e, type: text}]}\n", "c.yaml").unwrap();
    let users = Directory::from_yaml_str("users: [{name: u, groups: [G]}]\n", "u.yaml").unwrap();
    let engine = Engine::new(policies, users, catalog).unwrap();
    let plan = engine.plan("t").unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["access"]["condition"], serde_json::json!({"kind": "in_group", "group": "G"}));
    assert_eq!(
        json["columns"][0]["chain"][0]["mask"],
        serde_json::json!({"type": "hash", "scope": "project", "per_reader": false})
    );
    assert_eq!(
        json["columns"][0]["chain"][0]["when"],
        serde_json::json!({"kind": "not", "of": {"kind": "in_group", "group": "G"}})
    );
    assert_eq!(json["columns"][0]["output_type"], serde_json::json!({"type": "text"}));
}
