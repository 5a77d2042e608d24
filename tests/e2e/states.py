"""Two policy sets for the shop (A: the example's, B: a changed copy) and what every
reader sees through every secure view, as `veil query --format json` shows it."""
import importlib.util
import json
import os
import shutil
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "crates" / "veil-cli" / "src" / "duckdb_runner.py"

# Readers as (user, project); an unknown reader is refused everywhere.
READERS = [
    ("alice", None), ("bob", None), ("carol", None), ("dave", None),
    ("erin", None), ("erin", "growth_dashboard"), ("hana", None), ("mallory", None),
]

# Policy set B: every mask or entitlement that changes what someone sees.
CHANGES = {
    "masking.yaml": [
        ("mask: {type: hash}", "mask: {type: null}"),
        ("unit: year", "unit: month"),
        ('value: "withheld"', 'value: "hidden"'),
        ("width: 1000", "width: 5000"),
        ("width: 10", "width: 100"),
        ("percent: 50", "percent: 25"),
    ],
    "subscription.yaml": [("groups: [HR, HR Analysts, Legal Team]", "groups: [HR, Legal Team]")],
}


def runner():
    """veil's DuckDB runner as a module: its value conversion and its locks."""
    spec = importlib.util.spec_from_file_location("veil_duckdb_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER_MODULE = runner()
PLAIN = RUNNER_MODULE.plain


def policy_b(policies, into):
    """Write policy set B (the shop's policies with CHANGES made) into `into`."""
    shutil.copytree(policies, into)
    for name, edits in CHANGES.items():
        path = Path(into) / name
        text = path.read_text()
        for old, new in edits:
            assert old in text, f"{name} no longer holds {old!r}"
            text = text.replace(old, new)
        path.write_text(text)
    return Path(into)


def canonical(columns, rows):
    """Rows as JSON values (as `veil query --format json` gives them), order-free."""
    rows = json.loads(json.dumps([[PLAIN(v) for v in row] for row in rows], default=str))
    return {"columns": list(columns), "rows": sorted(rows, key=json.dumps)}


def refusal(message):
    """veil's refusal, or None for any other error."""
    return "refused" if "may not read" in message else None


def views(con, schema="secure"):
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [schema]
    ).fetchall()
    return [r[0] for r in rows]


def capture(database, extension, keyring, columns=None):
    """What every reader sees through every secure view: {(user, project, view): answer}.

    An answer is canonical rows, "refused", or ("error", message). `columns` maps a
    view to the columns to select (all when absent)."""
    os.environ["VEIL_KEYRING"] = str(keyring)
    # As veil's readers do: wait while a writer (or one being killed) holds the file.
    con = RUNNER_MODULE.connect(str(database), True, time.monotonic() + 30)
    try:
        con.execute(f"LOAD '{extension}'")
        seen = {}
        for view in views(con):
            select = ", ".join(f'"{c}"' for c in columns[view]) if columns and view in columns else "*"
            for user, project in READERS:
                con.execute("SET VARIABLE veil_user = ?", [user])
                if project is None:
                    con.execute("RESET VARIABLE veil_project")
                else:
                    con.execute("SET VARIABLE veil_project = ?", [project])
                try:
                    cursor = con.execute(f'SELECT {select} FROM secure."{view}"')
                    seen[(user, project, view)] = canonical([d[0] for d in cursor.description], cursor.fetchall())
                except duckdb.Error as e:
                    seen[(user, project, view)] = refusal(str(e)) or ("error", str(e))
        return seen
    finally:
        con.close()


def differing(a, b):
    """Keys whose answers differ between two captures."""
    return sorted((k for k in set(a) | set(b) if a.get(k) != b.get(k)), key=str)
