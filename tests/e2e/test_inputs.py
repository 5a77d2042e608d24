"""`veil apply` checks every input before anything changes: the keyring, the database
file, the extension. A bad one is refused with exit 1, a message with the fix, and
the database exactly as it was."""
import hashlib
import shutil

import duckdb
import pytest

from conftest import EXTENSION, KEYRING, project_args, veil


@pytest.fixture()
def database(built, tmp_path):
    path = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", path)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(built, database, *engine, expect):
    """Apply with `engine` arguments; assert exit 1, `expect` in the message, nothing changed."""
    before = digest(database) if database.exists() else None
    result = veil("apply", *project_args(built), "--duckdb", database, *engine, check=False)
    assert result.returncode == 1, result.stderr
    for text in expect:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr
    assert (digest(database) if database.exists() else None) == before
    assert not database.with_name(database.name + ".wal").exists()
    return result.stderr


def test_missing_keyring(built, database, tmp_path):
    refused(built, database, "--keyring", tmp_path / "nope.txt", "--extension", EXTENSION,
            expect=["cannot read keyring", "nope.txt", "openssl rand -hex 32"])


def test_four_digit_key(built, database, tmp_path):
    ring = tmp_path / "ring.txt"
    ring.write_text("# a test key\ndefault = 1234\n")
    err = refused(built, database, "--keyring", ring, "--extension", EXTENSION,
                  expect=["line 2", "64 hex digits"])
    assert "1234" not in err.replace("got 4 characters", ""), "the key is never repeated"


@pytest.mark.parametrize("text,expect", [
    ("", "holds no key"),
    ("default: " + "ab" * 32, "expected `<key id> = <64 hex digits>`"),
    ("default = " + "zz" * 32, "64 hex digits"),
    ("default = {k}\ndefault = {k}".format(k="ab" * 32), "appears twice"),
])
def test_malformed_keyring(built, database, tmp_path, text, expect):
    ring = tmp_path / "ring.txt"
    ring.write_text(text)
    refused(built, database, "--keyring", ring, "--extension", EXTENSION, expect=[expect])


def test_keyring_without_the_key_id(built, database):
    refused(built, database, "--keyring", KEYRING, "--extension", EXTENSION, "--key-id", "prod-2025",
            expect=["unknown key id `prod-2025`", "it holds: default", "--key-id"])


def test_no_keyring_at_all(built, database, monkeypatch):
    monkeypatch.delenv("VEIL_KEYRING", raising=False)
    result = veil("apply", *project_args(built), "--duckdb", database, "--extension", EXTENSION, check=False)
    assert result.returncode == 2 and "--keyring" in result.stderr


def test_a_mistyped_database_is_not_created(built, tmp_path):
    typo = tmp_path / "shpo.duckdb"
    refused(built, typo, "--keyring", KEYRING, "--extension", EXTENSION,
            expect=["`" + str(typo) + "` does not exist", "--create"])
    assert not typo.exists() and not list(tmp_path.iterdir())


def test_create_makes_the_file_but_still_needs_the_models(built, tmp_path):
    new = tmp_path / "new.duckdb"
    result = veil("apply", *project_args(built), "--duckdb", new, "--keyring", KEYRING,
                  "--extension", EXTENSION, "--create", check=False)
    assert result.returncode == 1
    assert "`main.customers`" in result.stderr and "nothing was applied" in result.stderr
    assert new.exists()
    con = duckdb.connect(str(new), read_only=True)
    assert con.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'secure'").fetchone() == (0,)
    con.close()


def test_create_with_a_broken_policy_makes_no_file(built, tmp_path):
    """The database is opened ahead of reading the inputs only when it exists:
    a policy that does not load leaves no new file behind."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.yaml").write_text("name: x\ntype: data\nrules: [\n")
    new = tmp_path / "new.duckdb"
    result = veil("apply", "--policies", policies, *project_args(built)[2:], "--duckdb", new, "--keyring", KEYRING,
                  "--extension", EXTENSION, "--create", check=False)
    assert result.returncode != 0 and "broken.yaml" in result.stderr, result.stderr
    assert not new.exists()


def test_a_file_that_is_not_a_database(built, tmp_path):
    text = tmp_path / "notes.duckdb"
    text.write_text("not a database")
    refused(built, text, "--keyring", KEYRING, "--extension", EXTENSION,
            expect=["cannot open", "not a valid DuckDB database"])


def test_missing_extension(built, database, tmp_path):
    refused(built, database, "--keyring", KEYRING, "--extension", tmp_path / "veil.duckdb_extension",
            expect=["does not exist", "scripts/build-extension"])


def test_extension_that_does_not_load(built, database, tmp_path):
    broken = tmp_path / "veil.duckdb_extension"
    broken.write_bytes(EXTENSION.read_bytes()[:4096])
    refused(built, database, "--keyring", KEYRING, "--extension", broken,
            expect=["does not load", "scripts/build-extension"])


@pytest.mark.parametrize("stem,schema", [("veil", "veil"), ("Secure", "secure"), ("main", None)])
def test_a_database_file_named_like_a_schema(built, tmp_path, stem, schema):
    """DuckDB names a file's catalog after it: `veil.duckdb` makes `veil.users` ambiguous
    in every session. Refused before anything is written; `main.duckdb` is fine."""
    path = tmp_path / f"{stem}.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", path)
    if schema is None:
        result = veil("apply", *project_args(built), "--duckdb", path, "--keyring", KEYRING, "--extension", EXTENSION)
        assert result.returncode == 0, result.stderr
        return
    message = refused(built, path, "--keyring", KEYRING, "--extension", EXTENSION,
                      expect=[f"schema `{schema}`", "rename the database file"])
    assert f"{stem}.duckdb" in message
