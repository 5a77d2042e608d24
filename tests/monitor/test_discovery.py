"""`veil monitor` runs discovery on new columns before they leave the `New` lockdown:
a new column of e-mail addresses is tagged Discovered.Entity.EmailAddress and masked by
the shop's existing e-mail rule with no human step; a column whose entity no mask rule
reaches, or in which nothing is found, stays NULL for everyone."""
import json

from e2e_conftest import engine_args, expected_hash, veil
from test_monitor import READERS, column_values, ddl, everything, monitor, shop  # noqa: F401 (fixture)

SUPPORT = "alice"  # the e-mail rule excepts support


def readable(seen, view="customers"):
    return {r: rows for r, views in seen.items() if isinstance(rows := views.get(view), list)}


def test_a_new_email_column_is_tagged_and_masked_by_the_existing_policy(shop):
    ddl(shop["db"], "CREATE OR REPLACE TABLE main.customers AS "
                    "SELECT *, email AS contact, ssn AS tax_id, 'n/a' AS note FROM main.customers")
    out = monitor(shop)
    assert "tagged   main.customers.contact by discovery: EmailAddress" in out, out
    assert "tags Discovered.Entity.EmailAddress, Discovered.Category.PII" in out, out
    assert "locked   main.customers.contact" not in out, out
    # An SSN: found, but no mask rule reaches its tags, so it is not opened.
    assert "held     main.customers.tax_id: discovery found UsSsn" in out, out
    assert "locked   main.customers.tax_id" in out and "locked   main.customers.note" in out, out

    seen = readable(everything(shop["db"]))
    assert SUPPORT in seen and len(seen) >= 2, seen.keys()
    for reader, rows in seen.items():
        for r in rows:
            assert r["tax_id"] is None and r["note"] is None, (reader, r)
            # The new column is shown exactly as the e-mail column beside it: raw for
            # support, the keyed hash of the source for everyone else.
            assert r["contact"] == r["email"], (reader, r)
            if reader != SUPPORT and r["contact"] is not None:
                raw = next(x["contact"] for x in seen[SUPPORT] if x["customer_id"] == r["customer_id"])
                assert r["contact"] == expected_hash(raw, "source:main.customers"), (reader, r)
    assert any("@" in r["contact"] for r in seen[SUPPORT])

    # The tags stay: a quiet run changes nothing, and a later rebind of the table keeps
    # the mask though no declared catalog holds the discovered tag.
    assert "no changes" in monitor(shop)
    ddl(shop["db"], "CREATE OR REPLACE TABLE main.customers AS SELECT *, 1 AS extra FROM main.customers")
    out = monitor(shop)
    assert "rebound" in out and "main.customers" in out, out
    again = readable(everything(shop["db"]))
    for reader, rows in again.items():
        assert all(r["contact"] == r["email"] and r["extra"] is None for r in rows), reader
    quiet = json.loads(monitor(shop, "--format", "json"))
    assert quiet["discovery"]["tagged"] == [] and quiet["changes"]["changes"] == [], quiet


def test_without_discovery_or_a_policy_the_column_stays_locked(shop, tmp_path):
    ddl(shop["db"], "CREATE OR REPLACE TABLE main.customers AS SELECT *, email AS contact FROM main.customers")
    out = monitor(shop, "--no-discover")
    assert "locked   main.customers.contact" in out and "by discovery" not in out, out
    assert all(v is None for v in column_values(everything(shop["db"]), "customers", "contact"))

    # Policies that mask no discovered tag: found, held, still NULL for everyone.
    policies = tmp_path / "policies"
    policies.mkdir()
    for f in (shop["project"] / "policies").iterdir():
        (policies / f.name).write_text(f.read_text().replace(", Discovered.Entity.EmailAddress", ""))
    out = monitor_with(shop, policies)
    assert "held     main.customers.contact: discovery found EmailAddress, but no mask rule reaches" in out, out
    assert all(v is None for v in column_values(everything(shop["db"]), "customers", "contact"))


def monitor_with(shop, policies):
    p = shop["project"]
    return veil("monitor", "--policies", policies, "--users", p / "users.yaml", "--dbt-target", shop["target"],
                *engine_args(shop["db"])).stdout


def test_tag_files_stay_in_force_when_monitor_binds_again(shop, tmp_path):
    """Tags given with --tags (a reviewed `veil discover` file) are declared tags: a
    source monitor binds again keeps their masks."""
    from e2e_conftest import engine_args, veil
    tags = tmp_path / "tags.yaml"
    # A rule of the shop reaches this tag (the e-mail hash); here it lands on first_name.
    tags.write_text("sources:\n  - name: main.customers\n    columns:\n"
                    "      - {name: first_name, tags: [Discovered.Entity.EmailAddress]}\n")
    p = shop["project"]
    project = ["--policies", p / "policies", "--users", p / "users.yaml", "--dbt-target", shop["target"],
               "--tags", tags]
    veil("apply", *project, *engine_args(shop["db"]))

    def hashed(seen):
        rows = readable(seen)
        others = [r for reader, rs in rows.items() if reader != SUPPORT for r in rs]
        return others and all(r["first_name"] is None or len(r["first_name"]) == 64 for r in others)

    assert hashed(everything(shop["db"]))
    ddl(shop["db"], "CREATE OR REPLACE TABLE main.customers AS SELECT *, 2 AS extra FROM main.customers")
    out = veil("monitor", *project, *engine_args(shop["db"])).stdout
    assert "rebound" in out and "main.customers" in out, out
    assert hashed(everything(shop["db"]))
