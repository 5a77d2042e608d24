"""veil_classify(value) runs veil-core's classifier inside DuckDB: per column, the share
of values it names an entity equals the share `veil discover` (the native CLI) reports
for the same column, and odd input (NULL, empty, binary, very long) is NULL, never an
error."""
import json
import os
import subprocess
from pathlib import Path

import duckdb

from conftest import EXTENSION, ROOT, connect

COLUMNS = {
    # column: (values, the entity both must agree on)
    "contact": (["jane@example.com", "omar@example.org", "li@mail.example.net", "x@y.io", "no e-mail here",
                 "ana@corp.example"], "EmailAddress"),
    "card": (["4111111111111111", "5500 0055 5555 5559", "4012-8888-8888-1881", "378282246310005",
              "4111111111111112", "6011111111111117"], "CardNumber"),
    "account": (["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606",
                 "NL91ABNA0417164300", "GB82 WEST 1234 5698 7654 33"], "Iban"),
    "host": (["192.168.0.1", "10.0.0.255", "::1", "2001:db8::8a2e:370:7334", "256.1.1.1", "fe80::1"], "IpAddress"),
    "tax": (["123-45-6789", "234-56-7890", "666-12-3456", "078-05-1120", "345-67-8901"], "UsSsn"),
}


def veil_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        if (target / profile / "veil").exists():
            return target / profile / "veil"
    raise AssertionError("build veil first: cargo build --release -p veil-cli")


def test_shares_equal_the_native_discovery(tmp_path):
    database = tmp_path / "c.duckdb"
    rows = max(len(v) for v, _ in COLUMNS.values())
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE t (" + ", ".join(f"{c} VARCHAR" for c in COLUMNS) + ")")
    for i in range(rows):
        values = [v[i] if i < len(v) else None for v, _ in COLUMNS.values()]
        con.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(values))})", values)
    con.close()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("sources:\n  - name: main.t\n    schema: main\n    columns:\n" +
                       "".join(f"      - {{name: {c}, type: varchar}}\n" for c in COLUMNS))
    native = subprocess.run([str(veil_binary()), "discover", "--catalog", str(catalog), "--duckdb", str(database),
                             "--extension", str(EXTENSION), "--format", "json"], capture_output=True, text=True)
    assert native.returncode == 0, native.stderr
    shares = {(f["column"], e["entity"]): e["share"] for f in json.loads(native.stdout)["findings"] for e in f["entities"]}

    con = connect()
    con.execute(f"ATTACH '{database}' AS d (READ_ONLY)")
    for column, (_, entity) in COLUMNS.items():
        assert (column, entity) in shares, (column, shares)
        named, total = con.execute(
            f"SELECT count(*) FILTER (WHERE veil_classify({column}) = ?), count({column}) FROM d.t", [entity]
        ).fetchone()
        assert named / total == shares[(column, entity)], (column, named, total, shares[(column, entity)])
        assert named < total, f"{column}: each column holds a look-alike the classifier must refuse"


def test_odd_input_is_null(con):
    rows = con.execute(
        "SELECT veil_classify(v) FROM (VALUES (NULL), (''), ('   '), (repeat('a', 100000) || '@example.com'), "
        "('4111 1111 1111 1112'), ('order 42'), (chr(0) || 'a@example.com')) t(v)"
    ).fetchall()
    assert rows == [(None,)] * 7, rows
    assert con.execute("SELECT veil_classify(' jane@example.com ')").fetchone() == ("EmailAddress",)
    # Many rows, several chunks and threads: the same answers.
    got = con.execute("SELECT count(*) FILTER (WHERE veil_classify('u' || i || '@ex.com') = 'EmailAddress') "
                      "FROM range(100000) r(i)").fetchone()
    assert got == (100000,)
