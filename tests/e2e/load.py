"""Readers under load: concurrent `veil query` readers while `veil apply` switches
between two policy sets and a transform job plus `veil monitor` change a table and
bind it again. Every answer must be exactly what that reader sees under policy A or
under policy B (both proven first by `veil verify`), or veil's refusal where A or B
refuses; anything else (another value, another row, another error) is a violation.

DuckDB lets one process write a file or many read it, so every participant opens,
works and closes: readers are `veil query` processes (read-only, sealed), the
writers (`veil apply`, `veil monitor`, the transform job) wait for them and they for
the writers, through DuckDB's lock and veil's `<database>.veil-lock`.

Run from scripts/load-duckdb (100 applies) or tests/e2e/test_load.py (a short run).
"""
import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import EXTENSION, KEYRING, build_shop, engine_args, project_args, veil, veil_binary  # noqa: E402
from states import READERS, RUNNER_MODULE, canonical, capture, policy_b, views  # noqa: E402


class Tally:
    """Counts shared by the threads; the first violations are kept in full."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(
            ["queries", "answered", "refused", "violations", "applies", "apply_errors",
             "monitor_runs", "monitor_rebinds", "monitor_errors", "transform_jobs"], 0)
        self.examples = []

    def add(self, key, example=None):
        with self.lock:
            self.counts[key] += 1
            if example is not None and len(self.examples) < 10:
                self.examples.append(example)


def expected_answers(built, work, policies):
    """Apply each policy set to a copy, prove it with `veil verify`, capture every answer."""
    seen = {}
    for name, path in policies.items():
        database = work / f"expected_{name}.duckdb"
        shutil.copy(built / "target" / "shop.duckdb", database)
        args = ["--policies", path, "--users", built / "users.yaml", "--dbt-target", built / "target"]
        veil("apply", *args, *engine_args(database))
        verified = veil("verify", *args, *engine_args(database))
        assert " 0 problem(s)" in verified.stdout, verified.stdout
        seen[name] = capture(database, EXTENSION, KEYRING, columns=columns_of(database))
    return seen


def columns_of(database):
    """Each secure view's columns, as the catalog declares them (selected by name, so
    a column a transform job adds later does not change the answer)."""
    con = RUNNER_MODULE.connect(str(database), True, time.monotonic() + 30)
    try:
        return {
            view: [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'secure' "
                "AND table_name = ? ORDER BY ordinal_position", [view]).fetchall()]
            for view in views(con)
        }
    finally:
        con.close()


def reader(index, database, columns, expected, stop, tally):
    """Query every view as every reader, in turn, until told to stop."""
    pairs = list(itertools.product(READERS, sorted(columns)))
    for (user, project), view in itertools.islice(itertools.cycle(pairs), index * 7, None):
        if stop.is_set():
            return
        select = ", ".join('"%s"' % c.replace('"', '""') for c in columns[view])
        sql = f'SELECT {select} FROM secure."{view}"'
        extra = ["--project", project] if project else []
        result = subprocess.run(
            [str(veil_binary()), "query", *map(str, engine_args(database)), "--as", user, *extra,
             "--format", "json", "--lock-timeout", "120", sql],
            capture_output=True, text=True,
        )
        key = (user, project, view)
        allowed = (expected["A"][key], expected["B"][key])
        tally.add("queries")
        if result.returncode == 0:
            out = json.loads(result.stdout)
            got = canonical(out["columns"], out["rows"])
            if got in allowed:
                tally.add("answered")
            else:
                tally.add("violations", {"reader": key, "got": got, "allowed": allowed})
        elif "may not read" in result.stderr and "refused" in allowed:
            tally.add("refused")
        else:
            tally.add("violations", {"reader": key, "error": result.stderr.strip(), "allowed": allowed})


def applier(built, database, policies, applies, tally, turn):
    for i in range(applies):
        name = "B" if i % 2 == 0 else "A"
        args = ["--policies", policies[name], "--users", built / "users.yaml", "--dbt-target", built / "target"]
        with turn:
            result = veil("apply", *args, *engine_args(database), "--lock-timeout", "120", check=False)
        tally.add("applies" if result.returncode == 0 else "apply_errors",
                  None if result.returncode == 0 else {"apply": name, "error": result.stderr.strip()})
        time.sleep(0.05)  # lets a waiting transform job have its turn


def transform_job(database, n):
    """What a dbt run might do meanwhile: add a column, then ask veil to look."""
    session = RUNNER_MODULE.Session({
        "database": str(database), "extension": str(EXTENSION), "mode": "write", "lock_timeout": 120,
    })
    try:
        session.begin({})
        reply = session.execute({"statements": [
            f"ALTER TABLE main.orders ADD COLUMN load_{n} INTEGER",
            "INSERT INTO veil.monitor_requests (requested_by) VALUES ('load test')",
        ]})
        assert reply["ok"], reply
        assert session.commit({})["ok"]
    finally:
        session.close()


def monitor(built, database, stop, tally, every, turn):
    """A transform job, then `veil monitor`; the two take their turn between applies
    (an apply in between would record the new column itself, leaving nothing to bind)."""
    for n in itertools.count():
        if stop.wait(every):
            return
        with turn:
            transform_job(database, n)
            tally.add("transform_jobs")
            result = veil("monitor", *project_args(built), *engine_args(database), "--format", "json",
                          "--lock-timeout", "120", check=False)
        if result.returncode != 0:
            tally.add("monitor_errors", {"monitor": result.stderr.strip()})
            continue
        tally.add("monitor_runs")
        if json.loads(result.stdout.strip().splitlines()[-1]).get("rebound"):
            tally.add("monitor_rebinds")


def run(built, work, applies, readers, monitor_every=2.0):
    """One load run; returns the counts and the first violations."""
    policies = {"A": built / "policies", "B": policy_b(built / "policies", work / "policies_b")}
    expected = expected_answers(built, work, policies)
    database = work / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", "--policies", policies["A"], "--users", built / "users.yaml", "--dbt-target", built / "target",
         *engine_args(database))
    columns = columns_of(database)

    tally, stop, turn = Tally(), threading.Event(), threading.Lock()
    threads = [threading.Thread(target=reader, args=(i, database, columns, expected, stop, tally))
               for i in range(readers)]
    threads.append(threading.Thread(target=monitor, args=(built, database, stop, tally, monitor_every, turn)))
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        applier(built, database, policies, applies, tally, turn)
    finally:
        stop.set()
        for t in threads:
            t.join()
    tally.counts["seconds"] = round(time.monotonic() - started, 1)
    return tally.counts, tally.examples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applies", type=int, default=100)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--monitor-every", type=float, default=2.0, help="seconds between transform jobs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="veil-load-") as tmp:
        work = Path(tmp)
        print("building the example shop with dbt ...", file=sys.stderr)
        built = build_shop(work)
        counts, examples = run(built, work, args.applies, args.readers, args.monitor_every)
    print(json.dumps(counts))
    for example in examples:
        print("VIOLATION", json.dumps(example, default=str)[:2000])
    bad = counts["violations"] + counts["apply_errors"] + counts["monitor_errors"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
