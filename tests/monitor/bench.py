"""Benchmark `veil monitor`: N generated tables (5 columns each), 10 of them changed.

Usage: python3 tests/monitor/bench.py [N ...]   (default: 1000 10000)
Prints, per N: seconds for `veil apply` (baseline), a monitor run with no changes,
and a monitor run after 10 tables gained a column (10 rebound).
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import EXTENSION, KEYRING, veil_binary  # noqa: E402

POLICIES = """
name: Everyone reads generated data
type: subscription
actions: {type: anyone}
circumstances: [{type: tags, tag: Generated}]
---
name: Hash e-mails
type: data
circumstances: [{type: tags, tag: Generated}]
rules:
  - type: mask
    columns: {tags: [PII.Email]}
    mask: {type: hash}
"""

USERS = "users:\n  - name: ann\n  - name: ben\n"


def timed(*args):
    start = time.perf_counter()
    out = subprocess.run([str(veil_binary()), *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return time.perf_counter() - start, out.stdout


def run(n, work):
    db = work / f"bench{n}.duckdb"
    con = duckdb.connect(str(db))
    con.execute("BEGIN")
    for i in range(n):
        con.execute(f"CREATE TABLE main.t{i} (id INTEGER, email VARCHAR, amount DECIMAL(10,2), born DATE, note VARCHAR)")
    con.execute("COMMIT")
    con.close()
    catalog = ["sources:"]
    for i in range(n):
        catalog.append(
            f"  - {{name: main.t{i}, schema: main, tags: [Generated], columns: [{{name: id, type: integer}}, "
            "{name: email, type: varchar, tags: [PII.Email]}, {name: amount, type: 'decimal(10,2)'}, "
            "{name: born, type: date}, {name: note, type: varchar}]}"
        )
    # The YAML reader caps nodes per file; a catalog may be a folder of files.
    (work / "catalog").mkdir()
    for part in range(0, n, 1000):
        body = catalog[1 + part:1 + part + 1000]
        (work / "catalog" / f"part{part // 1000}.yaml").write_text("\n".join(["sources:", *body]) + "\n")
    (work / "policies.yaml").write_text(POLICIES)
    (work / "users.yaml").write_text(USERS)
    common = ["--policies", work / "policies.yaml", "--users", work / "users.yaml", "--catalog", work / "catalog",
              "--duckdb", db, "--keyring", KEYRING, "--extension", EXTENSION]
    apply_s, _ = timed("apply", *common)
    quiet_s, out = timed("monitor", *common)
    assert "no changes" in out, out
    con = duckdb.connect(str(db))
    for i in range(0, n, n // 10):
        con.execute(f"ALTER TABLE main.t{i} ADD COLUMN ssn VARCHAR")
    con.close()
    changed_s, out = timed("monitor", *common)
    assert "rebound  10 source(s)" in out, out
    print(f"{n:>6} tables: apply {apply_s:6.2f}s | monitor, no change {quiet_s:5.2f}s | monitor, 10 changed {changed_s:5.2f}s")


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    print(f"veil: {veil_binary()}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            run(n, Path(d))


main()
