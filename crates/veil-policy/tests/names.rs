//! Names are exact and mistakes are loud: relation identity from a catalog,
//! column names matched as engines match them, tags matched exactly with near
//! misses reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use veil_policy::{Catalog, Directory, Engine, Mask, PolicySet, RowPredicate};

const OPEN: &str = "name: open\ntype: subscription\nactions: {type: anyone}\n";

fn engine(policies: &str, users: &str, catalog: &str) -> Engine {
    Engine::new(
        PolicySet::from_yaml_str(policies, "p.yaml").unwrap(),
        Directory::from_yaml_str(users, "u.yaml").unwrap(),
        Catalog::from_yaml_str(catalog, "c.yaml").unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn warnings(e: &Engine) -> Vec<String> {
    e.warnings().iter().map(|w| format!("{}: {}", w.location, w.message)).collect()
}

#[test]
fn a_catalog_name_is_never_split_at_the_relation_s_own_dots() {
    let c = Catalog::from_yaml_str(
        "sources:\n  - {name: raw.events.v2, schema: raw}\n  - {name: raw.v2, schema: raw}\n  - {name: a.b.c, database: a, schema: b}\n  - {name: plain}\n  - {name: x, schema: s, identifier: \"x.y\"}\n",
        "c.yaml",
    )
    .unwrap();
    let id = |n: &str| c.source(n).unwrap().identifier.clone();
    assert_eq!(id("raw.events.v2"), "events.v2");
    assert_eq!(id("raw.v2"), "v2");
    assert_eq!(id("a.b.c"), "c");
    assert_eq!(id("plain"), "plain");
    assert_eq!(id("x"), "x.y");
}

#[test]
fn a_catalog_name_whose_relation_is_unclear_is_refused_where_it_is_written() {
    let e = Catalog::from_yaml_str("sources:\n  - {name: other.t, schema: raw}\n", "c.yaml").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("c.yaml:2:"), "{text}");
    assert!(text.contains("identifier"), "{text}");
}

#[test]
fn column_names_in_rules_match_ignoring_case() {
    let policies = format!(
        "{OPEN}---\nname: m\ntype: data\nrules:\n  - {{type: mask, columns: {{names: [email, phone]}}, mask: {{type: hash}}}}\n"
    );
    let e = engine(
        &policies,
        "users: [{name: u}]\n",
        "sources:\n  - name: main.c\n    schema: main\n    columns:\n      - {name: id, type: integer}\n      - {name: Email, type: varchar}\n      - {name: PHONE, type: varchar}\n",
    );
    let plan = e.plan("main.c").unwrap();
    let masked: Vec<&str> = plan.columns.iter().filter(|c| !c.chain.is_empty()).map(|c| c.name.as_str()).collect();
    assert_eq!(masked, ["Email", "PHONE"]);
    assert!(warnings(&e).is_empty(), "{:?}", warnings(&e));
}

#[test]
fn row_rule_columns_become_the_source_s_own_names() {
    let policies = format!(
        "{OPEN}---\nname: r\ntype: data\nrules:\n  - {{type: matchAttribute, attribute: Country, column: country}}\n  - {{type: sample, percent: 50, key: [ORDER_ID]}}\n"
    );
    let e = engine(
        &policies,
        "users: [{name: u, attributes: {Country: [FR]}}]\n",
        "sources:\n  - {name: s.o, schema: s, columns: [{name: Country, type: text}, {name: order_id, type: integer}]}\n",
    );
    let plan = e.plan("s.o").unwrap();
    match &plan.row_filters[0].keep {
        RowPredicate::MatchAttribute { column, .. } => assert_eq!(column, "Country"),
        other => panic!("{other:?}"),
    }
    match &plan.row_filters[1].keep {
        RowPredicate::Sample { key, .. } => assert_eq!(key, &["order_id"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_row_rule_column_that_could_be_two_columns_is_an_error() {
    let policies =
        format!("{OPEN}---\nname: r\ntype: data\nrules:\n  - {{type: matchAttribute, attribute: K, column: region}}\n");
    let err = Engine::new(
        PolicySet::from_yaml_str(&policies, "p.yaml").unwrap(),
        Directory::from_yaml_str("users: [{name: u, attributes: {K: [x]}}]\n", "u.yaml").unwrap(),
        Catalog::from_yaml_str(
            "sources:\n  - {name: s.o, schema: s, columns: [{name: Region, type: text}, {name: REGION, type: text}]}\n",
            "c.yaml",
        )
        .unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`Region`") && err.contains("`REGION`"), "{err}");
}

#[test]
fn a_tag_that_differs_by_case_matches_nothing_and_is_reported_with_the_near_miss() {
    let policies = format!(
        "{OPEN}---\nname: Hash e-mails\npolicyKey: hash-emails\ntype: data\nrules:\n  - type: mask\n    columns: {{tags: [pii.email]}}\n    mask: {{type: hash}}\n"
    );
    let e = engine(
        &policies,
        "users: [{name: u}]\n",
        "sources:\n  - {name: m.c, schema: m, columns: [{name: email, type: varchar, tags: [PII.Email]}]}\n",
    );
    // Exact: the rule reaches nothing (tags are facts)...
    assert!(e.plan("m.c").unwrap().columns[0].chain.is_empty());
    // ...and it says so, where the rule is written, with the near match.
    let w = warnings(&e);
    assert!(
        w.iter().any(|w| w.starts_with("p.yaml:9:")
            && w.contains("`pii.email`")
            && w.contains("did you mean `PII.Email`?")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("hash-emails") && w.contains("reaches no column")), "{w:?}");
}

#[test]
fn typos_in_every_kind_of_name_are_reported() {
    let policies = "name: g\ntype: subscription\nactions: {type: grant, entitlements: {groups: [Analsts], attributes: [{name: Contry, value: US}]}}\ncircumstances: [{type: tags, tag: Costumer}]\n---\nname: u\ntype: subscription\nactions: {type: users, users: [alcie]}\ncircumstances: [{type: dataSource, name: m.cutsomers}]\n---\nname: d\ntype: data\nrules:\n  - {type: mask, columns: {names: [emial]}, mask: {type: null}, exceptFor: {purposes: [Fraud Detecton]}}\n  - {type: matchAttribute, attribute: Regoin, column: region}\n";
    let e = engine(
        policies,
        "users:\n  - {name: alice, groups: [Analysts], attributes: {Country: [US], Region: [EU]}, projects: [p]}\nprojects:\n  - {name: p, purposes: [Fraud Detection]}\n",
        "sources:\n  - {name: m.customers, schema: m, tags: [Customer], columns: [{name: email, type: text}, {name: region, type: text}]}\n",
    );
    let w = warnings(&e).join("\n");
    for (wrong, right) in [
        ("Analsts", "Analysts"),
        ("Contry", "Country"),
        ("Costumer", "Customer"),
        ("alcie", "alice"),
        ("m.cutsomers", "m.customers"),
        ("emial", "email"),
        ("Fraud Detecton", "Fraud Detection"),
        ("Regoin", "Region"),
    ] {
        assert!(
            w.lines().any(|l| l.contains(&format!("`{wrong}`")) && l.contains(&format!("did you mean `{right}`?"))),
            "no warning for `{wrong}`:\n{w}"
        );
    }
}

#[test]
fn a_tag_family_covered_in_part_is_reported() {
    let policies = format!(
        "{OPEN}---\nname: pii\ntype: data\nrules:\n  - {{type: mask, columns: {{tags: [PII.Email]}}, mask: {{type: hash}}}}\n"
    );
    let e = engine(
        &policies,
        "users: [{name: u}]\n",
        "sources:\n  - {name: m.c, schema: m, columns: [{name: email, type: text, tags: [PII.Email]}, {name: phone, type: text, tags: [PII.Phone]}, {name: note, type: text, tags: [Other]}]}\n",
    );
    let w = warnings(&e);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("`PII.Phone`") && w[0].contains("m.c.phone") && w[0].contains("`PII.Email`"), "{w:?}");
}

#[test]
fn a_clean_project_has_no_warnings() {
    let policies = format!(
        "{OPEN}---\nname: pii\ntype: data\nrules:\n  - {{type: mask, columns: {{tags: [PII]}}, mask: {{type: hash}}, exceptFor: {{groups: [Support]}}}}\n"
    );
    let e = engine(
        &policies,
        "users: [{name: u, groups: [Support]}]\n",
        "sources:\n  - {name: m.c, schema: m, columns: [{name: email, type: text, tags: [PII.Email]}, {name: phone, type: text, tags: [PII.Phone]}]}\n",
    );
    assert!(warnings(&e).is_empty(), "{:?}", warnings(&e));
    assert!(e.plan("m.c").unwrap().columns.iter().all(|c| matches!(c.chain[0].mask, Mask::Hash { .. })));
}

#[test]
fn a_near_miss_on_the_data_side_is_reported() {
    let policies = "name: open\ntype: subscription\nactions: {type: anyone}\ncircumstances: [{type: tags, tag: Open}]\n---\nname: g\ntype: subscription\nactions: {type: guardrail, entitlements: {groups: [Boss]}}\ncircumstances: [{type: tags, tag: Vault}]\n---\nname: s\ntype: data\nrules:\n  - {type: mask, columns: {tags: [PII.Secret]}, mask: {type: null}}\n";
    let e = engine(
        policies,
        "users: [{name: kim}, {name: b, groups: [Boss]}]\n",
        "sources:\n  - {name: m.t, schema: m, tags: [Open, vault], columns: [{name: a, type: text, tags: [pii.secret]}, {name: b, type: text, tags: [\"\\u0420II.Secret\"]}, {name: c, type: text, tags: [PII.Secret]}]}\n",
    );
    let w = warnings(&e).join("\n");
    assert!(w.contains("column `m.t.a` is tagged `pii.secret`") && w.contains("`PII.Secret`"), "{w}");
    assert!(w.contains("is tagged `\u{420}II.Secret`"), "{w}");
    assert!(w.contains("data source `m.t` is tagged `vault`") && w.contains("`Vault`"), "{w}");
}

#[test]
fn a_database_circumstance_naming_nothing_is_reported() {
    let policies = format!("{OPEN}---\nname: d\ntype: data\ncircumstances: [{{type: database, database: shop, schema: CRM}}, {{type: database, database: shpo}}]\nrules:\n  - {{type: mask, columns: {{names: [x]}}, mask: {{type: null}}}}\n");
    let e = engine(
        &policies,
        "users: [{name: u}]\n",
        "sources:\n  - {name: crm.b, database: shop, schema: crm, columns: [{name: x, type: text}]}\n",
    );
    let w = warnings(&e).join("\n");
    assert!(w.contains("schema `CRM` of database `shop`") && w.contains("did you mean `crm`?"), "{w}");
    assert!(w.contains("database `shpo`") && w.contains("did you mean `shop`?"), "{w}");
}

#[test]
fn a_tagged_column_outside_the_rule_s_circumstances_is_reported() {
    let policies = "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: e\ntype: data\ncircumstances: [{type: tags, tag: Customer}]\nrules:\n  - {type: mask, columns: {tags: [PII.Email]}, mask: {type: null}}\n";
    let e = engine(
        policies,
        "users: [{name: u}]\n",
        "sources:\n  - {name: m.c, schema: m, tags: [Customer], columns: [{name: email, type: text, tags: [PII.Email]}]}\n  - {name: m.o, schema: m, tags: [Order], columns: [{name: buyer_email, type: text, tags: [PII.Email]}]}\n",
    );
    let w = warnings(&e).join("\n");
    assert!(w.contains("`PII.Email` (m.o.buyer_email)"), "{w}");
    assert!(!w.contains("m.c.email"), "{w}");
}

#[test]
fn tags_discovery_can_give_are_known_before_any_column_has_them() {
    let policies = format!(
        "{OPEN}---\nname: m\ntype: data\nrules:\n  - {{type: mask, columns: {{tags: [PII.Email, Discovered.Entity.EmailAddress, Discovered.Category.PII]}}, mask: {{type: hash}}}}\n"
    );
    let catalog = "sources:\n  - {name: c, columns: [{name: email, type: text, tags: [PII.Email]}]}\n";
    let e = engine(&policies, "users: [{name: u}]\n", catalog);
    assert!(warnings(&e).is_empty(), "{:?}", warnings(&e));
    // A misspelt discovered tag is still a mistake, with the right name offered.
    let typo = policies.replace("Discovered.Entity.EmailAddress", "Discovered.Entity.EmailAdress");
    let w = warnings(&engine(&typo, "users: [{name: u}]\n", catalog));
    assert!(
        w.iter()
            .any(|w| w.contains("`Discovered.Entity.EmailAdress`") && w.contains("`Discovered.Entity.EmailAddress`")),
        "{w:?}"
    );
}
