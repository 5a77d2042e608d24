"""Custom masks end to end: examples/bank's IBANs masked by the example component
(examples/masks/iban, dist/masks/iban.wasm), applied to DuckDB and verified; a
session without veil_wasm (or with a macro in its place) gets an error, never
the value; a component that shows the value is caught by veil verify."""
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import EXTENSION, ROOT, veil

BANK = ROOT / "examples" / "bank"
KEYRING = BANK / "keyring.txt"
WASM_EXTENSION = ROOT / "dist" / "veil_wasm.duckdb_extension"
IBAN = ROOT / "dist" / "masks" / "iban.wasm"
HOSTILE = ROOT / "dist" / "test" / "hostile.wasm"

RAW = "DE89 3704 0044 0532 0130 00"


def project(policies=BANK / "policies"):
    return ["--policies", policies, "--users", BANK / "users.yaml", "--catalog", BANK / "catalog.yaml"]


def engine(database):
    return ["--duckdb", database, "--keyring", KEYRING, "--extension", EXTENSION]


def new_database(folder):
    database = folder / "bank.duckdb"
    con = duckdb.connect(str(database))
    con.execute(
        "CREATE TABLE main.accounts (id INTEGER, holder VARCHAR, iban VARCHAR, payout_iban VARCHAR);"
        f"INSERT INTO main.accounts SELECT * FROM read_csv('{BANK / 'accounts.csv'}', all_varchar = true)"
    )
    con.close()
    return database


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    for artifact in (EXTENSION, WASM_EXTENSION, IBAN, HOSTILE):
        assert artifact.exists(), f"build {artifact.name} first: scripts/build-extension, scripts/build-wasm"
    database = new_database(tmp_path_factory.mktemp("bank"))
    veil("apply", *project(), *engine(database))
    return database


def query_as(database, user, sql):
    result = veil("query", *engine(database), "--as", user, sql, check=False)
    return result.returncode, result.stdout + result.stderr


def test_check_passes_and_other_engines_refuse_naming_policy_and_column():
    assert "no warnings" in veil("check", "--strict", *project()).stdout
    for target in ("postgres", "singlestore"):
        result = veil("bind", *project(), "--target", target, check=False)
        assert result.returncode != 0, target
        for part in ("policy `mask-ibans`", "main.accounts.iban", "redact-iban", "bind this source to DuckDB"):
            assert part in result.stderr, (target, part, result.stderr)


def test_apply_writes_the_components_file_and_verify_passes(bank):
    listed = Path(str(bank) + ".veil-components").read_text()
    assert f"iban = {IBAN.resolve()}" in listed
    result = veil("verify", *project(), *engine(bank))
    assert "0 problem(s)" in result.stdout, result.stdout


def test_each_reader_sees_what_the_policy_says(bank):
    code, pat = query_as(bank, "pat", "SELECT iban FROM secure.accounts WHERE id = 1")
    assert code == 0 and RAW in pat, pat
    code, ann = query_as(bank, "ann", "SELECT iban FROM secure.accounts WHERE id = 1")
    assert code == 0 and "DEXX XXXX XXXX XXXX XX30 00" in ann and RAW not in ann, ann
    code, aud = query_as(bank, "aud", "SELECT iban, payout_iban IS NULL AS n FROM secure.accounts WHERE id = 2")
    assert code == 0 and "GB** **** **** **** **** 32" in aud and "true" in aud, aud
    code, eve = query_as(bank, "eve", "SELECT iban FROM secure.accounts")
    assert code != 0 and "may not read" in eve, eve


def reader_session(database, macros=(), wasm=False, components=None):
    os.environ["VEIL_KEYRING"] = str(KEYRING)
    if components is None:
        os.environ.pop("VEIL_COMPONENTS", None)
    else:
        os.environ["VEIL_COMPONENTS"] = str(components)
    con = duckdb.connect(str(database), read_only=True, config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{EXTENSION}'")
    if wasm:
        con.execute(f"LOAD '{WASM_EXTENSION}'")
    os.environ.pop("VEIL_COMPONENTS", None)
    for macro in macros:
        con.execute(macro)
    con.execute("SET VARIABLE veil_user = 'ann'")
    return con


@pytest.mark.parametrize(
    "macros",
    [
        [],
        ["CREATE TEMP MACRO iban_redact_iban(x) AS x", "CREATE TEMP MACRO iban_mask_iban(x, n, f) AS x"],
        ["CREATE TEMP MACRO iban_redact_iban(x VARCHAR) AS x", "CREATE TEMP MACRO iban_mask_iban(x, n := 1, f := 1) AS x"],
        ["CREATE TEMP MACRO iban_redact_iban(x) AS TABLE SELECT x", "CREATE TEMP MACRO iban_mask_iban(x, n, f) AS TABLE SELECT x"],
    ],
)
def test_a_session_without_veil_wasm_gets_an_error_never_the_value(bank, macros):
    con = reader_session(bank, macros)
    try:
        with pytest.raises(duckdb.Error):
            shown = con.execute("SELECT iban FROM secure.accounts").fetchall()
            assert all(RAW not in str(row) for row in shown), shown
        # Nor can a session put a function of its own in the system catalog.
        with pytest.raises(duckdb.Error):
            con.execute("CREATE MACRO system.main.iban_redact_iban(x) AS x")
    finally:
        con.close()


def test_veil_wasm_without_the_components_file_registers_nothing(bank):
    con = reader_session(bank, wasm=True)
    try:
        with pytest.raises(duckdb.Error, match="iban_redact_iban"):
            con.execute("SELECT iban FROM secure.accounts").fetchall()
    finally:
        con.close()
    # With the file veil apply wrote, any client reads the masked view.
    con = reader_session(bank, wasm=True, components=str(bank) + ".veil-components")
    try:
        assert con.execute("SELECT iban FROM secure.accounts WHERE id = 1").fetchall() == [("DEXX XXXX XXXX XXXX XX30 00",)]
    finally:
        con.close()


def hostile_policy(folder, function):
    policies = folder / "policies"
    policies.mkdir()
    shutil.copy(BANK / "policies" / "subscription.yaml", policies)
    (policies / "iban.yaml").write_text(
        "name: Mask IBANs\npolicyKey: mask-ibans\ntype: data\nrules:\n  - type: mask\n"
        "    columns: {tags: [Finance.IBAN]}\n"
        f"    mask: {{type: component, component: {HOSTILE}, function: {function}}}\n"
        "    exceptFor: {groups: [Payments]}\n"
    )
    return policies


def test_verify_catches_a_component_that_shows_the_value(tmp_path):
    policies = hostile_policy(tmp_path, "echo")
    database = new_database(tmp_path)
    veil("check", *project(policies))
    veil("apply", *project(policies), *engine(database))
    result = veil("verify", *project(policies), *engine(database), check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "value(s) shown unmasked" in result.stdout + result.stderr, result.stdout + result.stderr


def test_a_component_that_loops_fails_the_query(tmp_path):
    policies = hostile_policy(tmp_path, "spin")
    database = new_database(tmp_path)
    veil("apply", *project(policies), *engine(database))
    code, out = query_as(database, "ann", "SELECT iban FROM secure.accounts")
    assert code != 0 and "fuel" in out and RAW not in out, out


def test_check_points_at_the_mask_of_a_function_the_component_lacks(tmp_path):
    policies = hostile_policy(tmp_path, "no-such-mask")
    result = veil("check", *project(policies), check=False)
    assert result.returncode == 1
    assert f"{policies / 'iban.yaml'}:7:" in result.stderr and "no export `no-such-mask`" in result.stderr, result.stderr


def test_a_full_apply_without_custom_masks_removes_the_components_file(tmp_path):
    database = new_database(tmp_path)
    veil("apply", *project(), *engine(database))
    listed = Path(str(database) + ".veil-components")
    assert listed.exists()
    policies = tmp_path / "plain"
    policies.mkdir()
    shutil.copy(BANK / "policies" / "subscription.yaml", policies)
    veil("apply", *project(policies), *engine(database))
    assert not listed.exists()
    code, out = query_as(database, "ann", "SELECT iban FROM secure.accounts WHERE id = 1")
    assert code == 0 and RAW in out, out


def test_the_example_shop_with_a_custom_mask_applies_and_verifies(built, tmp_path):
    """The example custom mask on the example shop: orders.status through mask-iban for
    everyone but Analysts, applied and proven by veil verify."""
    from conftest import engine_args

    policies = tmp_path / "policies"
    shutil.copytree(built / "policies", policies)
    (policies / "status_component.yaml").write_text(
        "name: Order status through the example component\n"
        "policyKey: status-component\n"
        "type: data\n"
        "circumstances: [{type: tags, tag: Sales}]\n"
        "rules:\n"
        "  - type: mask\n"
        "    columns: {names: [status]}\n"
        f"    mask: {{type: component, component: {IBAN.resolve()}, function: mask-iban, params: {{keep-last: 2, fill: '*'}}}}\n"
        "    exceptFor: {groups: [Analysts]}\n"
    )
    args = ["--policies", policies, "--users", built / "users.yaml", "--dbt-target", built / "target"]
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *args, *engine_args(database))
    result = veil("verify", *args, *engine_args(database))
    assert "0 problem(s)" in result.stdout, result.stdout
    raw = {r[0] for r in duckdb.connect(str(database), read_only=True).execute("SELECT DISTINCT status FROM main.orders").fetchall()}
    shown = veil("query", *engine_args(database), "--as", "alice", "SELECT DISTINCT status FROM secure.orders").stdout
    assert "*" in shown and not raw & set(shown.split()), (raw, shown)
