"""Sensitive data discovery on the example shop: `veil discover` samples every source
inside DuckDB and finds the e-mail, phone, SSN, card and birth-date columns by their
values and names; a policy written only against the discovered tags (given with
--tags, no dbt tag used) masks them end to end."""
import json
import os
import shutil
import subprocess

import duckdb
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


def luhn_complete(digits):
    """`digits` followed by its Luhn check digit."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return digits + str((10 - total % 10) % 10)


def test_user_defined_entities_beside_the_built_in_ones(built, tmp_path):
    database = tmp_path / "badges.duckdb"
    good = [f"B-{luhn_complete(f'{i:06d}')}" for i in range(100, 140)]
    bad = [b[:-1] + str((int(b[-1]) + 1) % 10) for b in good]  # same shape, Luhn fails
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE main.staff AS SELECT * FROM (VALUES " +
                ", ".join(f"('{g}', '{b}', 'x{i}@example.com')" for i, (g, b) in enumerate(zip(good, bad))) +
                ") t(badge, lookalike, mail)")
    con.close()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("sources:\n  - name: main.staff\n    schema: main\n    columns:\n"
                       "      - {name: badge, type: varchar}\n      - {name: lookalike, type: varchar}\n"
                       "      - {name: mail, type: varchar}\n")
    entities = tmp_path / "entities.yaml"
    entities.write_text("entities:\n  - name: Staff.Badge\n    values: 'B-\\d{7}'\n    validator: luhn\n")
    framework = tmp_path / "framework.yaml"
    framework.write_text("levels: [Low, High]\nentities:\n  Staff.Badge: {categories: [HR], sensitivity: High}\n"
                         "  EmailAddress: {categories: [PII], sensitivity: Low}\n")
    args = ["--catalog", catalog, "--duckdb", database, "--extension", EXTENSION, "--sample", 25]
    out = veil("discover", *args, "--entities", entities, "--framework", framework, "-o", tmp_path / "t.yaml").stdout
    assert "at most 25 row(s)" in out, out
    found = {c["name"]: c["tags"] for s in yaml.safe_load((tmp_path / "t.yaml").read_text())["sources"]
             for c in s["columns"]}
    assert found["badge"] == ["Discovered.Entity.Staff.Badge", "Discovered.Category.HR", "Discovered.Sensitivity.High"]
    assert "lookalike" not in found, found
    assert found["mail"][0] == "Discovered.Entity.EmailAddress"
    # Without the file the badge is nothing veil knows.
    assert "badge" not in veil("discover", *args).stdout

    # Mistakes are errors at the value, before anything is sampled.
    for text, where, what in [
        ("entities:\n  - name: X\n    values: '(B-'\n", "3:13", "does not compile"),
        ("entities:\n  - name: X\n    values: 'B'\n    validator: crc32\n", "4:16", "unknown validator `crc32`"),
        ("entities:\n  - name: EmailAddress\n    values: 'B'\n", "2:11", "built-in"),
    ]:
        entities.write_text(text)
        run = veil("discover", *args, "--entities", entities, check=False)
        assert run.returncode == 1 and f"{entities}:{where}" in run.stderr and what in run.stderr, run.stderr


def test_write_dbt_proposes_a_patch_dbt_accepts(built, tmp_path):
    project = tmp_path / "shop"
    shutil.copytree(built, project, ignore=shutil.ignore_patterns("logs"))
    before = {p: p.read_bytes() for p in project.rglob("*.yml")}
    patch = tmp_path / "discovered.patch"
    args = ["--dbt-target", project / "target", "--duckdb", project / "target" / "shop.duckdb",
            "--extension", EXTENSION]
    out = veil("discover", *args, "--write-dbt", patch).stdout
    assert "git apply" in out, out
    assert {p: p.read_bytes() for p in project.rglob("*.yml")} == before, "veil never edits the project"
    text = patch.read_text()
    assert "+++ b/models/marts/schema.yml" in text and "+++ b/seeds/_veil_discovered.yml" in text, text
    # A patch is never written over YAML (a properties file, say).
    refused = veil("discover", *args, "--write-dbt", project / "models" / "marts" / "schema.yml", check=False)
    assert refused.returncode == 2 and "not YAML" in refused.stderr, refused.stderr
    assert {p: p.read_bytes() for p in project.rglob("*.yml")} == before

    subprocess.run(["git", "apply", str(patch)], cwd=project, check=True)
    env = dict(os.environ, SHOP_DUCKDB=str(project / "target" / "shop.duckdb"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    subprocess.run(["dbt", "parse", "--profiles-dir", ".", "--quiet"], cwd=project, env=env, check=True)
    nodes = json.loads((project / "target" / "manifest.json").read_text())["nodes"]
    customers = nodes["model.shop.customers"]["columns"]
    assert {"PII.Email", "Discovered.Entity.EmailAddress"} <= set(customers["email"]["tags"])
    assert "Discovered.Entity.PersonName" in customers["first_name"]["tags"]
    assert "Discovered.Entity.UsSsn" in nodes["seed.shop.raw_customers"]["columns"]["ssn"]["tags"]
    assert "Discovered.Entity.CardNumber" in nodes["model.shop.stg_payments"]["columns"]["card_number"]["tags"]
    # Once applied, nothing is left to propose.
    out = veil("discover", *args, "--write-dbt", tmp_path / "again.patch").stdout
    assert "tags for 0 column(s) in 0 dbt file(s)" in out, out
