"""DuckDB's dynamic views read their reader from `veil.reader` (over
`veil.reader_facts`, derived by `veil apply` from the facts tables). For every
reader, project and attribute key, including unknown readers, unset variables,
projects the reader is not a member of and keys that differ only in case, it must
say what the facts tables say."""
import shutil

from conftest import connect, engine_args, project_args, veil

USERS = """
projects:
  - name: growth_dashboard
    purposes: [Marketing Analysis]
  - name: audit
    purposes: [Fraud Detection, Compliance]
  - name: idle
    purposes: []
users:
  - name: alice
    groups: [Employees, Support]
    attributes: {Country: US, country: fr, Access: Strictly Confidential.Confidential, sales_region: [Ohio, Michigan]}
    projects: [growth_dashboard, audit]
  - name: "o'brien"
    attributes: {Access: Customer}
    projects: [idle]
  - name: nogroups
  - name: erin
    groups: [Employees, Analysts]
    attributes: {sales_region: [Ohio, Michigan, Île-de-France]}
    projects: [growth_dashboard]
"""


def old_form(c, user, project, keys):
    """The facts as the subqueries every view held before `veil.reader`."""
    known = c.execute("SELECT EXISTS (SELECT 1 FROM veil.users WHERE user_name = ?)", [user]).fetchone()[0]
    groups = [r[0] for r in c.execute("SELECT group_name FROM veil.user_groups WHERE user_name = ?", [user]).fetchall()]
    purposes = [r[0] for r in c.execute(
        "SELECT p.purpose FROM veil.user_projects m JOIN veil.project_purposes p ON p.project = m.project "
        "WHERE m.user_name = ? AND m.project = ?", [user, project]).fetchall()]
    values = {k: sorted(r[0] for r in c.execute(
        "SELECT value FROM veil.user_attributes WHERE user_name = ? AND key = ?", [user, k]).fetchall()) for k in keys}
    return known, sorted(groups), sorted(purposes), values


def test_the_reader_view_says_what_the_facts_tables_say(built, tmp_path):
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    users = tmp_path / "users.yaml"
    users.write_text(USERS)
    args = [a if a != built / "users.yaml" else users for a in project_args(built)]
    veil("apply", *args, *engine_args(database))

    c = connect(database)
    keys = [r[0] for r in c.execute("SELECT DISTINCT key FROM veil.user_attributes").fetchall()] + ["Nope", "COUNTRY"]
    assert {"Country", "country"} <= set(keys)
    readers = [r[0] for r in c.execute("SELECT user_name FROM veil.users").fetchall()] + ["stranger", None, 42]
    projects = ["growth_dashboard", "audit", "idle", "nowhere", None]
    checked = 0
    for user in readers:
        for project in projects:
            for name, value in (("veil_user", user), ("veil_project", project)):
                if value is None:
                    c.execute(f"RESET VARIABLE {name}")
                else:
                    c.execute(f"SET VARIABLE {name} = ?", [value])
            rows = c.execute('SELECT "veil:known", "veil:groups", "veil:purposes", "veil:attributes" FROM veil.reader').fetchall()
            assert len(rows) == 1, (user, project, rows)
            known, groups, purposes, attributes = rows[0]
            attributes = attributes or {}
            got = (known, sorted(groups), sorted(purposes), {k: sorted(attributes.get(k) or []) for k in keys})
            facts_user = None if user is None else str(user)
            facts_project = None if project is None else str(project)
            assert got == old_form(c, facts_user, facts_project, keys), (user, project)
            checked += 1
    assert checked == len(readers) * len(projects)
    c.close()
