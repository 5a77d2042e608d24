# Runs SQL for veil on the Spark Thrift Server (HiveServer2) through PyHive.
#
# stdin: one JSON request {"host", "port", "database", "sessions": [{"user",
# "password" (null: no authentication), "statements": [...], "stop": bool}]};
# stdout: one JSON answer {"sessions": [{"connect_error": str|null, "results":
# [{"ok", "rows", "error"}]}]}. Each session is one connection as its user; with
# "stop", the first failing statement ends the session. Sessions run side by side
# ("parallel" at a time; the Thrift server serves each on a thread of its own).
import concurrent.futures
import datetime
import decimal
import json
import sys

try:
    from pyhive import hive
except ImportError:
    hive = None


def plain(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def message(error):
    """HiveServer2's own message, without the Java stack it sends along."""
    status = getattr(getattr(error, "args", [None])[0], "status", None)
    if status is not None and getattr(status, "errorMessage", None):
        return status.errorMessage
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def run(request, session):
    out = {"connect_error": None, "results": []}
    try:
        auth = "CUSTOM" if session.get("password") is not None else "NONE"
        con = hive.connect(host=request["host"], port=request["port"], database=request.get("database") or "default",
                           username=session["user"], password=session.get("password"), auth=auth)
    except Exception as e:  # a refused login is an answer, not a crash
        out["connect_error"] = message(e)
        return out
    try:
        cursor = con.cursor()
        for sql in session["statements"]:
            try:
                cursor.execute(sql)
                rows = [plain(list(r)) for r in cursor.fetchall()] if cursor.description else []
                out["results"].append({"ok": True, "rows": rows, "error": None})
            except Exception as e:
                out["results"].append({"ok": False, "rows": [], "error": message(e)})
                if session.get("stop"):
                    break
    finally:
        try:
            con.close()
        except Exception:
            pass
    return out


def main():
    if hive is None:
        print(json.dumps({"error": "the PyHive package is missing: pip install 'pyhive[hive_pure_sasl]==0.7.0' (scripts/setup)"}))
        return
    request = json.loads(sys.stdin.read())
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, int(request.get("parallel", 1)))) as pool:
        sessions = list(pool.map(lambda s: run(request, s), request["sessions"]))
    print(json.dumps({"sessions": sessions}))


main()
