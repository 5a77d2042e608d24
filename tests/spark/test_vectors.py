"""The shared vectors (tests/vectors/core.json) for every function that runs on
Spark: the keyed hash and the sample in Spark SQL over a stored derived key, and the
JNI UDFs (FF1, tokens, the keyed hash) over veil-core; each must give veil-core's
output, and refuse what veil-core refuses. Keys are derived here independently
(HKDF-SHA-256 as the design states), as `veil apply` stores them."""
import hashlib
import hmac
import json
import struct

import pytest
from pyhive.exc import OperationalError

from sparkshop import ROOT, UDF_JAR, message

VECTORS = json.loads((ROOT / "tests/vectors/core.json").read_text())
KEY = bytes.fromhex(VECTORS["key"])
CASES = VECTORS["cases"]


def scoped(scope):
    """A vector's scope as veil-core's text: `project:<id>`, or a source's name."""
    return scope if ":" in scope else f"source:{scope}"


def derived(purpose, scope, reader=None):
    """veil's key for `purpose` in `scope` (HKDF-SHA-256, one expand block)."""
    kind, _, ident = scoped(scope).partition(":")
    info = purpose.encode() + b"\x00" + kind.encode() + b"\x00" + struct.pack(">I", len(ident.encode())) + ident.encode()
    if reader is not None:
        info += b"\x00" + struct.pack(">I", len(reader.encode())) + reader.encode()
    prk = hmac.new(b"veil/v1", KEY, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def text(value):
    if isinstance(value, dict):
        return value["repeat"] * value["times"]
    return value


def literal(value):
    if value is None:
        return "CAST(NULL AS STRING)"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def expected(case, got):
    if "output_sha256" in case and got is not None:
        return hashlib.sha256(got.encode()).hexdigest(), case["output_sha256"]
    return got, case.get("output")


@pytest.fixture(scope="module")
def udfs(loaded):
    """The JNI UDFs registered from the UDF jar, as veil apply registers them."""
    loaded.admin("CREATE DATABASE IF NOT EXISTS veil",
                 *(f"CREATE OR REPLACE FUNCTION veil.{f} AS '{c}' USING JAR 'file://{UDF_JAR}'"
                   for f, c in [("veil_ff1", "veil.spark.udf.Ff1"), ("veil_token", "veil.spark.udf.Token"),
                                ("veil_hash", "veil.spark.udf.Hash")]))
    return loaded


def run(server, fn, cases, call):
    """One query over every case: (case, value) rows in; the outputs, in order."""
    rows = ", ".join(f"({i}, {literal(text(c['args'][0]))}, X'{derived(fn, *c['args'][1:3]).hex()}', "
                     f"{literal(scoped(c['args'][1]))})" for i, c in enumerate(cases))
    got = server.admin(f"SELECT i, {call} FROM VALUES {rows} AS t(i, v, k, s) ORDER BY i")
    return [r[1] for r in got]


HASHES = [c for c in CASES if c["fn"] == "hash"]
FF1 = [c for c in CASES if c["fn"] == "fpe_encrypt" and "error" not in c]
FF1_ERRORS = [c for c in CASES if c["fn"] == "fpe_encrypt" and "error" in c]
TOKENS = [c for c in CASES if c["fn"] == "token_mask"]
SAMPLES = [c for c in CASES if c["fn"] == "in_sample"]


def test_keyed_hash_in_spark_sql_and_through_jni(udfs):
    assert HASHES
    sql = run(udfs, "hash", HASHES, "CASE WHEN v IS NULL THEN NULL ELSE lower(hex(hmac(k, encode(v, 'UTF-8')))) END")
    jni = run(udfs, "hash", HASHES, "veil.veil_hash(v, k)")
    for case, a, b in zip(HASHES, sql, jni):
        assert expected(case, a)[0] == expected(case, a)[1], case
        assert b == a, case


def test_ff1_through_jni(udfs):
    assert len(FF1) > 10
    for case, got in zip(FF1, run(udfs, "ff1", FF1, "veil.veil_ff1(v, k, s)")):
        assert expected(case, got)[0] == expected(case, got)[1], case


def test_ff1_refuses_what_veil_core_refuses(udfs):
    assert FF1_ERRORS
    for case in FF1_ERRORS:
        with pytest.raises(OperationalError) as e:
            run(udfs, "ff1", [case], "veil.veil_ff1(v, k, s)")
        assert "veil: " in message(e.value), case


def test_tokens_through_jni(udfs):
    assert TOKENS
    for case, got in zip(TOKENS, run(udfs, "token", TOKENS, "veil.veil_token(v, k, s)")):
        assert expected(case, got)[0] == expected(case, got)[1], case


def test_a_missing_key_never_shows_the_value(udfs):
    """A NULL or short key fails the query (values from range(), so the UDF runs in the
    executors rather than being folded at analysis)."""
    value = "concat('4111-1111-111', CAST(id AS STRING))"
    for key, why in [("CAST(NULL AS BINARY)", "has no key"), ("X'00'", "32 bytes")]:
        with pytest.raises(OperationalError) as e:
            udfs.admin(f"SELECT veil.veil_ff1({value}, {key}, 'source:a') FROM range(1)")
        assert why in message(e.value), message(e.value)


def test_sample_in_spark_sql(udfs):
    """veil-core's sample: the HMAC's first 8 bytes below the percent's threshold,
    written as the Spark target writes it."""
    assert SAMPLES
    for case in SAMPLES:
        value, scope, percent = case["args"]
        threshold = min(int(percent / 100 * 2**64), 2**64 - 1) if percent < 100 else None
        if threshold is None:
            continue
        key = derived("sample", scope).hex()
        got = udfs.admin(f"SELECT substr(hex(hmac(X'{key}', encode({literal(text(value))}, 'UTF-8'))), 1, 16) "
                         f"< '{threshold:016X}'")[0][0]
        assert got == case["output"], case
