"""One meaning per policy, on DuckDB: for generated policy sets (every mask kind,
exceptions, everyone-who/otherwise, conditional masks, row rules, purposes), each
reader's sandbox views (`veil apply --user`) show exactly the rows and values the
dynamic views show that reader, and `veil verify` agrees. The Rust property test
(crates/veil-policy/tests/folded_dynamic.rs) checks the plans; this checks the SQL."""
import random

import duckdb
import pytest

from conftest import EXTENSION, KEYRING, connect, veil

GROUPS = ["Legal", "Ops", "Analysts"]
REGIONS = ["EU", "EU.FR", "US"]
PURPOSES = {"fraud-team": ["Fraud"], "growth": ["Marketing"]}
ROW_CONDITIONS = ["amount > 10", "region = 'EU'", "id < 5"]
TEXT_MASKS = [
    "{type: null}", "{type: hash}", "{type: hash, scope: project}", "{type: hash, perReader: true}",
    "{type: constant, value: REDACTED}", r"{type: regex, pattern: '\d', replacement: '#'}", "{type: reveal, last: 4}",
    "{type: reveal, first: 2, fill: '*'}", "{type: email}", "{type: format_preserving}",
]
MONEY_MASKS = ["{type: null}", "{type: round, width: 10}", "{type: round, places: -1}", "{type: constant, value: 0}",
               "{type: hash}"]
WHEN_MASKS = ["{type: trunc, unit: month}", "{type: trunc, unit: year}", "{type: null}"]
SETS = 4
SOURCES = ["main.s0", "main.s1"]


def who(rng):
    return rng.choice([
        lambda: f"{{groups: [{rng.choice(GROUPS)}]}}",
        lambda: f"{{attributes: [{{name: Region, value: {rng.choice(REGIONS)}}}]}}",
        lambda: f"{{purposes: [{rng.choice(['Fraud', 'Marketing'])}]}}",
        lambda: "{users: [u1]}",
        lambda: "{advanced: \"@isInGroups('Legal') and not @isUser('u2')\"}",
    ])()


def mask(rng, masks):
    # Tokens often: an unmasker of one policy's token must still get the next mask.
    if rng.random() < 0.4:
        return f"{{type: reversible, unmaskers: {who(rng)}}}"
    return rng.choice(masks)


def mask_rule(rng):
    columns, masks = rng.choice([
        ("{tags: [PII]}", TEXT_MASKS), ("{names: [note]}", TEXT_MASKS), ("{tags: [Money]}", MONEY_MASKS),
        ("{names: [ts]}", WHEN_MASKS),
    ])
    lines = ["  - type: mask", f"    columns: {columns}"]
    if rng.random() < 0.5:
        lines.append(f"    mask: {mask(rng, masks)}")
        if rng.random() < 0.5:
            lines.append(f"    exceptFor: {who(rng)}")
    else:
        lines.append("    everyoneWho:")
        for _ in range(rng.randint(1, 2)):
            lines.append(f"      - {{when: {who(rng)}, mask: {mask(rng, masks)}}}")
        lines.append(f"    otherwise: {mask(rng, masks)}")
    if rng.random() < 0.3:
        lines.append(f"    where: \"{rng.choice(ROW_CONDITIONS)}\"")
    return "\n".join(lines)


def row_rule(rng):
    rule = rng.choice([
        f"  - type: matchAttribute\n    attribute: Region\n    column: region\n    hierarchical: {rng.choice(['true', 'false'])}",
        "  - type: where\n    sql: \"amount >= 5\"",
        "  - type: timeWindow\n    column: ts\n    within: 3000d",
        "  - type: sample\n    percent: 50\n    key: [id]",
    ])
    applies = rng.choice(["", f"\n    exceptFor: {who(rng)}", f"\n    onlyFor: {who(rng)}"])
    return rule + applies


def policies(rng):
    docs = ["name: open\ntype: subscription\nactions: {type: anyone}\ncircumstances: [{type: tags, tag: Sales}]"]
    if rng.random() < 0.5:
        docs.append(f"name: guard\ntype: subscription\nactions: {{type: guardrail, entitlements: {who(rng)}}}\n"
                    "circumstances: [{type: dataSource, name: main.s1}]")
    for i in range(rng.randint(3, 5)):
        rules = [mask_rule(rng) if rng.random() < 0.75 else row_rule(rng) for _ in range(rng.randint(1, 3))]
        docs.append(f"name: d{i}\ntype: data\nrules:\n" + "\n".join(rules))
    return "\n---\n".join(docs) + "\n"


def users(rng):
    lines = ["users:"]
    for i in range(4):
        groups = ", ".join(rng.sample(GROUPS, rng.randint(0, 2)))
        regions = ", ".join(rng.sample(REGIONS, rng.randint(0, 2)))
        projects = "[fraud-team]" if i == 0 else "[]"
        lines.append(f"  - {{name: u{i}, groups: [{groups}], attributes: {{Region: [{regions}]}}, projects: {projects}}}")
    lines.append("projects:")
    lines.extend(f"  - {{name: {p}, purposes: [{', '.join(ps)}]}}" for p, ps in PURPOSES.items())
    return "\n".join(lines) + "\n"


CATALOG = "sources:\n" + "".join(
    f"""  - name: {s}
    schema: main
    tags: [Sales]
    columns:
      - {{name: id, type: integer}}
      - {{name: name, type: text, tags: [PII]}}
      - {{name: note, type: text}}
      - {{name: amount, type: integer, tags: [Money]}}
      - {{name: ts, type: timestamp}}
      - {{name: region, type: text}}
""" for s in SOURCES)

NAMES = ["Jane Doe 555-201-3344", "alice@example.com", "Иван Петров 1234567", "Zed Quux 000123"]


def database(path):
    con = duckdb.connect(str(path))
    for s in SOURCES:
        con.execute(f"CREATE TABLE {s} (id INTEGER, name VARCHAR, note VARCHAR, amount INTEGER, ts TIMESTAMP, region VARCHAR)")
        con.executemany(f"INSERT INTO {s} VALUES (?, ?, ?, ?, current_timestamp - INTERVAL (?) DAY, ?)", [
            (i, NAMES[i % 4], f"note {i} ref 98765{i}", i * 7, i * 400, REGIONS[i % 3]) for i in range(8)
        ])
    con.close()


def rows(con, sql):
    try:
        got = con.execute(sql).fetchall()
    except duckdb.Error as e:
        return ("error", "may not read" in str(e) or str(e).split("\n")[0])
    return ("rows", sorted(tuple(None if v is None else str(v) for v in row) for row in got))


@pytest.mark.parametrize("seed", range(SETS))
def test_sandbox_views_show_what_dynamic_views_show(tmp_path, seed):
    rng = random.Random(seed)
    (tmp_path / "policies.yaml").write_text(policies(rng))
    (tmp_path / "users.yaml").write_text(users(rng))
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    db = tmp_path / "g.duckdb"
    database(db)
    project = ["--policies", tmp_path / "policies.yaml", "--users", tmp_path / "users.yaml",
               "--catalog", tmp_path / "catalog.yaml"]
    engine = ["--duckdb", db, "--keyring", KEYRING, "--extension", EXTENSION]
    veil("apply", *project, *engine)
    readers = [(f"u{i}", None) for i in range(4)] + [("u0", "fraud-team")]
    for user, proj in readers:
        schema = f"sb_{user}_{proj or 'none'}".replace("-", "_")
        veil("apply", *project, *engine, "--user", user, "--schema", schema, *(["--project", proj] if proj else []))
    verify = veil("verify", *project, *engine, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    con = connect(db)
    compared = 0
    for user, proj in readers:
        schema = f"sb_{user}_{proj or 'none'}".replace("-", "_")
        con.execute("SET VARIABLE veil_user = ?", [user])
        if proj is None:
            con.execute("RESET VARIABLE veil_project")
        else:
            con.execute("SET VARIABLE veil_project = ?", [proj])
        for s in SOURCES:
            view = s.split(".")[1]
            dynamic = rows(con, f"SELECT * FROM secure.{view}")
            sandbox = rows(con, f"SELECT * FROM {schema}.{view}")
            if dynamic == ("error", True):
                # Refused: the sandbox has no view for this reader.
                assert sandbox[0] == "error", f"{user}/{proj} on {s}: refused dynamically, sandbox shows {sandbox}"
                continue
            assert sandbox == dynamic, f"{user}/{proj} on {s}:\n{(tmp_path / 'policies.yaml').read_text()}"
            compared += 1
    assert compared >= 4
