"""Sensitive data discovery on the example shop: `veil discover` samples every source
inside DuckDB and finds the e-mail, phone, SSN, card and birth-date columns by their
values and names; a policy written only against the discovered tags (given with
--tags, no dbt tag used) masks them end to end."""
import shutil

import yaml

from conftest import EXTENSION, as_reader, connect, engine_args, veil

POLICIES = """
name: Everyone reads
type: subscription
actions: {type: anyone}
circumstances: [{type: allDataSources}]
---
name: Discovered personal data is hidden
type: data
rules:
  - type: mask
    columns: {tags: [Discovered.Category.PII, Discovered.Category.PCI]}
    mask: {type: null}
"""


def test_discover_finds_and_a_policy_on_its_tags_masks(built, tmp_path):
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    tags = tmp_path / "discovered.yaml"
    run = veil("discover", "--dbt-target", built / "target", "--duckdb", database, "--extension", EXTENSION, "-o", tags)
    assert "main.customers.email: EmailAddress" in run.stdout, run.stdout
    found = {(s["name"], c["name"]): c["tags"] for s in yaml.safe_load(tags.read_text())["sources"] for c in s["columns"]}
    expected = {"email": "EmailAddress", "phone": "PhoneNumber", "ssn": "UsSsn", "credit_card": "CardNumber",
                "birth_date": "DateOfBirth"}
    for column, entity in expected.items():
        assert f"Discovered.Entity.{entity}" in found[("main.customers", column)], (column, found.get(("main.customers", column)))
    for column in ("country", "state", "customer_id"):
        assert ("main.customers", column) not in found, column

    (tmp_path / "policies.yaml").write_text(POLICIES)
    args = ["--policies", tmp_path / "policies.yaml", "--users", built / "users.yaml", "--dbt-target", built / "target"]
    veil("apply", *args, "--tags", tags, *engine_args(database))
    con = connect(database)
    row = as_reader(con, "dave", "SELECT * FROM secure.customers ORDER BY customer_id LIMIT 1")[0]
    for column in expected:
        assert row[column] is None, (column, row[column])
    assert row["country"] is not None and row["first_name"] is None  # a person's name is PII too
    con.close()

    # The same policies without the tag file mask nothing: the discovered tags did it.
    veil("apply", *args, *engine_args(database))
    con = connect(database)
    row = as_reader(con, "dave", "SELECT email FROM secure.customers ORDER BY customer_id LIMIT 1")[0]
    assert row["email"] is not None and "@" in row["email"]
    con.close()
