"""Fuzz the veil DuckDB extension's argument handling through DuckDB itself: random
calls of every `veil_*` function with NULLs, empty and odd text, invalid UTF-8
(BLOB casts), extreme numbers, unknown key ids, and chunks whose arguments are
constant or change row by row (the two paths each function has).

A query may fail with an error (that is the contract); the process must not crash,
and an error must be DuckDB's ordinary error, never an internal one. Each batch runs
in a child process so a crash is seen and its seed kept.

    python3 fuzz/duckdb_args.py [--seconds 60] [--seed N] [--extension PATH]

Prints executions (calls), batches and crashes; exit 1 on a crash.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

TEXTS = ["", "a", "x" * 300, "O'Brien", "jane.doe@example.com", "@", "a@", "@b", "555-201-3344", "123-45-6789",
         "é", "日本語テキスト", "\u0000", "\ud7ff", "١٢٣٤٥٦٧", "ＡＢＣ１２３", "vt1.", "vt1.abc", "2024-02-29",
         "2024-13-40", "1970-01-01T00:00:00", "Strictly Confidential.Confidential", ".", "..", "a.b.", "🔑" * 20]
PATTERNS = ["", ".", "^\\d{4}", "(a", "[", "\\", "a{1000000}", "(?i)x", "$", "\\p{L}+", "(.*)*", "[^@]+@"]
UNITS = ["minute", "hour", "day", "month", "quarter", "year", "", "week", "YEAR", "dáy"]
KEY_IDS = ["default", "nope", "", "default ", "DEFAULT", "x" * 200]
SCOPES = ["source:main.t", "project:p", "", "source:", ":", "nonsense", "source:" + "y" * 500]
NUMBERS = ["0", "1", "-1", "9223372036854775807", "-9223372036854775808", "1e308", "-0.0", "'nan'", "'inf'", "3"]


def text(rng):
    r = rng.random()
    if r < 0.1:
        return "NULL"
    if r < 0.2:
        # Invalid UTF-8 reaching a VARCHAR argument.
        return "CAST(from_hex('%s') AS VARCHAR)" % rng.choice(["ff", "c3", "e282", "80808080", "f0908d"])
    value = rng.choice(TEXTS) if r < 0.8 else "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(12)))
    return "'%s'" % value.replace("'", "''")


def pick(rng, choices):
    return "NULL" if rng.random() < 0.08 else "'%s'" % rng.choice(choices).replace("'", "''")


def number(rng, cast):
    return "NULL" if rng.random() < 0.08 else "CAST(%s AS %s)" % (rng.choice(NUMBERS), cast)


def call(rng):
    """One SQL expression calling a veil function with random arguments."""
    t, k, s = (lambda: text(rng)), (lambda: pick(rng, KEY_IDS)), (lambda: pick(rng, SCOPES))
    return rng.choice([
        lambda: f"veil_hash({t()}, {k()}, {s()})",
        lambda: f"veil_hash({t()}, {k()}, {s()}, {t()})",
        lambda: f"veil_mask_regex({t()}, {pick(rng, PATTERNS)}, {t()})",
        lambda: f"veil_reveal_first({t()}, {number(rng, 'BIGINT')}, {t()})",
        lambda: f"veil_reveal_last({t()}, {number(rng, 'BIGINT')}, {t()})",
        lambda: f"veil_mask_email({t()})",
        lambda: f"veil_round({number(rng, 'BIGINT')}, {number(rng, 'BIGINT')})",
        lambda: f"veil_round({number(rng, 'DOUBLE')}, {number(rng, 'DOUBLE')})",
        lambda: f"veil_round_places({number(rng, 'DOUBLE')}, {number(rng, 'INTEGER')})",
        lambda: f"veil_trunc_date(DATE '2024-05-17' + {number(rng, 'INTEGER')} % 100000, {pick(rng, UNITS)})",
        lambda: f"veil_trunc_date(TIMESTAMP '2024-05-17 12:00:00', {pick(rng, UNITS)})",
        lambda: f"veil_trunc_date({t()}, {pick(rng, UNITS)})",
        lambda: f"veil_fpe_encrypt({t()}, {k()}, {s()})",
        lambda: f"veil_fpe_decrypt({t()}, {k()}, {s()})",
        lambda: f"veil_token({t()}, {k()}, {s()})",
        lambda: f"veil_unmask({t()}, {k()}, {s()})",
        lambda: f"veil_unmask(veil_token({t()}, 'default', 'source:s'), 'default', 'source:s')",
        lambda: f"veil_tag_match({t()}, {t()})",
        lambda: f"veil_attribute_in({t()}, [{t()}, {t()}], {rng.choice(['true', 'false', 'NULL'])})",
        lambda: f"veil_in_window(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-02', {number(rng, 'BIGINT')})",
        lambda: f"veil_in_sample({t()}, {k()}, {s()}, {number(rng, 'DOUBLE')})",
    ])()


def batch_sql(rng):
    """A query over many rows: constant arguments, or arguments that vary per row."""
    expression = call(rng)
    rows = rng.choice([1, 3, 2047, 2049, 5000])
    if rng.random() < 0.5:
        return f"SELECT {expression} FROM range({rows})", 1
    # Vary the arguments row by row: each row picks one of several generated calls.
    calls = [call(rng) for _ in range(4)]
    cases = " ".join(f"WHEN {i} THEN CAST({c} AS VARCHAR)" for i, c in enumerate(calls))
    return f"SELECT CASE range % 4 {cases} END FROM range({rows})", 4


CHILD = """
import os, sys, duckdb
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.execute("LOAD '%s'" % sys.argv[1].replace("'", "''"))
internal = ok = 0
for line in sys.stdin:
    try:
        con.execute(line).fetchall()
        ok += 1
    except duckdb.Error as e:
        message = str(e)
        if "INTERNAL" in message or "panicked" in message:
            print("INTERNAL", message[:300], line[:300], flush=True)
            internal += 1
print("DONE", ok, flush=True)
"""


def run_batch(extension, queries, keyring):
    env = dict(os.environ, VEIL_KEYRING=str(keyring))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(extension)], input="\n".join(queries) + "\n",
                          capture_output=True, text=True, env=env)
    internal = [line for line in proc.stdout.splitlines() if line.startswith("INTERNAL")]
    done = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("DONE")]
    crashed = proc.returncode != 0 or not done
    return crashed, internal, int(done[0]) if done else 0, proc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--extension", default=str(ROOT / "dist" / "veil.duckdb_extension"))
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    with tempfile.TemporaryDirectory() as tmp:
        keyring = Path(tmp) / "keyring"
        keyring.write_text(f"default = {KEY}\n")
        until, batches, calls, answered, crashes = time.monotonic() + args.seconds, 0, 0, 0, 0
        while time.monotonic() < until:
            rng = random.Random(seed + batches)
            queries = [batch_sql(rng) for _ in range(50)]
            crashed, internal, ok, proc = run_batch(args.extension, [q for q, _ in queries], keyring)
            calls += sum(n for _, n in queries)
            answered += ok
            if crashed or internal:
                crashes += 1
                print(f"CRASH seed={seed + batches} rc={proc.returncode}\n{proc.stderr[-2000:]}\n{internal[:3]}")
            batches += 1
    print(f"duckdb_args: {calls} calls in {batches * 50} queries ({answered} answered, the rest refused with an "
          f"error), {crashes} crash(es), seed {seed}")
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()
