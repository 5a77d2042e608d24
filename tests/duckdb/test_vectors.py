"""The shared vectors (tests/vectors/core.json) through SQL: every case must give
veil-core's output, or a DuckDB error naming the same error kind."""
import duckdb
import pytest

from conftest import VECTORS, case_id, check_case

K = VECTORS["key_id"]


def _text(v):
    if isinstance(v, dict):
        return v["repeat"] * v["times"]
    return v


def _scope_call(fn, args):
    """SQL and parameters for a function taking (value, key id, scope [, reader])."""
    value, scope = _text(args[0]), args[1]
    if len(args) > 2:
        return f"SELECT {fn}(?::VARCHAR, ?, ?, ?)", [value, K, scope, args[2]]
    return f"SELECT {fn}(?::VARCHAR, ?, ?)", [value, K, scope]


def to_sql(fn, args):
    """SQL and parameters for one shared-vector case."""
    t = _text
    if fn == "hash":
        return _scope_call("veil_hash", args)
    if fn == "mask_regex":
        return "SELECT veil_mask_regex(?::VARCHAR, ?, ?)", [t(args[0]), args[1], args[2]]
    if fn in ("reveal_first", "reveal_last"):
        return f"SELECT veil_{fn}(?::VARCHAR, ?::BIGINT, ?)", [t(args[0]), args[1], args[2]]
    if fn == "mask_email":
        return "SELECT veil_mask_email(?::VARCHAR)", [t(args[0])]
    if fn == "round_int":
        return "SELECT veil_round(?::BIGINT, ?::BIGINT)", args
    if fn == "round_float":
        return "SELECT veil_round(?::DOUBLE, ?::DOUBLE)", args
    if fn == "round_places":
        return "SELECT veil_round_places(?::DOUBLE, ?::INTEGER)", args
    if fn == "trunc_date":
        return "SELECT veil_trunc_date(DATE '1970-01-01' + ?::INTEGER, ?) - DATE '1970-01-01'", args
    if fn == "trunc_timestamp":
        return "SELECT epoch_us(veil_trunc_date(make_timestamp(?::BIGINT), ?))", args
    if fn == "trunc_iso":
        return "SELECT veil_trunc_date(?::VARCHAR, ?)", [t(args[0]), args[1]]
    if fn in ("fpe_encrypt", "fpe_decrypt"):
        return _scope_call(f"veil_{fn}", args)
    if fn == "token_mask":
        return _scope_call("veil_token", args)
    if fn == "token_unmask":
        return _scope_call("veil_unmask", args)
    if fn == "tag_match":
        return "SELECT veil_tag_match(?::VARCHAR, ?::VARCHAR)", args
    if fn == "attribute_in":
        return "SELECT veil_attribute_in(?::VARCHAR, ?::VARCHAR[], ?::BOOLEAN)", args
    if fn == "in_window":
        return "SELECT veil_in_window(?::BIGINT, ?::BIGINT, ?::BIGINT)", args
    if fn == "in_sample":
        return "SELECT veil_in_sample(?::VARCHAR, ?, ?, ?::DOUBLE)", [t(args[0]), K, args[1], args[2]]
    raise AssertionError(f"no SQL for shared-vector function `{fn}`")


CASES = VECTORS["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_shared_vector(con, case):
    sql, params = to_sql(case["fn"], case["args"])
    check_case(con, sql, params, case)


def test_every_function_in_the_vectors_is_covered():
    assert {c["fn"] for c in CASES} == {
        "hash", "mask_regex", "reveal_first", "reveal_last", "mask_email", "round_int", "round_float",
        "round_places", "trunc_date", "trunc_timestamp", "trunc_iso", "fpe_encrypt", "fpe_decrypt",
        "token_mask", "token_unmask", "tag_match", "attribute_in", "in_window", "in_sample",
    }


MULTI_ROW = {
    # fn: (SQL over table t(i, a, b, c), how a case's args fill a, b, c)
    "hash": ("veil_hash(a, 'k1', b)", lambda args: (args[0], args[1], None)),
    "fpe_encrypt": ("veil_fpe_encrypt(a, 'k1', b)", lambda args: (args[0], args[1], None)),
    "token_mask": ("veil_token(a, 'k1', b)", lambda args: (args[0], args[1], None)),
    "in_sample": ("veil_in_sample(a, 'k1', b, c::DOUBLE)", lambda args: (args[0], args[1], str(args[2]))),
    "mask_regex": ("veil_mask_regex(a, b, c)", lambda args: tuple(args)),
    "trunc_iso": ("veil_trunc_date(a, b)", lambda args: (args[0], args[1], None)),
}


@pytest.mark.parametrize("fn", sorted(MULTI_ROW))
def test_vectors_as_one_multi_row_query(fn):
    """Every case of `fn` in one query, with key scope, pattern or unit changing from
    row to row: the per-chunk caches must not carry one row's set-up into the next."""
    from conftest import connect

    expr, fill = MULTI_ROW[fn]
    cases = [
        c for c in CASES
        if c["fn"] == fn and "output" in c and len(c["args"]) <= 3 and not isinstance(c["args"][0], dict)
        and not (fn == "hash" and len(c["args"]) == 3)  # the per-reader form has its own test
    ]
    assert len(cases) >= 3
    con = connect()
    con.execute("CREATE TEMP TABLE t(i INTEGER, a VARCHAR, b VARCHAR, c VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i, *fill(c["args"])) for i, c in enumerate(cases)])
    got = [r[0] for r in con.execute(f"SELECT {expr} FROM t ORDER BY i").fetchall()]
    assert got == [c["output"] for c in cases]
