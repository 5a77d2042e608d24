"""`veil apply --spark`: inputs checked before anything changes, keys stored derived
per scope (never the master key, never in SQL text), and each apply switching the
views to a new generation of facts and keys, leaving one."""
import hashlib
import hmac
import struct

from sparkshop import ADMIN, KEYRING, apply, generation, password, project_args, veil

MASTER = bytes.fromhex(KEYRING.read_text().split("default =")[1].split()[0])


def derived(purpose, scope, reader=None):
    kind, _, ident = scope.partition(":")
    info = purpose.encode() + b"\x00" + kind.encode() + b"\x00" + struct.pack(">I", len(ident.encode())) + ident.encode()
    if reader is not None:
        info += b"\x00" + struct.pack(">I", len(reader.encode())) + reader.encode()
    prk = hmac.new(b"veil/v1", MASTER, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).hexdigest()


def test_keys_are_derived_per_scope_and_never_the_master(applied):
    g = generation(applied)
    rows = applied.admin(f"SELECT purpose, scope, reader, key_hex FROM veil.keys_g{g}")
    assert {r[0] for r in rows} == {"hash", "sample", "ff1", "token"}
    for purpose, scope, reader, key_hex in rows:
        assert key_hex == derived(purpose, scope, reader)
        assert key_hex != MASTER.hex()


def test_no_key_reaches_the_thrift_servers_log(applied):
    log = (applied.state / "logs" / "thrift.log").read_text(errors="replace")
    g = generation(applied)
    for (key_hex,) in applied.admin(f"SELECT key_hex FROM veil.keys_g{g}"):
        assert key_hex not in log
    assert MASTER.hex() not in log


def test_reapply_leaves_one_generation_and_the_same_views(applied, built):
    before = generation(applied)
    views = applied.admin("SHOW VIEWS IN secure")
    rows = applied.query("alice", "SELECT * FROM secure.customers")
    apply(built, applied)
    after = generation(applied)
    assert after > before
    tables = [r[1] for r in applied.admin("SHOW TABLES IN veil")]
    assert all(t.endswith(f"_g{after}") for t in tables), tables
    assert applied.admin("SHOW VIEWS IN secure") == views
    assert applied.query("alice", "SELECT * FROM secure.customers") == rows


def test_a_missing_table_or_another_secure_schema_changes_nothing(applied, built):
    g = generation(applied)
    result = veil("apply", *project_args(built), "--source", "main_staging.stg_orders", "--spark", applied.url,
                  "--keyring", KEYRING, check=False, env={"VEIL_SPARK_PASSWORD": password(ADMIN)})
    assert result.returncode == 1 and "have no table in Spark" in result.stderr, result.stderr
    result = veil("apply", *project_args(built), "--source", "main.orders", "--schema", "elsewhere",
                  "--spark", applied.url, "--keyring", KEYRING, check=False,
                  env={"VEIL_SPARK_PASSWORD": password(ADMIN)})
    assert result.returncode == 1 and "spark.veil.secureSchema" in result.stderr, result.stderr
    assert generation(applied) == g


def test_a_user_the_guard_does_not_trust_cannot_apply(applied, built):
    result = veil("apply", *project_args(built), "--source", "main.orders", "--spark", applied.url,
                  "--spark-user", "alice", "--keyring", KEYRING, check=False,
                  env={"VEIL_SPARK_PASSWORD": password("alice")})
    assert result.returncode == 1 and "not an admin of veil's guard" in result.stderr, result.stderr


def test_the_bind_sql_holds_no_key_and_names_the_guard(built):
    sql = veil("bind", "--engine", "spark", *project_args(built), "--source", "main.customers").stdout
    assert MASTER.hex() not in sql and "veil.spark.Guard" in sql
    assert "CREATE OR REPLACE VIEW `secure`.`customers` WITH SCHEMA BINDING" in sql
