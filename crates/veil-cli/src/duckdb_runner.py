# Runs SQL for veil in DuckDB through its Python package (the one dbt-duckdb uses).
# Reads a JSON request on stdin, writes a JSON answer on stdout.
import datetime
import decimal
import json
import sys

try:
    import duckdb
except ImportError:
    print(json.dumps({"fatal": "the duckdb Python package is not installed: pip install duckdb"}))
    sys.exit(0)


def plain(value):
    if isinstance(value, (decimal.Decimal,)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def main():
    request = json.load(sys.stdin)
    try:
        con = duckdb.connect(request["database"], config={"allow_unsigned_extensions": "true"})
        con.execute("LOAD '%s'" % request["extension"].replace("'", "''"))
    except Exception as e:  # noqa: BLE001 - reported to the caller
        print(json.dumps({"fatal": str(e)}))
        return
    answers = []
    for item in request.get("statements", []):
        try:
            con.execute(item)
            answers.append({"ok": True})
        except Exception as e:  # noqa: BLE001
            answers.append({"ok": False, "error": str(e), "sql": item[:200]})
            print(json.dumps({"answers": answers}))
            return
    for query in request.get("queries", []):
        try:
            for setup in query.get("setup", []):
                con.execute(setup)
            cursor = con.execute(query["sql"])
            columns = [d[0] for d in cursor.description]
            rows = [[plain(v) for v in row] for row in cursor.fetchall()]
            answers.append({"ok": True, "columns": columns, "rows": rows})
        except Exception as e:  # noqa: BLE001
            answers.append({"ok": False, "error": str(e)})
    print(json.dumps({"answers": answers}))


main()
