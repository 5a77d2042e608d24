"""`veil verify` folds each reader's checks into few queries: it must find exactly what
probing one check at a time finds (VEIL_VERIFY_ONE_BY_ONE=1, the way it ran before),
including a view that fails inside a folded query, and pin each problem on its reader,
source and column."""
import json
import os
import shutil
import subprocess

import duckdb

from conftest import engine_args, project_args, veil, veil_binary


def verify_json(built, database, **env):
    result = subprocess.run(
        [str(veil_binary()), "verify", *map(str, project_args(built)), *map(str, engine_args(database)),
         "--format", "json"],
        capture_output=True, text=True, env=dict(os.environ, VEIL_PROGRESS="lines", **env))
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def problems(report):
    return sorted((p["reader"], p["source"], p["column"] or "", p["message"]) for p in report["problems"])


def test_folded_probes_find_what_single_probes_find(built, tmp_path):
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *project_args(built), *engine_args(database))
    code, clean, log = verify_json(built, database)
    assert code == 0 and clean["problems"] == [] and clean["checks"] > 0
    # Progress in a log: whole lines, no carriage returns.
    assert "\r" not in log and "verify: " in log

    c = duckdb.connect(str(database))
    # Unmasked for everyone allowed; open to everyone denied.
    c.execute("CREATE OR REPLACE VIEW secure.customers AS SELECT * FROM main.customers")
    # Fails for every reader, so the folded query it is in fails too.
    c.execute("CREATE OR REPLACE VIEW secure.orders AS SELECT * FROM main.orders WHERE error('boom') IS NULL")
    c.close()

    code, folded, _ = verify_json(built, database)
    single_code, single, _ = verify_json(built, database, VEIL_VERIFY_ONE_BY_ONE="1")
    assert code == single_code == 1
    assert (folded["probes"], folded["checks"]) == (single["probes"], single["checks"])
    assert problems(folded) == problems(single)

    found = problems(folded)
    sources = {p[1] for p in found}
    assert sources == {"main.customers", "main.orders"}, "checks of other views in the same folded query pass"
    assert any(p[1] == "main.customers" and p[2] == "email" and "unmasked" in p[3] for p in found)
    assert any(p[1] == "main.customers" and "instead of refusing" in p[3] for p in found)
    boom = [p for p in found if p[1] == "main.orders"]
    assert boom and all("boom" in p[3] for p in boom), boom
