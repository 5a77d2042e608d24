"""veil speaks dbt: run inside the dbt project with no path flags (veil.yml and the
dbt profile say where everything is), dbt selectors, veil test, apply --dry-run,
exit codes, keygen and completions."""
import os
import shutil
import stat
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, veil_binary


def run(*args, cwd, env=None, check=True):
    """veil with no path flags, in `cwd`; the environment without VEIL_* settings
    (the project's veil.yml must be enough)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_") and k != "SHOP_DUCKDB"}
    clean.update(env or {})
    result = subprocess.run([str(veil_binary()), *map(str, args)], cwd=cwd, capture_output=True, text=True, env=clean)
    if check and result.returncode != 0:
        raise AssertionError(f"veil {' '.join(map(str, args))} in {cwd} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def project(built, tmp_path_factory):
    """A copy of the built shop project (veil.yml, tests/, dbt target, DuckDB file)."""
    copy = tmp_path_factory.mktemp("configured") / "shop"
    shutil.copytree(built, copy)
    return copy


def test_no_path_flags_from_the_project_and_below(project):
    plan = run("plan", cwd=project).stdout
    assert "main.customers" in plan and "alice, bob, carol, erin, hana" in plan
    # From a folder below the project, veil finds veil.yml above it.
    assert run("plan", cwd=project / "models" / "marts").stdout == plan
    flags = run(
        "plan", "--policies", project / "policies", "--users", project / "users.yaml", "--dbt-target",
        project / "target", cwd=ROOT,
    ).stdout
    assert flags == plan


def test_paths_in_errors_are_the_users(project, tmp_path):
    broken = tmp_path / "shop"
    shutil.copytree(project, broken, ignore=shutil.ignore_patterns("*.duckdb*"))
    (broken / "policies" / "zz.yaml").write_text("name: bad\ntype: data\nrules:\n  - type: mask\n    mask: {type: nope}\n")
    below = run("check", cwd=broken / "models", check=False)
    assert below.returncode == 1
    assert "../policies/zz.yaml:" in below.stderr, below.stderr
    here = run("check", cwd=broken, check=False)
    assert "policies/zz.yaml:" in here.stderr and "../policies" not in here.stderr


def test_flags_override_the_config(project, tmp_path):
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - {name: zed, groups: [Employees], attributes: {Access: Strictly Confidential}}\n")
    plan = run("plan", "--users", users, "--format", "json", cwd=project).stdout
    assert '"zed"' in plan and '"alice"' not in plan


def test_without_a_config_veil_says_what_to_give(tmp_path):
    result = run("plan", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "no policies: give --policies PATH" in result.stderr and "veil.yml" in result.stderr


def test_the_duckdb_file_comes_from_the_dbt_profile(project):
    # profiles.yml: env_var('SHOP_DUCKDB', 'target/shop.duckdb'), relative to the project.
    result = run("apply", "--dry-run", "--format", "json", cwd=project)
    assert '"statements"' in result.stdout
    missing = run("apply", "--dry-run", cwd=project, env={"SHOP_DUCKDB": str(project / "nope.duckdb")}, check=False)
    assert missing.returncode == 1 and "nope.duckdb` does not exist" in missing.stderr
    unknown = run("apply", "--dry-run", "--target", "prod", cwd=project, check=False)
    assert unknown.returncode == 1
    assert "no output `prod` (it has: dev)" in unknown.stderr


def test_dry_run_then_apply_then_a_policy_change(project, tmp_path):
    work = tmp_path / "shop"
    shutil.copytree(project, work)
    first = run("apply", "--dry-run", "--exit-code", cwd=work, check=False)
    assert first.returncode == 5, first.stderr
    assert "+ alice may read main.customers" in first.stdout
    assert "+ dave may read main.customers" not in first.stdout
    assert "CREATE OR REPLACE VIEW" in first.stdout
    before = (work / "target" / "shop.duckdb").read_bytes()
    assert run("apply", "--dry-run", cwd=work).returncode == 0
    assert (work / "target" / "shop.duckdb").read_bytes() == before, "a dry run changes nothing"
    run("apply", cwd=work)
    same = run("apply", "--dry-run", "--exit-code", cwd=work)
    assert "no reader gains or loses a source" in same.stdout
    assert "(0 secure views to create or replace" in same.stdout
    # A view replaced by hand: access as recorded, but the apply would write it again.
    con = duckdb.connect(str(work / "target" / "shop.duckdb"))
    con.execute("CREATE OR REPLACE VIEW secure.customers AS SELECT * FROM main.customers")
    con.close()
    tampered = run("apply", "--dry-run", "--exit-code", cwd=work, check=False)
    assert tampered.returncode == 5, tampered.stderr
    assert "no reader gains or loses a source" in tampered.stdout
    assert "(1 secure views to create or replace" in tampered.stdout
    assert 'CREATE OR REPLACE VIEW "secure"."customers"' in tampered.stdout
    run("apply", cwd=work)
    # Support loses its exception; legal gains one.
    masking = work / "policies" / "masking.yaml"
    masking.write_text(masking.read_text().replace("exceptFor: {groups: [Support]}", "exceptFor: {groups: [Legal Team]}"))
    changed = run("apply", "--dry-run", "--exit-code", cwd=work, check=False)
    assert changed.returncode == 5
    assert "~ alice sees main.customers.email: shown -> hashed" in changed.stdout
    assert "~ carol sees main.customers.email: hashed (keyed, per-source key) [protect-customers] -> shown" in changed.stdout
    # The expected access now fails, naming the test and the decision path.
    failed = run("test", cwd=work, check=False)
    assert failed.returncode == 1
    assert "FAIL tests/access.yaml:8:13" in failed.stdout
    assert "column `email`: expected shown, got hashed" in failed.stdout
    assert "decision path (veil explain --user alice --source main.customers)" in failed.stdout


def test_veil_test_against_plan_and_engine(project, tmp_path):
    work = tmp_path / "shop"
    shutil.copytree(project, work)
    plan = run("test", cwd=work)
    assert "plan: 20 passed, 0 failed, of 20 expectations" in plan.stdout
    assert "coverage: 8/8 policies, 11/11 data rules" in plan.stdout
    run("apply", cwd=work)
    engine = run("test", "--engine", "duckdb", cwd=work)
    assert "0 problem(s)" in engine.stdout
    # Views applied from other policies: the plan still passes, the engine does not.
    masking = work / "policies" / "masking.yaml"
    original = masking.read_text()
    masking.write_text(original.replace("exceptFor: {groups: [Support]}", "exceptFor: {groups: [Legal Team]}"))
    run("apply", cwd=work)
    masking.write_text(original)
    stale = run("test", "--engine", "duckdb", cwd=work, check=False)
    assert stale.returncode == 1
    assert "plan: 20 passed" in stale.stdout
    assert "expected email: shown, but 6 value(s) are not the base table's" in stale.stdout


def test_selectors(project, tmp_path):
    work = tmp_path / "shop"
    shutil.copytree(project, work)
    plan = run("plan", "--select", "tag:Customer", "--format", "json", cwd=work).stdout
    assert '"main.customers"' in plan and '"main.orders"' not in plan
    marts = run("plan", "--select", "path:models/marts", "--exclude", "tag:HR", cwd=work).stdout
    assert "main.payments" in marts and "main.employees" not in marts and "stg_" not in marts
    parents = run("plan", "--select", "+customers", cwd=work).stdout
    assert "main_staging.stg_customers" in parents and "main_raw.raw_customers" in parents
    applied = run("apply", "--select", "resource_type:model,config.materialized:table", cwd=work)
    assert "4 secure views" in applied.stdout
    run("verify", "--select", "tag:Customer", cwd=work)
    nothing = run("plan", "--select", "tag:NoSuchTag", cwd=work, check=False)
    assert nothing.returncode == 2 and "selects no data source" in nothing.stderr
    both = run("apply", "--select", "tag:Customer", "--source", "main.orders", cwd=work, check=False)
    assert both.returncode == 2


def test_exit_codes_for_denied_readers(project, tmp_path):
    work = tmp_path / "shop"
    shutil.copytree(project, work)
    run("apply", cwd=work)
    denied = run("query", "--as", "dave", "SELECT * FROM secure.customers", cwd=work, check=False)
    assert denied.returncode == 4, denied.stderr
    assert "veil: reader dave may not read main.customers" in denied.stderr
    assert run("explain", "--user", "dave", "--source", "main.customers", cwd=work, check=False).returncode == 4
    assert run("explain", "--user", "alice", "--source", "main.customers", cwd=work).returncode == 0
    engine = run("query", "--as", "alice", "SELECT * FROM no_such_table", cwd=work, check=False)
    assert engine.returncode == 3


def test_python_errors_name_the_flag(project, tmp_path):
    result = run("apply", "--dry-run", "--python", "/nonexistent/python", cwd=project, check=False)
    assert result.returncode == 3 and "--python" in result.stderr
    # A Python without the duckdb package: a fresh virtual environment.
    subprocess.run(["python3", "-m", "venv", "--without-pip", tmp_path / "venv"], check=True)
    bare = tmp_path / "venv" / "bin" / "python"
    no_duckdb = run("apply", "--dry-run", cwd=project, env={"VEIL_PYTHON": str(bare)}, check=False)
    assert no_duckdb.returncode == 3
    assert "has no duckdb package" in no_duckdb.stderr and "--python" in no_duckdb.stderr, no_duckdb.stderr


def test_the_extension_is_found_from_anywhere(project, tmp_path):
    # No --extension, run from a folder far from the repository: found beside the binary's repository.
    result = run("apply", "--dry-run", "--config", project / "veil.yml", cwd=tmp_path)
    assert result.returncode == 0
    missing = run("apply", "--dry-run", "--extension", tmp_path / "nope.duckdb_extension", cwd=project, check=False)
    assert missing.returncode == 1 and "scripts/build-extension" in missing.stderr


def test_keygen(tmp_path):
    ring = tmp_path / "keyring.txt"
    out = run("keygen", "--keyring", ring, "--key-id", "prod-1", cwd=tmp_path).stdout
    assert "added key `prod-1`" in out
    text = ring.read_text()
    key = text.split("prod-1 = ")[1].split()[0]
    assert len(key) == 64 and key not in out
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    run("keygen", "--keyring", ring, "--key-id", "prod-2", cwd=tmp_path)
    again = run("keygen", "--keyring", ring, "--key-id", "prod-1", cwd=tmp_path, check=False)
    assert again.returncode == 2 and "already has key `prod-1`" in again.stderr
    keys = [line.split(" = ")[1] for line in ring.read_text().splitlines() if " = " in line and not line.startswith("#")]
    assert len(keys) == 2 and keys[0] != keys[1]


def test_completions():
    assert "complete -F" in run("completions", "bash", cwd=ROOT).stdout
    assert run("completions", "zsh", cwd=ROOT).stdout.startswith("#compdef veil")
    fish = run("completions", "fish", cwd=ROOT).stdout
    assert "complete -c veil" in fish and "dry-run" in fish


def test_bind_target_is_now_engine(project):
    new = run("bind", "--engine", "duckdb", cwd=project)
    old = run("bind", "--target", "duckdb", cwd=project)
    assert new.stdout == old.stdout
    assert "--target is now --engine" in old.stderr and "--target is now" not in new.stderr
