"""Errors become DuckDB errors (never a crash or a panic across FFI); NULL in -> NULL out."""
import os
import subprocess
import sys
import textwrap

import duckdb
import pytest

from conftest import EXTENSION, KEYRING

ERRORS = [
    ("SELECT veil_mask_regex('x', '(', 'y')", "[invalid_regex]"),
    ("SELECT veil_hash('x', 'nope', 's')", "unknown key id `nope`"),
    ("SELECT veil_fpe_encrypt('12-34', 'k1', 's')", "[fpe_domain]"),
    ("SELECT veil_unmask('vt1.AAAA', 'k1', 's')", "[token_invalid]"),
    ("SELECT veil_unmask('not a token', 'k1', 's')", "[token_invalid]"),
    ("SELECT veil_unmask(veil_token('x', 'k1', 'a'), 'k1', 'b')", "[token_invalid]"),
    ("SELECT veil_unmask(veil_token('x', 'k1', 'a'), 'other', 'a')", "[token_invalid]"),
    ("SELECT veil_round(5, 0)", "[invalid_argument]"),
    ("SELECT veil_round(1.5::DOUBLE, -1)", "[invalid_argument]"),
    ("SELECT veil_round(12.345::DECIMAL(10,3), 0)", "[invalid_argument]"),
    ("SELECT veil_trunc_date(DATE '2024-05-17', 'fortnight')", "[invalid_argument]"),
    ("SELECT veil_trunc_date('17/05/2024', 'day')", "[parse]"),
    ("SELECT veil_in_sample('a', 'k1', 's', 101)", "[invalid_argument]"),
    ("SELECT veil_reveal_first('abc', -1, 'X')", "[invalid_argument]"),
    ("SELECT veil_reveal_first('abc', 1, 'XY')", "[invalid_argument]"),
]


@pytest.mark.parametrize("sql,needle", ERRORS, ids=[e[0][7:50] for e in ERRORS])
def test_errors_are_duckdb_errors(con, sql, needle):
    with pytest.raises(duckdb.Error) as info:
        con.execute(sql).fetchall()
    message = str(info.value)
    assert needle in message, message
    assert "veil_" in message, "the message names the function"
    assert "panicked" not in message
    # The connection is still usable afterwards.
    assert con.execute("SELECT veil_mask_email('a@b.c')").fetchone() == ("XXXXX@b.c",)


def test_unknown_key_names_id_and_keyring_path(con):
    with pytest.raises(duckdb.Error) as info:
        con.execute("SELECT veil_token('x', 'k9', 's')").fetchall()
    assert "`k9`" in str(info.value) and str(KEYRING) in str(info.value)


def test_error_in_one_row_of_many_fails_the_query(con):
    with pytest.raises(duckdb.Error, match=r"\[fpe_domain\]"):
        con.execute(
            "SELECT veil_fpe_encrypt(CASE WHEN i = 4000 THEN '12' ELSE '123456' END, 'k1', 's') FROM range(5000) r(i)"
        ).fetchall()


def test_keys_never_appear_in_messages(con):
    key = open(KEYRING).read().split("k1 = ")[1][:64]
    for sql, _ in ERRORS:
        try:
            con.execute(sql).fetchall()
        except duckdb.Error as e:
            assert key not in str(e)


NULL_CALLS = [
    "veil_hash(NULL, 'k1', 's')", "veil_hash('v', NULL, 's')", "veil_hash('v', 'k1', NULL)",
    "veil_hash('v', 'k1', 's', NULL)", "veil_mask_regex(NULL, 'a', 'b')", "veil_mask_regex('a', NULL, 'b')",
    "veil_mask_regex('a', 'a', NULL)", "veil_reveal_first(NULL, 1, 'X')", "veil_reveal_last('a', NULL, 'X')",
    "veil_reveal_last('a', 1, NULL)", "veil_mask_email(NULL)", "veil_round(NULL::BIGINT, 10)",
    "veil_round(5::BIGINT, NULL)", "veil_round(NULL::DOUBLE, 0.5)", "veil_round(NULL::DECIMAL(10,2), 0.5)",
    "veil_round(NULL::INTEGER, 10)", "veil_round_places(NULL, 2)", "veil_round_places(1.5, NULL)",
    "veil_trunc_date(NULL::DATE, 'month')", "veil_trunc_date(DATE '2024-01-02', NULL)",
    "veil_trunc_date(NULL::TIMESTAMP, 'hour')", "veil_trunc_date(NULL::VARCHAR, 'hour')",
    "veil_fpe_encrypt(NULL, 'k1', 's')", "veil_fpe_decrypt('123456', NULL, 's')", "veil_token(NULL, 'k1', 's')",
    "veil_unmask(NULL, 'k1', 's')", "veil_tag_match(NULL, 'a')", "veil_tag_match('a', NULL)",
    "veil_attribute_in(NULL, ['a'], false)", "veil_attribute_in('a', NULL, false)",
    "veil_attribute_in('a', ['a'], NULL)", "veil_in_window(NULL::BIGINT, 1, 1)",
    "veil_in_window(TIMESTAMP '2024-01-01', NULL, INTERVAL 1 DAY)", "veil_in_sample(NULL, 'k1', 's', 10)",
    "veil_in_sample('a', 'k1', 's', NULL)",
]


@pytest.mark.parametrize("call", NULL_CALLS)
def test_null_in_null_out(con, call):
    assert con.execute(f"SELECT {call}").fetchone() == (None,)


@pytest.mark.parametrize("call", ["veil_hash(v, 'k1', 's')", "veil_mask_email(v)", "veil_token(v, 'k1', 's')"])
def test_nulls_among_values_stay_in_place(con, call):
    rows = con.execute(
        f"SELECT v IS NULL, {call} IS NULL FROM (SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE i::VARCHAR || '@x.io' END v "
        "FROM range(5000) r(i))"
    ).fetchall()
    assert all(a == b for a, b in rows)


def _run_isolated(env_keyring):
    """Load veil in a fresh process with VEIL_KEYRING set as given; return the error text."""
    code = textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect(config={{"allow_unsigned_extensions": "true"}})
        con.execute("LOAD '{EXTENSION}'")
        print(con.execute("SELECT veil_mask_email('a@b.c')").fetchone()[0])
        try:
            con.execute("SELECT veil_hash('x', 'k1', 's')").fetchall()
            print("NO ERROR")
        except duckdb.Error as e:
            print(e)
    """)
    env = {k: v for k, v in os.environ.items() if k != "VEIL_KEYRING"}
    if env_keyring is not None:
        env["VEIL_KEYRING"] = env_keyring
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_without_keyring_keyless_functions_work_and_keyed_ones_say_why():
    out = _run_isolated(None)
    assert "XXXXX@b.c" in out
    assert "VEIL_KEYRING" in out and "[keyring]" in out


def test_missing_or_bad_keyring_file_is_an_error(tmp_path):
    assert "cannot read keyring" in _run_isolated(str(tmp_path / "absent"))
    bad = tmp_path / "bad"
    bad.write_text("k1 = 1234\n")
    out = _run_isolated(str(bad))
    assert "line 1" in out and "1234" not in out.split("line 1")[1]
