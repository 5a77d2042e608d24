# Runs SQL for veil in DuckDB through its Python package (the one dbt-duckdb uses).
#
# One worker per veil command: every line on stdin is one request, answered by one
# line on stdout. `open` opens a database (read-only or read-write), `close` closes
# it and lets other processes have it, and the same worker may open again (so a
# command pays for starting Python and importing duckdb once). End of input ends
# the worker: a transaction still open is then rolled back, as it is when the
# process is killed (DuckDB writes a transaction to its WAL only at COMMIT).
#
# DuckDB lets one process write a database file, or many read it, never both.
# Sessions therefore wait for the file lock (up to lock_timeout seconds), and a
# writer first takes `<database>.veil-lock` exclusively: readers pass through that
# lock before opening, so a writer waiting for readers to finish is not starved
# by new ones.
import concurrent.futures
import ctypes
import datetime
import decimal
import fcntl
import json
import math
import os
import sys
import threading
import time

try:
    import duckdb
except ImportError:
    duckdb = None


class Refused(Exception):
    """A session cannot start; `stage` says where (python, missing, lock, open, load)."""

    def __init__(self, stage, message):
        super().__init__(message)
        self.stage = stage


def die_with_parent():
    """Be killed with veil, so killing veil never leaves a writer running alone."""
    parent = os.environ.get("VEIL_PARENT_PID")
    try:
        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL (Linux)
    except (AttributeError, OSError):
        return
    if parent and os.getppid() != int(parent):
        sys.exit(1)  # veil died before prctl took effect


def plain(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time, datetime.timedelta)):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# Types whose Python values are already what JSON says (no NaN, no Decimal, no dates).
AS_JSON = {"VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}


def locked(error):
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def intent(database, exclusive, deadline, timeout):
    """The writer's intent lock: held by a writer, passed through by readers."""
    path = database + ".veil-lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if exclusive else os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no lock file and none can be made: rely on DuckDB's own lock
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    while True:
        try:
            fcntl.flock(fd, mode)
            break
        except OSError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise Refused("lock", "another veil process kept `%s.veil-lock` for %gs" % (database, timeout))
            time.sleep(0.005)
    if exclusive:
        return fd
    os.close(fd)  # readers only pass through
    return None


def connect(database, read_only, deadline):
    config = {"allow_unsigned_extensions": "true"}
    while True:
        try:
            return duckdb.connect(database, read_only=read_only, config=config)
        except duckdb.Error as e:
            if not locked(e):
                raise Refused("open", str(e))
            if time.monotonic() > deadline:
                raise Refused("lock", str(e))
            time.sleep(0.01)


class Session:
    def __init__(self, request):
        self.database = request["database"]
        self.read_only = request.get("mode", "read") == "read"
        if duckdb is None:
            raise Refused("python", "the duckdb Python package is not installed")
        if not os.path.exists(self.database) and (self.read_only or not request.get("create")):
            raise Refused("missing", "the database file does not exist")
        timeout = float(request.get("lock_timeout", 30))
        deadline = time.monotonic() + timeout
        self.intent = intent(self.database, not self.read_only, deadline, timeout)
        self.con = None
        try:
            self.con = connect(self.database, self.read_only, deadline)
            try:
                self.con.execute("LOAD '%s'" % request["extension"].replace("'", "''"))
            except duckdb.Error as e:
                raise Refused("load", str(e))
            components = request.get("components")
            if components:
                # Custom masks: veil_wasm registers the components the file lists,
                # reading VEIL_COMPONENTS at this database's first LOAD.
                os.environ["VEIL_COMPONENTS"] = components["file"]
                try:
                    self.con.execute("LOAD '%s'" % components["extension"].replace("'", "''"))
                except duckdb.Error as e:
                    raise Refused("components", str(e))
                finally:
                    del os.environ["VEIL_COMPONENTS"]
            for setting in request.get("settings", []):
                # veil's own tuning (e.g. optimizers for verify), never a reader's input.
                self.con.execute(setting)
            if self.read_only:
                # Readers run what they are given: no files, no ATTACH, no INSTALL/LOAD,
                # and no way to turn that back on.
                self.con.execute("SET enable_external_access = false")
                self.con.execute("SET lock_configuration = true")
        except BaseException:
            # The worker lives on: let go of the file and the lock it took.
            self.release()
            raise
        self.in_transaction = False

    def query(self, request):
        return self.run_queries(self.con, request.get("queries", []))

    def groups(self, request):
        """Independent lists of queries (e.g. one reader's probes each), run on
        their own connections (each with its own variables) side by side:
        DuckDB plans and runs them without holding Python's lock."""
        groups = request.get("groups", [])
        if self.in_transaction or len(groups) < 2:
            return {"ok": True, "groups": [self.run_queries(self.con, g)["answers"] for g in groups]}
        local = threading.local()
        cursors = []

        def run(group):
            if not hasattr(local, "cursor"):
                local.cursor = self.con.cursor()
                cursors.append(local.cursor)
            return self.run_queries(local.cursor, group)["answers"]

        workers = max(1, min(len(groups), os.cpu_count() or 1, 4))
        try:
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                answers = list(pool.map(run, groups))
        finally:
            for cursor in cursors:
                cursor.close()  # a cursor left open would keep the database file open
        return {"ok": True, "groups": answers}

    def run_queries(self, con, queries):
        answers = []
        for query in queries:
            try:
                for setup in query.get("setup", []):
                    con.execute(setup)
                cursor = con.execute(query["sql"])
                columns = [d[0] for d in cursor.description] if cursor.description else []
                rows = cursor.fetchall() if columns else []
                if not all(str(d[1]) in AS_JSON for d in cursor.description or []):
                    rows = [[plain(v) for v in row] for row in rows]
                answers.append({"ok": True, "columns": columns, "rows": rows})
            except duckdb.Error as e:
                if self.in_transaction:
                    self.rollback()
                    return {"ok": False, "index": len(answers), "error": str(e), "rolled_back": True}
                answers.append({"ok": False, "error": str(e)})
        return {"ok": True, "answers": answers}

    def begin(self, _request):
        self.con.execute("BEGIN TRANSACTION")
        self.in_transaction = True
        return {"ok": True}

    def execute(self, request):
        for index, sql in enumerate(request.get("statements", [])):
            try:
                self.con.execute(sql)
            except duckdb.Error as e:
                rolled_back = self.in_transaction
                if rolled_back:
                    self.rollback()
                return {"ok": False, "index": index, "error": str(e), "rolled_back": rolled_back}
        return {"ok": True}

    def commit(self, _request):
        try:
            self.con.execute("COMMIT")
        except duckdb.Error as e:
            self.rollback()
            return {"ok": False, "error": str(e), "rolled_back": True}
        self.in_transaction = False
        return {"ok": True}

    def rollback(self):
        self.in_transaction = False
        try:
            self.con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # nothing to roll back: DuckDB already ended it

    def close(self):
        if self.in_transaction:
            self.rollback()
        self.release()

    def release(self):
        if self.con is not None:
            self.con.close()
            self.con = None
        if self.intent is not None:
            os.close(self.intent)
            self.intent = None


def send(reply):
    sys.stdout.write(json.dumps(reply, default=str) + "\n")
    sys.stdout.flush()


def main():
    die_with_parent()
    session = None
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError as e:
            send({"ok": False, "stage": "open", "error": "bad request: %s" % e})
            continue
        op = request.get("op", "open")
        if op == "open":
            if session is not None:
                session.close()
                session = None
            try:
                session = Session(request)
            except Refused as e:
                send({"ok": False, "stage": e.stage, "error": str(e)})
                continue
            except (ValueError, KeyError) as e:
                send({"ok": False, "stage": "open", "error": "bad request: %s" % e})
                continue
            except Exception as e:  # noqa: BLE001 - told to veil, which names the database
                send({"ok": False, "stage": "open", "error": str(e)})
                continue
            send({"ok": True})
            continue
        if op == "close":
            if session is not None and session.read_only:
                # A reader's close frees DuckDB's catalog (0.4 s at 10,000 views):
                # answer first, so veil goes on; a next request is read once it is
                # done, and a veil that is finishing kills this process (harmless
                # for a read-only session) and waits for it to be gone.
                send({"ok": True})
                session.close()
                session = None
                continue
            if session is not None:
                session.close()
                session = None
            send({"ok": True})
            continue
        operation = session and {
            "query": session.query,
            "groups": session.groups,
            "begin": session.begin,
            "execute": session.execute,
            "commit": session.commit,
        }.get(op)
        send(operation(request) if operation else {"ok": False, "error": "unknown request or no database open"})
    if session is not None:
        session.close()


if __name__ == "__main__":
    main()
