//! Policy YAML: parse, then plan and bind for DuckDB and PostgreSQL against a
//! fixed catalog and users. Errors are fine; a panic is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_policy::{Catalog, Directory, Engine, PolicySet};

const CATALOG: &str = "sources:
  - name: main.customers
    schema: main
    tags: [Customer, PII]
    columns:
      - {name: email, type: text, tags: [PII.Email]}
      - {name: amount, type: 'decimal(10,2)', tags: [Financial]}
      - {name: born, type: date, tags: [PII.BirthDate]}
      - {name: country, type: text}
";

const USERS: &str = "groups:
  - {name: Legal, attributes: {Department: Legal}}
users:
  - {name: alice, groups: [Legal], attributes: {Country: US, Access: Strictly Confidential}}
  - {name: bob, attributes: {Country: [FR, US]}}
";

fuzz_target!(|text: &str| {
    let Ok(policies) = PolicySet::from_yaml_str(text, "fuzz.yaml") else { return };
    let (Ok(users), Ok(catalog)) =
        (Directory::from_yaml_str(USERS, "users.yaml"), Catalog::from_yaml_str(CATALOG, "catalog.yaml"))
    else {
        return;
    };
    let Ok(engine) = Engine::new(policies, users, catalog) else { return };
    let options = veil_host::BindOptions::default();
    let _ = veil_host::bind(&engine, &veil_host::targets::DuckDb::default(), &options);
    let _ = veil_host::targets::postgres::bind(&engine, &options);
    for user in ["alice", "bob"] {
        if let Ok(subject) = engine.directory().subject(user, None) {
            let _ = engine.explain(&subject, "main.customers");
        }
    }
});
