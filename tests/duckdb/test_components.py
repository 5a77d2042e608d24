"""WebAssembly components as DuckDB functions (the `veil_wasm` extension).

- Parity: `dist/veil.wasm` loaded with prefix `w` gives, on every shared vector,
  what veil-core (and so the native `veil_*` functions) gives; the one export with
  no SQL form (`reveal`, a variant argument) is not registered.
- Containment: a component that loops, traps, hogs memory, overflows its stack or
  breaks its batch contract fails the query with the kind in brackets; the
  connection keeps working and DuckDB never crashes.
- Loading: only the process environment loads components (no SQL function does);
  a component with imports, a taken name or a `veil` prefix fails the LOAD.

Each connection is a new in-memory database, so `LOAD` reads `VEIL_COMPONENTS`
afresh. Build first: scripts/build-wasm, then scripts/build-extension.
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

import duckdb
import pytest

from conftest import EXTENSION, ROOT, VECTORS, case_id, check_case

WASM_EXTENSION = EXTENSION.parent / "veil_wasm.duckdb_extension"
KEY_HEX = VECTORS["key"]


def components_file(lines):
    """A components file holding `lines`, in a folder of its own."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="veil-components-"))
    path = folder / "components"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def connect_with(lines, veil=True):
    """A new database with veil (optionally) and veil_wasm loaded from `lines`."""
    for ext in ([EXTENSION] if veil else []) + [WASM_EXTENSION]:
        if not ext.exists():
            pytest.fail(f"{ext} is missing: run scripts/build-wasm and scripts/build-extension first")
    os.environ["VEIL_COMPONENTS"] = str(components_file(lines))
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    if veil:
        con.execute(f"LOAD '{EXTENSION}'")
    con.execute(f"LOAD '{WASM_EXTENSION}'")
    return con


@pytest.fixture(scope="module")
def w():
    con = connect_with([f"w = {ROOT / 'dist' / 'veil.wasm'}"])
    yield con
    con.close()


@pytest.fixture(scope="module")
def hostile():
    con = connect_with([f"h = {ROOT / 'dist' / 'test' / 'hostile.wasm'} fuel-per-call=50000000 fuel-per-row=500000000 memory=16"], veil=False)
    yield con
    con.close()


def _text(v):
    return v["repeat"] * v["times"] if isinstance(v, dict) else v


def _keyed(fn, args):
    """(value, key hex, scope [, reader]): the component takes the key itself."""
    if len(args) > 2:
        return f"SELECT {fn}(?::VARCHAR, ?, ?, ?)", [_text(args[0]), KEY_HEX, args[1], args[2]]
    return f"SELECT {fn}(?::VARCHAR, ?, ?)", [_text(args[0]), KEY_HEX, args[1]]


def to_sql(fn, args):
    """SQL calling the component's function for one shared-vector case."""
    t = _text
    if fn in ("hash", "fpe_encrypt", "fpe_decrypt", "token_mask", "token_unmask"):
        return _keyed("w_" + fn, args)
    if fn == "mask_regex":
        return "SELECT w_mask_regex(?::VARCHAR, ?, ?)", [t(args[0]), args[1], args[2]]
    if fn == "mask_email":
        return "SELECT w_email_mask(?::VARCHAR)", [t(args[0])]
    if fn == "round_int":
        return "SELECT w_round_int(?::BIGINT, ?::BIGINT)", args
    if fn == "round_float":
        return "SELECT w_round_float(?::DOUBLE, ?::DOUBLE)", args
    if fn == "round_places":
        return "SELECT w_round_places(?::DOUBLE, ?::INTEGER)", args
    if fn == "trunc_date":
        return "SELECT w_trunc_date(?::INTEGER, ?)", args
    if fn == "trunc_timestamp":
        return "SELECT w_trunc_timestamp(?::BIGINT, ?)", args
    if fn == "trunc_iso":
        return "SELECT w_trunc_iso(?::VARCHAR, ?)", [t(args[0]), args[1]]
    if fn == "tag_match":
        return "SELECT w_tag_matches(?::VARCHAR, ?::VARCHAR)", args
    if fn == "attribute_in":
        return "SELECT w_attribute_in(?::VARCHAR, ?::VARCHAR[], ?::BOOLEAN)", args
    if fn == "in_window":
        return "SELECT w_in_window(?::BIGINT, ?::BIGINT, ?::BIGINT)", args
    if fn == "in_sample":
        return "SELECT w_in_sample(?::VARCHAR, ?, ?, ?::DOUBLE)", [t(args[0]), KEY_HEX, args[1], args[2]]
    return None


# `reveal(value, keep: variant keep, fill: char)` has no SQL form: not registered.
NO_SQL_FORM = {"reveal_first", "reveal_last"}
CASES = [c for c in VECTORS["cases"] if c["fn"] not in NO_SQL_FORM]


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_shared_vector_through_the_component(w, case):
    sql, params = to_sql(case["fn"], case["args"])
    check_case(w, sql, params, case, secret=KEY_HEX)


def test_every_vector_function_but_reveal_has_a_component_function(w):
    assert {c["fn"] for c in VECTORS["cases"]} - {c["fn"] for c in CASES} == NO_SQL_FORM
    names = {r[0] for r in w.execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_name LIKE 'w\\_%' ESCAPE '\\'").fetchall()}
    assert "w_reveal" not in names and "w_hash_batch" not in names
    assert {"w_hash", "w_in_sample", "w_abi_version", "w_tag_matches", "w_attribute_in"} <= names
    assert w.execute("SELECT w_abi_version()").fetchone() == (1,)


def test_component_equals_native_over_many_rows_and_threads(w):
    """Chunks of 2048 rows with the scope changing inside a chunk, NULLs, two
    threads: the component's batches give the native extension's bytes."""
    w.execute("SET threads = 2")
    w.execute(
        "CREATE OR REPLACE TEMP TABLE people AS SELECT i, "
        "CASE WHEN i % 11 = 0 THEN NULL ELSE 'person' || i || '@example.com' END AS email, "
        "CASE WHEN i % 1000 < 500 THEN 'shop.customers' ELSE 'shop.orders' END AS scope "
        "FROM range(50000) r(i)"
    )
    key_id = VECTORS["key_id"]
    (differ, nulls) = w.execute(
        f"SELECT count(*) FILTER (WHERE w_hash(email, '{KEY_HEX}', scope, 'bob') IS DISTINCT FROM "
        f"veil_hash(email, '{key_id}', scope, 'bob')), count(*) FILTER (WHERE w_hash(email, '{KEY_HEX}', scope) IS NULL) "
        "FROM people"
    ).fetchone()
    assert (differ, nulls) == (0, 50000 // 11 + 1)
    (differ,) = w.execute(
        "SELECT count(*) FILTER (WHERE w_mask_regex(email, '\\d+', '#') IS DISTINCT FROM "
        "veil_mask_regex(email, '\\d+', '#')) FROM people"
    ).fetchone()
    assert differ == 0


HOSTILE = [
    ("SELECT h_spin('x')", "[fuel]", "ran out of fuel"),
    ("SELECT h_crash('x')", "[trap]", "unreachable"),
    ("SELECT h_hog(64)", "[memory_limit]", "more than 16 MiB"),
    ("SELECT h_deep(10000000)", "[trap]", "call stack exhausted"),
    ("SELECT h_fail('abc')", "[parse]", "cannot read a value of 3 bytes"),
    ("SELECT h_short(s) FROM (VALUES ('a'), ('b'), ('c')) v(s)", "[contract]", "3 values in, 2 out"),
    ("SELECT h_spin(CAST(i AS VARCHAR)) FROM range(100000) r(i)", "[fuel]", "h_spin:"),
    ("SELECT h_hog(CAST(i AS BIGINT)) FROM range(1, 40) r(i)", "[memory_limit]", "h_hog:"),
]


@pytest.mark.parametrize("sql,kind,needle", HOSTILE, ids=[h[0][7:40] for h in HOSTILE])
def test_a_misbehaving_component_fails_the_query_not_duckdb(hostile, sql, kind, needle):
    with pytest.raises(duckdb.Error) as info:
        hostile.execute(sql).fetchall()
    message = str(info.value)
    assert kind in message and needle in message, message
    assert "panicked" not in message
    # The connection (and a fresh instance of the component) still work.
    assert hostile.execute("SELECT h_echo('still here'), h_hog(1)").fetchone() == ("still here", 1 << 20)


def test_null_stays_null_whatever_the_batch_says(hostile):
    rows = hostile.execute("SELECT h_fill(s) FROM (VALUES ('a'), (NULL), ('c')) v(s)").fetchall()
    assert rows == [("a",), (None,), ("c",)]


def _load_error(lines, before=()):
    os.environ["VEIL_COMPONENTS"] = str(components_file(lines))
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for sql in before:
        con.execute(sql)
    with pytest.raises(duckdb.Error) as info:
        con.execute(f"LOAD '{WASM_EXTENSION}'")
    return str(info.value)


def test_loading_refuses_imports_taken_names_and_veil_prefixes():
    test = ROOT / "dist" / "test"
    message = _load_error([f"clock = {test / 'hostile-import.wasm'}"])
    assert "components:1" in message and "must import nothing (no files, clocks or network)" in message, message
    message = _load_error([f"h = {test / 'hostile.wasm'}"], before=["CREATE MACRO h_echo(x) AS x"])
    assert "a function `h_echo` exists already; a component never replaces one" in message, message
    message = _load_error([f"veil = {test / 'hostile.wasm'}"])
    assert "names starting with `veil` belong to the veil extension" in message, message
    message = _load_error(["x = missing.wasm"])
    assert "components:1: cannot read component" in message, message
    message = _load_error([f"a = {ROOT / 'dist' / 'singlestore' / 'veil-lite.wasm'}"])
    assert "this is a core module" in message, message


def test_nothing_is_registered_when_one_component_fails():
    os.environ["VEIL_COMPONENTS"] = str(components_file([f"ok = {ROOT / 'dist' / 'masks' / 'iban.wasm'}", "bad = missing.wasm"]))
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    with pytest.raises(duckdb.Error, match="components:2: cannot read component"):
        con.execute(f"LOAD '{WASM_EXTENSION}'")
    (count,) = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'ok\\_%' ESCAPE '\\'").fetchone()
    assert count == 0


def test_without_the_variable_nothing_is_loaded():
    os.environ.pop("VEIL_COMPONENTS", None)
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{WASM_EXTENSION}'")
    (count,) = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'veil_load%'").fetchone()
    assert count == 0, "no SQL function loads a component"


def test_the_example_mask_in_sql():
    con = connect_with([f"iban = {ROOT / 'dist' / 'masks' / 'iban.wasm'}"], veil=False)
    rows = con.execute(
        "SELECT iban_redact_iban(v), iban_mask_iban(v, 2, '*') FROM (VALUES "
        "('DE89 3704 0044 0532 0130 00'), ('not an iban'), (NULL)) t(v)"
    ).fetchall()
    assert rows == [("DEXX XXXX XXXX XXXX XX30 00", "DE** **** **** **** **** 00"), ("XXXXXXXXXXX", "***********"), (None, None)]
    with pytest.raises(duckdb.Error, match=r"iban_mask_iban: .*at most the last 4.*\[invalid_argument\]"):
        con.execute("SELECT iban_mask_iban('NL91ABNA0417164300', 5, '*')").fetchall()
    with pytest.raises(duckdb.Error, match=r"\[invalid_argument\]"):
        con.execute("SELECT iban_mask_iban('NL91ABNA0417164300', -1, '*')").fetchall()


def test_a_sealed_reader_keeps_the_functions_but_cannot_load_more():
    """veil query's sealing: components load before; afterwards nothing can."""
    con = connect_with([f"iban = {ROOT / 'dist' / 'masks' / 'iban.wasm'}"], veil=False)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    assert con.execute("SELECT iban_redact_iban('NL91ABNA0417164300')").fetchone() == ("NLXXXXXXXXXXXX4300",)
    with pytest.raises(duckdb.Error, match="disabled"):
        con.execute(f"LOAD '{EXTENSION}'")


def test_a_crash_would_kill_the_process_so_check_in_a_child():
    """Every hostile call in a child process: it must exit normally."""
    script = textwrap.dedent(f"""
        import duckdb, os
        os.environ["VEIL_COMPONENTS"] = {str(components_file([f"h = {ROOT / 'dist' / 'test' / 'hostile.wasm'} fuel-per-call=50000000 fuel-per-row=500000000 memory=16"]))!r}
        con = duckdb.connect(config={{"allow_unsigned_extensions": "true"}})
        con.execute("LOAD '{WASM_EXTENSION}'")
        con.execute("SET threads = 2")
        for sql in {[h[0] for h in HOSTILE]!r}:
            try:
                con.execute(sql).fetchall()
            except duckdb.Error:
                pass
        print(con.execute("SELECT h_echo('alive')").fetchone()[0])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "alive", done.stderr[-2000:]
