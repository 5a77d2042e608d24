//! SingleStore bindings of the example shop: golden SQL (with a stand-in module),
//! refusals naming policy and column, hostile names and values escaped, grants to
//! exactly the entitled readers, no key material. tests/warehouses parses the SQL
//! with sqlglot's SingleStore dialect; tests/wasm/singlestore.rs runs the module.
#![allow(clippy::unwrap_used)]

mod common;

use common::{hostile, one_mask, options, root, shop};
use veil_host::targets::singlestore::{self, Modules, SingleStore, ACCOUNT_HOST};
use veil_host::targets::Target;
use veil_host::{BindOptions, Error, Mode, StatementKind};

fn shop_sql() -> String {
    singlestore::bind(&shop(&root().join("examples/shop/policies")), &options(), &Modules::placeholder(), ACCOUNT_HOST)
        .unwrap()
        .to_sql()
}

#[test]
fn singlestore_golden() {
    let sql = shop_sql();
    let keyring = std::fs::read_to_string(root().join("examples/shop/keyring.txt")).unwrap();
    for line in keyring.lines().filter_map(|l| l.split_once('=')) {
        assert!(!sql.contains(line.1.trim()), "key material in SQL");
    }
    insta::assert_snapshot!("singlestore", sql);
}

#[test]
fn singlestore_views_are_replaced_and_granted_to_entitled_readers() {
    let engine = shop(&root().join("examples/shop/policies"));
    let out = singlestore::bind(&engine, &options(), &Modules::placeholder(), ACCOUNT_HOST).unwrap();
    let sql: Vec<&str> = out.statements.iter().map(|s| s.sql.as_str()).collect();
    for (source, view) in &out.views {
        let create = format!("CREATE VIEW `secure`.`{view}` AS");
        let at = sql.iter().position(|s| s.starts_with(&create)).unwrap();
        assert_eq!(sql[at - 1], format!("DROP VIEW IF EXISTS `secure`.`{view}`;"), "{source}");
        // Functions and the refusal exist before any view uses them.
        let deny = sql.iter().position(|s| s.contains("FUNCTION `veil`.`veil_deny`")).unwrap();
        assert!(deny < at);
        let granted: Vec<&str> = out
            .statements
            .iter()
            .filter(|s| s.kind == StatementKind::Access && s.source.as_deref() == Some(source))
            .map(|s| s.sql.as_str())
            .collect();
        let entitled = veil_host::targets::warehouse::entitled(&engine, source).unwrap();
        assert_eq!(granted.len(), entitled.len(), "{source}");
        for reader in &entitled {
            assert!(granted.contains(&format!("GRANT SELECT ON `secure`.`{view}` TO '{reader}'@'%';").as_str()));
        }
    }
    // Only the UDFs the views call are created, each naming its export.
    let udfs: Vec<&str> = sql.iter().filter(|s| s.contains("AS WASM ABI CANONICAL")).copied().collect();
    for (name, export) in [
        ("veil_hash", "veil-hash"),
        ("veil_fpe_encrypt", "veil-fpe-encrypt"),
        ("veil_token_mask", "veil-token-mask"),
        ("veil_in_sample", "veil-in-sample"),
        ("veil_regex_replace", "veil-regex-replace"),
    ] {
        assert!(
            udfs.iter().any(|s| s.contains(&format!("`veil`.`{name}` AS")) && s.ends_with(&format!("'{export}';"))),
            "{name}"
        );
    }
    assert!(!udfs.iter().any(|s| s.contains("veil_email_mask")));
}

#[test]
fn singlestore_refuses_one_reader_views() {
    let engine = shop(&root().join("examples/shop/policies"));
    let reader = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(matches!(
        singlestore::bind(&engine, &reader, &Modules::placeholder(), ACCOUNT_HOST),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn singlestore_refusals_name_policy_and_column() {
    let catalog = "sources:\n  - name: s.t\n    database: p\n    schema: s\n    columns:\n      - {name: f, type: float, tags: [F]}\n      - {name: e, type: text, tags: [E]}\n      - {name: n, type: integer, tags: [N]}\n";
    for (tag, mask, why) in [
        ("F", "{type: round, width: 10}", "floating-point"),
        ("F", "{type: hash}", "not text or integer"),
        ("E", "{type: hash, scope: project}", "project-scoped"),
        ("N", "{type: reversible}", "text columns only"),
    ] {
        let e = one_mask(catalog, tag, mask);
        let err = singlestore::bind(
            &e,
            &BindOptions { key_id: "k1".into(), ..BindOptions::default() },
            &Modules::placeholder(),
            ACCOUNT_HOST,
        )
        .unwrap_err()
        .to_string();
        let column = match tag {
            "F" => "`s.t.f`",
            "E" => "`s.t.e`",
            _ => "`s.t.n`",
        };
        assert!(err.contains("policy `pk`") && err.contains(column) && err.contains(why), "{err}");
    }
}

#[test]
fn singlestore_escapes_hostile_names_and_values() {
    let t = SingleStore::new("k1");
    assert_eq!(t.quote_ident("a`b"), "`a``b`");
    assert_eq!(t.literal("it's \\"), r"'it''s \\'");
    let e = hostile();
    let options = BindOptions { key_id: "k1".into(), ..BindOptions::default() };
    let sql = singlestore::bind(&e, &options, &Modules::placeholder(), ACCOUNT_HOST).unwrap().to_sql();
    assert!(sql.contains("FROM `s``x`.`t'y`"), "{sql}");
    assert!(sql.contains("('a''b\\\\c`\n' :> TEXT)"), "{sql}");
    assert!(sql.contains(r"TO 'o''brien\\'@'%';"), "{sql}");
    // tests/warehouses parses this snapshot with sqlglot too.
    insta::assert_snapshot!("singlestore_hostile", sql);
}

#[test]
fn singlestore_account_host() {
    let engine = shop(&root().join("examples/shop/policies"));
    let sql = singlestore::bind(&engine, &options(), &Modules::placeholder(), "10.0.%").unwrap().to_sql();
    assert!(sql.contains("GRANT SELECT ON `secure`.`employees` TO 'bob'@'10.0.%';"), "{sql:.200}");
    for bad in ["", "x'y", "a b", "h@x"] {
        let err = singlestore::bind(&engine, &options(), &Modules::placeholder(), bad);
        assert!(matches!(err, Err(Error::Invalid(_))), "{bad}");
    }
}
