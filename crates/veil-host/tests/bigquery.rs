//! BigQuery bindings of the example shop: golden SQL, refusals naming policy and
//! column, hostile names and values escaped, no key material. tests/warehouses
//! parses the SQL (sqlglot, BigQuery dialect) and runs the JS UDFs in node.
#![allow(clippy::unwrap_used)]

mod common;

use common::{hostile, one_mask, options, root, shop};
use veil_host::targets::bigquery::{self, BigQuery};
use veil_host::targets::warehouse::Udfs;
use veil_host::targets::Target;
use veil_host::{BindOptions, Error, Mode};

const LIBRARY: &str = "gs://veil-udfs/slim";

fn udfs() -> Udfs {
    Udfs::placeholders()
}

#[test]
fn bigquery_golden() {
    let sql = bigquery::bind(&shop(&root().join("examples/shop/policies")), &options(), &udfs(), Some(LIBRARY))
        .unwrap()
        .to_sql();
    let keyring = std::fs::read_to_string(root().join("examples/shop/keyring.txt")).unwrap();
    for line in keyring.lines().filter_map(|l| l.split_once('=')) {
        assert!(!sql.contains(line.1.trim()), "key material in SQL");
    }
    insta::assert_snapshot!("bigquery", sql);
}

#[test]
fn bigquery_refuses_one_reader_views_and_odd_libraries() {
    let engine = shop(&root().join("examples/shop/policies"));
    let reader = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(bigquery::bind(&engine, &reader, &udfs(), Some(LIBRARY)).is_err());
    for bad in ["/local/dir", "gs://b/x'], y", "gs://b/../c", "https://x/y"] {
        assert!(matches!(bigquery::bind(&engine, &options(), &udfs(), Some(bad)), Err(Error::Invalid(_))), "{bad}");
    }
}

#[test]
fn bigquery_refusals_name_policy_and_column() {
    let catalog = "sources:\n  - name: s.t\n    database: p\n    schema: s\n    columns:\n      - {name: f, type: float, tags: [F]}\n      - {name: e, type: text, tags: [E]}\n";
    for (tag, mask, why) in
        [("F", "{type: round, width: 10}", "floating-point"), ("E", "{type: hash, scope: project}", "project-scoped")]
    {
        let e = one_mask(catalog, tag, mask);
        let err =
            bigquery::bind(&e, &BindOptions { key_id: "k1".into(), ..BindOptions::default() }, &udfs(), Some(LIBRARY))
                .unwrap_err()
                .to_string();
        let column = if tag == "F" { "`s.t.f`" } else { "`s.t.e`" };
        assert!(err.contains("policy `pk`") && err.contains(column) && err.contains(why), "{err}");
    }
}

#[test]
fn bigquery_escapes_hostile_names_and_values() {
    let t = BigQuery::new("k1");
    assert_eq!(t.quote_ident("a`b\\"), "`a\\`b\\\\`");
    assert_eq!(t.literal("it's \\\n"), r"'it\'s \\\n'");
    let e = hostile();
    let options = BindOptions { key_id: "k1".into(), ..BindOptions::default() };
    let sql = bigquery::bind(&e, &options, &udfs(), Some(LIBRARY)).unwrap().to_sql();
    assert!(sql.contains(r"FROM `p`.`s\`x`.`t'y`"), "{sql}");
    assert!(sql.contains(r"CAST('a\'b\\c`\n' AS STRING)"), "{sql}");
    assert!(sql.contains(r"TO 'user:o\'brien\\';"), "{sql}");
    // tests/warehouses parses this snapshot with sqlglot too.
    insta::assert_snapshot!("bigquery_hostile", sql);
}

#[test]
fn bigquery_row_access_policies() {
    use veil_host::targets::bigquery::row_access_policies;
    let engine = shop(&root().join("examples/shop/policies"));
    // The orders' sample calls a JS UDF, which a row access policy cannot.
    let err = row_access_policies(&engine, &options(), &[]).unwrap_err().to_string();
    assert!(err.contains("sample") && err.contains("main.orders"), "{err}");
    let options = BindOptions { sources: vec!["main.customers".into(), "main.employees".into()], ..options() };
    for bad in ["alice", "user:", "role:x"] {
        assert!(matches!(row_access_policies(&engine, &options, &[bad.into()]), Err(Error::Invalid(_))), "{bad}");
    }
    let with =
        row_access_policies(&engine, &options, &["serviceAccount:dbt@p.iam.gserviceaccount.com".into()]).unwrap();
    let without = row_access_policies(&engine, &options, &[]).unwrap();
    assert!(without
        .iter()
        .any(|s| s == "DROP ROW ACCESS POLICY IF EXISTS `veil_unfiltered` ON `shop`.`main`.`customers`;"));
    // Exactly the entitled readers; dave (a contractor) reads neither table.
    let employees = with.iter().find(|s| s.contains("`veil_readers` ON `shop`.`main`.`employees`")).unwrap();
    let entitled = veil_host::targets::warehouse::entitled(&engine, "main.employees").unwrap();
    let list: Vec<String> = entitled.iter().map(|r| format!("'user:{r}'")).collect();
    assert!(employees.contains(&format!("GRANT TO ({})", list.join(", "))), "{employees}");
    assert!(with.iter().all(|s| !s.contains("user:dave")));
    // A row filter becomes the readers' policy filter, over the facts with SESSION_USER().
    let hostile_engine = hostile();
    let filtered =
        row_access_policies(&hostile_engine, &BindOptions { key_id: "k1".into(), ..BindOptions::default() }, &[]);
    let filtered = filtered.unwrap().join("\n\n");
    assert!(filtered.contains("FILTER USING (EXISTS (SELECT 1 FROM `p`.`veil`.`user_attributes` a WHERE a.user_name = SESSION_USER() AND a.key = 'k\\''"), "{filtered}");
    assert!(filtered.contains("GRANT TO ('user:o\\'brien\\\\')"), "{filtered}");
    insta::assert_snapshot!("bigquery_row_access_policies", format!("{}\n\n{filtered}", with.join("\n\n")));
}

#[test]
fn bigquery_hash_is_inline_and_the_library_only_needed_for_the_rest() {
    let engine = shop(&root().join("examples/shop/policies"));
    // The shop uses FF1, tokens and a sample: without a library, a clear refusal.
    let err = bigquery::bind(&engine, &options(), &udfs(), None).unwrap_err().to_string();
    assert!(err.contains("--udf-library"), "{err}");
    // A keyed hash alone needs no library: its UDF carries the bundle inline.
    let policies = "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: m\ntype: data\nrules:\n  - {type: mask, columns: {tags: [E]}, mask: {type: hash}}\n";
    let catalog = "sources:\n  - name: s.t\n    database: p\n    schema: s\n    columns:\n      - {name: e, type: text, tags: [E]}\n";
    let e = common::engine(policies, "users: [{name: u}]\n", catalog);
    let sql = bigquery::bind(&e, &BindOptions { key_id: "k1".into(), ..BindOptions::default() }, &udfs(), None)
        .unwrap()
        .to_sql();
    let udf = sql.split(";\n\n").find(|s| s.contains("FUNCTION `p`.`veil`.`veil_hash`")).unwrap();
    assert!(!udf.contains("library") && udf.contains("/* dist/js/slim/veil-hash-core.inline.js */"), "{udf}");
    assert!(udf.ends_with("return veilHash(v, k, s, r);\n\"\"\""), "{udf}");
    // A bundle that would not fit is refused, not truncated.
    let big = Udfs { hash_core: "x".repeat(bigquery::INLINE_LIMIT), ..udfs() };
    let options = BindOptions { key_id: "k1".into(), ..BindOptions::default() };
    assert!(matches!(bigquery::bind(&e, &options, &big, None), Err(Error::Invalid(_))));
}
