"""Readers under load while veil re-applies (issue 18 on PostgreSQL): eight reader logins
query every secure view in a loop while `veil apply --postgres` runs again and again.
Every answer must be exactly what that reader gets in a quiet database, or the same
refusal: no unmasked value, no row she may not see, no error but veil's refusal.

VEIL_LOAD_SECONDS sets the duration (CI: a few seconds; scripts/pg-load runs longer)."""
import os
import threading
import time

import psycopg

from pgshop import SOURCES, USERS, apply, reader_url

LOGINS = 8
SECONDS = float(os.environ.get("VEIL_LOAD_SECONDS", "4"))
VIEWS = [s.split(".")[1] for s in SOURCES]


def answer(con, view):
    """The rows of one view, sorted, or the refusal's SQLSTATE class."""
    try:
        return sorted(map(repr, con.execute(f"SELECT * FROM secure.{view}").fetchall()))
    except psycopg.errors.InsufficientPrivilege:
        return "refused"


def quiet_answers(database):
    out = {}
    for user in USERS:
        with psycopg.connect(reader_url(database, user), autocommit=True) as con:
            for view in VIEWS:
                out[user, view] = answer(con, view)
    return out


def test_readers_see_their_rows_only_while_veil_reapplies(built, applied):
    expected = quiet_answers(applied)
    assert any(v != "refused" for v in expected.values()) and "refused" in expected.values()
    stop = threading.Event()
    counts = {"queries": 0, "refusals": 0, "unexpected rows": 0, "missing rows": 0, "wrong refusals": 0}
    errors = []
    lock = threading.Lock()

    def reader(i):
        user = USERS[i % len(USERS)]
        with psycopg.connect(reader_url(applied, user), autocommit=True) as con:
            while not stop.is_set():
                for view in VIEWS:
                    try:
                        got = answer(con, view)
                    except psycopg.Error as e:
                        with lock:
                            errors.append(f"{user}/{view}: {type(e).__name__}: {e}".splitlines()[0])
                        continue
                    want = expected[user, view]
                    with lock:
                        counts["queries"] += 1
                        if got == "refused" or want == "refused":
                            counts["refusals"] += got == "refused"
                            counts["wrong refusals"] += got != want
                        else:
                            counts["unexpected rows"] += len(set(got) - set(want))
                            counts["missing rows"] += len(set(want) - set(got))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(LOGINS)]
    for t in threads:
        t.start()
    applies = 0
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            apply(built, applied)
            applies += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(f"\nload: {LOGINS} logins, {applies} applies in {SECONDS:.0f} s: "
          + ", ".join(f"{n} {k}" for k, n in counts.items()) + f", {len(errors)} other errors")
    assert applies >= 2 and counts["queries"] > 10 * LOGINS, (applies, counts)
    assert counts["unexpected rows"] == 0 and counts["wrong refusals"] == 0, counts
    assert counts["missing rows"] == 0, counts
    assert not errors, errors[:5]
