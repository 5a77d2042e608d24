//! PostgreSQL: inspect the database, apply the bindings in one transaction and store
//! the derived keys' HMAC pads as bound parameters (never in SQL text).
//!
//! Before it changes anything, `veil apply --postgres` looks for what would let a
//! reader run code with veil's rights or with another reader's ([`inspect`]): a
//! schema on the path of veil's functions, the secure schema or the readers' own
//! search path where a reader (or PUBLIC) may create objects; a base table, schema or
//! object in `veil` that a reader owns. It refuses such a database, naming each
//! finding and the statement that fixes it, or revokes CREATE itself when asked.

use postgres::GenericClient;
use veil_core::{Key, Purpose, Scope};
use veil_host::targets::postgres::{hmac_pads, KeyScope, Postgres, OWNER_ROLE, READER_ROLE};

use crate::verify::{Outcome, Probe, Prober, Who};
use crate::{Error, Result};

/// The derived key for one [`KeyScope`] (veil-core's HKDF, as every engine uses).
pub fn derive(master: &Key, scope: &KeyScope) -> [u8; 32] {
    let purpose = if scope.purpose == "sample" { Purpose::Sample } else { Purpose::Hash };
    let mut s = Scope::parse(&scope.scope);
    if let Some(reader) = &scope.reader {
        s = s.for_reader(reader.clone());
    }
    master.derive(purpose, &s)
}

/// What [`inspect`] must know of the bindings about to be applied.
#[derive(Clone, Debug, Default)]
pub struct Exposure {
    /// Every role a reader logs in as or inherits from veil: users, group roles,
    /// `veil_reader` (those that do not exist yet are skipped).
    pub reader_roles: Vec<String>,
    /// The readers' login roles (what `$user` on a search path stands for).
    pub users: Vec<String>,
    /// The schema of the secure views.
    pub secure_schema: String,
    /// Every base table the view functions read, as (schema, table).
    pub base_tables: Vec<(String, String)>,
}

/// One thing that would let a reader run code with veil's rights or another reader's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What is wrong, naming the schema or object and the role.
    pub what: String,
    /// The statement that fixes it (ownership fixes name a placeholder owner).
    pub fix: String,
    /// Whether the fix is a REVOKE veil may run itself (`--revoke-public-create`).
    pub revocable: bool,
}

/// Why each schema is inspected, as [`inspect`]'s query spells it.
const DEFINER: &str = "on the search path of veil's functions";
const SECURE: &str = "the secure views' schema";
const READERS: &str = "on the readers' search path";

/// Look for what would let a reader run code with veil's rights or with another
/// reader's (read-only; run it in the apply's transaction, before any change).
///
/// Schemas checked for CREATE by PUBLIC or by a role a reader is a member of:
/// `pg_catalog` and `veil` (the path of every function veil creates), the secure
/// schema (a reader's view there would run as whoever reads it) and every schema on
/// the readers' default search path (`public` by default, plus the database's and the
/// readers' `search_path` settings; a reader's own `$user` schema is theirs). With
/// `$user` on that path, CREATE on the database is a finding too (a reader could
/// create a schema named after another reader). Ownership by a reader's role of any
/// of those schemas, of a base table or its schema, or of an object in `veil`, is a
/// finding that only the database owner can fix.
///
/// # Errors
/// [`Error::Engine`] when PostgreSQL refuses the catalog queries.
pub fn inspect(client: &mut impl GenericClient, exposure: &Exposure) -> Result<Vec<Finding>> {
    let engine = |e: postgres::Error| Error::Engine(format!("inspecting the database: {}", message(&e)));
    // The readers' default search path: the server's and every setting that applies.
    let settings: Vec<String> = client
        .query(
            "SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name OPERATOR(pg_catalog.=) 'search_path'
             UNION ALL
             SELECT pg_catalog.substr(c, 13) FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) c
             WHERE c OPERATOR(pg_catalog.~~) 'search_path=%'
               AND d.setdatabase OPERATOR(pg_catalog.=) ANY (ARRAY[0, (SELECT o.oid FROM pg_catalog.pg_database o
                   WHERE o.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())]::pg_catalog.oid[])
               AND (d.setrole OPERATOR(pg_catalog.=) 0 OR d.setrole OPERATOR(pg_catalog.=) ANY (SELECT r.oid
                   FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])))",
            &[&exposure.reader_roles],
        )
        .map_err(engine)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<std::result::Result<_, _>>()
        .map_err(engine)?;
    let mut schemas: Vec<(String, &str)> =
        vec![("pg_catalog".into(), DEFINER), ("veil".into(), DEFINER), (exposure.secure_schema.clone(), SECURE)];
    let mut dollar_user = false;
    for entry in std::iter::once("public".to_string()).chain(settings.iter().flat_map(|s| search_path_entries(s))) {
        if entry == "$user" {
            dollar_user = true;
            schemas.extend(exposure.users.iter().map(|u| (u.clone(), READERS)));
        } else if entry != "pg_temp" && !schemas.iter().any(|(s, _)| *s == entry) {
            schemas.push((entry, READERS));
        }
    }
    let (names, whys): (Vec<String>, Vec<String>) = schemas.into_iter().map(|(s, w)| (s, w.to_string())).unzip();
    let (base_schemas, base_tables): (Vec<String>, Vec<String>) = exposure.base_tables.iter().cloned().unzip();
    let rows = client
        .query(
            &inspect_sql(),
            &[&exposure.reader_roles, &names, &whys, &base_schemas, &base_tables, &dollar_user, &READERS],
        )
        .map_err(engine)?;
    let mut findings = rows
        .iter()
        .map(|r| Ok(Finding { what: r.try_get(0)?, fix: r.try_get(1)?, revocable: r.try_get(2)? }))
        .collect::<std::result::Result<Vec<Finding>, postgres::Error>>()
        .map_err(engine)?;
    findings.dedup();
    Ok(findings)
}

/// The entries of a `search_path` setting, unquoted (`"$user", public` -> `$user`, `public`).
fn search_path_entries(setting: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = setting.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            c if c.is_whitespace() && !quoted => {}
            c => current.push(c),
        }
    }
    out.push(current);
    out.retain(|e| !e.is_empty());
    out
}

/// The catalog query behind [`inspect`]: (what, fix, revocable) rows. Its own names
/// are all qualified: it may run before the path is pinned.
fn inspect_sql() -> String {
    // Functions, operators and types in schema veil, with their owners.
    let objects: Vec<String> = [
        ("function", "pg_proc", "proowner", "pronamespace", "regprocedure", ""),
        ("operator", "pg_operator", "oprowner", "oprnamespace", "regoperator", ""),
        (
            "type",
            "pg_type",
            "typowner",
            "typnamespace",
            "regtype",
            " AND x.typrelid OPERATOR(pg_catalog.=) 0 AND x.typcategory OPERATOR(pg_catalog.<>) 'A'",
        ),
    ]
    .iter()
    .map(|(kind, catalog, owner, namespace, reg, extra)| {
        let name = format!("CAST(CAST(x.oid AS pg_catalog.{reg}) AS pg_catalog.text)");
        format!(
            "  UNION ALL\n  SELECT '{kind} ' OPERATOR(pg_catalog.||) {name}, 'in veil''s schema', x.{owner},\n         \
             'DROP {} ' OPERATOR(pg_catalog.||) {name}, NULL\n  \
             FROM pg_catalog.{catalog} x JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) x.{namespace}\n  \
             WHERE n.nspname OPERATOR(pg_catalog.=) 'veil'{extra}",
            kind.to_uppercase()
        )
    })
    .collect();
    format!(
        r#"
WITH readers AS (
  SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
), readerish AS (
  SELECT DISTINCT g.oid, g.rolname FROM pg_catalog.pg_roles g, readers r
  WHERE pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')
), schemas AS (
  SELECT n.oid, n.nspname, n.nspowner, n.nspacl, s.why
  FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) AS s(name, why)
  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) s.name
), grants AS (
  SELECT s.nspname AS object, 'SCHEMA' AS kind, s.why, s.nspowner AS owner, a.grantee, g.rolname
  FROM schemas s
  CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(s.nspacl, pg_catalog.acldefault('n', s.nspowner))) a
  LEFT JOIN readerish g ON g.oid OPERATOR(pg_catalog.=) a.grantee
  WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
  UNION ALL
  SELECT d.datname, 'DATABASE', 'a reader could create a schema named after another reader, first on that reader''s search path ($user)',
         d.datdba, a.grantee, g.rolname
  FROM pg_catalog.pg_database d
  CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
  LEFT JOIN readerish g ON g.oid OPERATOR(pg_catalog.=) a.grantee
  WHERE $6 AND d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
    AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
), owned AS (
  SELECT 'schema ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.nspname) AS object, s.why, s.nspowner AS owner,
         'ALTER SCHEMA ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.nspname) AS alter_sql, s.nspname AS own_name
  FROM schemas s
  UNION ALL
  SELECT 'schema ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname), 'it holds a base table', n.nspowner,
         'ALTER SCHEMA ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname), NULL
  FROM pg_catalog.pg_namespace n
  WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($4::pg_catalog.text[])
  UNION ALL
  SELECT 'table ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
           OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),
         'veil''s view functions read it', c.relowner,
         'ALTER TABLE ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
           OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), NULL
  FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[])) AS b(schema, rel)
  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) b.schema
  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid AND c.relname OPERATOR(pg_catalog.=) b.rel
  UNION ALL
  SELECT 'relation veil.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), 'in veil''s schema', c.relowner,
         'DROP TABLE veil.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), NULL
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  WHERE n.nspname OPERATOR(pg_catalog.=) 'veil'
{objects}
)
SELECT pg_catalog.format('%s can CREATE in %s %I (%s)',
         CASE WHEN x.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC (every role)'
              ELSE 'reader role ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x.rolname) END,
         pg_catalog.lower(x.kind), x.object, x.why),
       pg_catalog.format('REVOKE CREATE ON %s %I FROM %s;', x.kind, x.object,
         CASE WHEN x.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(x.rolname) END),
       x.grantee OPERATOR(pg_catalog.<>) x.owner
FROM grants x
WHERE (x.grantee OPERATOR(pg_catalog.=) 0 OR x.rolname IS NOT NULL)
  AND NOT coalesce(x.why OPERATOR(pg_catalog.=) $7 AND x.rolname OPERATOR(pg_catalog.=) x.object, false)
UNION ALL
SELECT pg_catalog.format('reader role %I owns %s (%s)', g.rolname, o.object, o.why),
       CASE WHEN o.alter_sql OPERATOR(pg_catalog.~~) 'DROP %' THEN o.alter_sql OPERATOR(pg_catalog.||) ';'
            ELSE o.alter_sql OPERATOR(pg_catalog.||) ' OWNER TO <a role no reader can become>;' END,
       false
FROM owned o JOIN readerish g ON g.oid OPERATOR(pg_catalog.=) o.owner
WHERE NOT coalesce(o.why OPERATOR(pg_catalog.=) $7 AND g.rolname OPERATOR(pg_catalog.=) o.own_name, false)
ORDER BY 1
"#,
        objects = objects.join("\n")
    )
}

/// Run `statements` against the database at `url` in one transaction, then replace
/// the keys stored under `key_id` with `keys` (as `veil_owner`, bound parameters).
/// First [`inspect`]: any finding refuses the apply, unless `revoke_create` is set and
/// every finding is a REVOKE, which then runs in the same transaction. Nothing
/// changes when the apply is refused or any statement fails.
///
/// # Errors
/// [`Error::Refused`] listing every finding and its fix; [`Error::Engine`] naming
/// the statement that failed and PostgreSQL's message.
pub fn apply(
    url: &str,
    statements: &[String],
    key_id: &str,
    keys: &[(KeyScope, [u8; 32])],
    exposure: &Exposure,
    revoke_create: bool,
) -> Result<()> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| Error::Engine(format!("cannot connect to PostgreSQL: {}", message(&e))))?;
    let mut tx = client.transaction().map_err(|e| Error::Engine(message(&e)))?;
    tx.batch_execute("SET LOCAL search_path = pg_catalog, pg_temp").map_err(|e| Error::Engine(message(&e)))?;
    let findings = inspect(&mut tx, exposure)?;
    if !findings.is_empty() {
        if !revoke_create || findings.iter().any(|f| !f.revocable) {
            return Err(refusal(&findings, revoke_create));
        }
        for f in &findings {
            eprintln!("veil: {}: {}", f.what, f.fix);
            tx.batch_execute(&f.fix).map_err(|e| Error::Engine(format!("`{}`: {}", f.fix, message(&e))))?;
        }
        let left = inspect(&mut tx, exposure)?;
        if !left.is_empty() {
            return Err(refusal(&left, revoke_create));
        }
    }
    for sql in statements {
        tx.batch_execute(sql).map_err(|e| {
            let first = sql.lines().next().unwrap_or_default();
            Error::Engine(format!("PostgreSQL refused `{first}`…: {}", message(&e)))
        })?;
    }
    let owner = format!("SET ROLE \"{OWNER_ROLE}\"");
    tx.batch_execute(&owner).map_err(|e| Error::Engine(message(&e)))?;
    tx.execute("DELETE FROM veil.keys WHERE key_id = $1", &[&key_id]).map_err(|e| Error::Engine(message(&e)))?;
    let insert = tx
        .prepare(
            "INSERT INTO veil.keys (key_id, purpose, scope, reader, inner_pad, outer_pad) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .map_err(|e| Error::Engine(message(&e)))?;
    for (scope, key) in keys {
        let reader = scope.reader.clone().unwrap_or_default();
        let (inner, outer) = hmac_pads(key);
        let (inner, outer): (&[u8], &[u8]) = (&inner, &outer);
        tx.execute(&insert, &[&key_id, &scope.purpose, &scope.scope, &reader, &inner, &outer])
            .map_err(|e| Error::Engine(format!("storing keys: {}", message(&e))))?;
    }
    tx.batch_execute("RESET ROLE").map_err(|e| Error::Engine(message(&e)))?;
    tx.commit().map_err(|e| Error::Engine(message(&e)))
}

/// The refusal: every finding with its fix.
fn refusal(findings: &[Finding], revoke_create: bool) -> Error {
    let mut text = String::from(
        "veil apply refused: in this database a reader could run code with veil's rights or with another \
         reader's; nothing was changed.\n",
    );
    for f in findings {
        text.push_str(&format!("  - {}\n      fix: {}\n", f.what, f.fix));
    }
    text.push_str(if revoke_create {
        "Ownership cannot be fixed by veil: run the ALTER/DROP statements above as a superuser, then apply again."
    } else {
        "Run the statements above as a superuser (or the owner), or give --revoke-public-create to have veil \
         run the REVOKE statements in the same transaction; ownership must be fixed by hand."
    });
    Error::Refused(text)
}

/// `veil verify --postgres`: probes the secure views as each reader over one
/// administrator connection, becoming each reader with `SET SESSION AUTHORIZATION`
/// (which sets `session_user`, the identity the views check; `SET ROLE` does not).
/// The specialised SELECTs and the base columns are read as the administrator; rows
/// and values are compared here, as text in one pinned session setting.
pub struct Verifier {
    client: postgres::Client,
}

/// A reader's session, or the administrator's, for one probe.
fn become_sql(who: &Who) -> Vec<String> {
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    match who {
        Who::Nobody => Vec::new(),
        // A role veil does not know: veil_reader itself, which no user is.
        Who::Stranger => vec![format!("SET SESSION AUTHORIZATION \"{READER_ROLE}\"")],
        Who::Reader { user, project } => {
            let mut out = vec![format!("SET SESSION AUTHORIZATION {}", quote_ident(user))];
            if let Some(p) = project {
                out.push(format!("SELECT pg_catalog.set_config('veil.project', {}, false)", literal(p)));
            }
            out
        }
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Verifier {
    /// Connect as a superuser (the role `veil apply` used).
    ///
    /// # Errors
    /// [`Error::Engine`] when PostgreSQL cannot be reached or the role may not
    /// become readers.
    pub fn connect(url: &str) -> Result<Self> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| Error::Engine(format!("cannot connect to PostgreSQL: {}", message(&e))))?;
        client
            .batch_execute(
                "SET search_path = pg_catalog, pg_temp; SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; \
                 SET IntervalStyle = 'postgres'; SET extra_float_digits = 3",
            )
            .map_err(|e| Error::Engine(message(&e)))?;
        let superuser: bool = client
            .query_one(
                "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) session_user",
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(|e| Error::Engine(message(&e)))?;
        if !superuser {
            return Err(Error::Usage(
                "veil verify --postgres needs a superuser's URL: it reads as each reader with SET SESSION AUTHORIZATION"
                    .into(),
            ));
        }
        Ok(Verifier { client })
    }

    /// Run [`inspect`] again: what would let a reader run code with veil's rights now.
    ///
    /// # Errors
    /// [`Error::Engine`] when PostgreSQL refuses the catalog queries.
    pub fn inspect(&mut self, exposure: &Exposure) -> Result<Vec<Finding>> {
        inspect(&mut self.client, exposure)
    }

    /// Every row of `sql` as text (one column per row), as `who`.
    fn texts(&mut self, who: &Who, sql: &str) -> std::result::Result<Vec<Option<String>>, postgres::Error> {
        let mut run = || -> std::result::Result<Vec<Option<String>>, postgres::Error> {
            for s in become_sql(who) {
                self.client.batch_execute(&s)?;
            }
            self.client.query(sql, &[])?.iter().map(|r| r.try_get(0)).collect()
        };
        let rows = run();
        // Back to the administrator whatever happened.
        let reset = self.client.batch_execute("RESET SESSION AUTHORIZATION; RESET veil.project");
        let rows = rows?;
        reset?;
        Ok(rows)
    }

    fn one(&mut self, probe: &Probe) -> std::result::Result<i64, postgres::Error> {
        let multiset = |rows: Vec<Option<String>>| {
            let mut counts = std::collections::HashMap::new();
            for r in rows {
                *counts.entry(r).or_insert(0i64) += 1;
            }
            counts
        };
        Ok(match probe {
            Probe::Count { who, view } => {
                let n = self.texts(who, &format!("SELECT CAST(count(*) AS text) FROM {view}"))?;
                n.first().cloned().flatten().and_then(|n| n.parse().ok()).unwrap_or(-1)
            }
            Probe::Differ { who, view, expected } => {
                let got = multiset(self.texts(who, &format!("SELECT CAST(d AS text) FROM {view} d"))?);
                let want = multiset(self.texts(&Who::Nobody, &format!("SELECT CAST(s AS text) FROM ({expected}) s"))?);
                let keys: std::collections::HashSet<_> = got.keys().chain(want.keys()).collect();
                keys.into_iter()
                    .map(|k| (got.get(k).copied().unwrap_or(0) - want.get(k).copied().unwrap_or(0)).abs())
                    .sum()
            }
            Probe::Raw { who, view, column, base } => {
                let shown = self.texts(
                    who,
                    &format!("SELECT CAST(d.{column} AS text) FROM {view} d WHERE d.{column} IS NOT NULL"),
                )?;
                let raw: std::collections::HashSet<Option<String>> = self
                    .texts(
                        &Who::Nobody,
                        &format!("SELECT DISTINCT CAST({column} AS text) FROM {base} WHERE {column} IS NOT NULL"),
                    )?
                    .into_iter()
                    .collect();
                shown.iter().filter(|v| raw.contains(*v)).count() as i64
            }
        })
    }
}

impl Prober for Verifier {
    fn target(&self) -> &dyn veil_host::targets::Target {
        &Postgres
    }

    fn probe(&mut self, probes: &[Probe], done: &mut dyn FnMut(usize)) -> Result<Vec<Outcome>> {
        Ok(probes
            .iter()
            .map(|p| {
                let outcome = match self.one(p) {
                    Ok(n) => Outcome { count: Some(n), error: None, refused: false },
                    Err(e) => Outcome {
                        count: None,
                        // A denied privilege on the view (no grant) or veil's own refusal.
                        refused: e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
                        error: Some(message(&e)),
                    },
                };
                done(1);
                outcome
            })
            .collect())
    }
}

/// PostgreSQL's own message when there is one (the client's is often "db error").
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_settings_split_like_postgres() {
        assert_eq!(search_path_entries("\"$user\", public"), ["$user", "public"]);
        assert_eq!(search_path_entries("a,\"B c\",\"x\"\"y\""), ["a", "B c", "x\"y"]);
        assert!(search_path_entries("").is_empty());
    }

    proptest::proptest! {
        /// Names written as PostgreSQL writes a search_path (quoted when needed,
        /// inner quotes doubled) split back into the same names.
        #[test]
        fn search_path_settings_round_trip(names in proptest::collection::vec("[a-zA-Z_$\" ,.é]{1,12}", 1..5)) {
            let setting: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
            proptest::prop_assert_eq!(search_path_entries(&setting.join(", ")), names);
        }
    }

    #[test]
    fn pads_are_rfc_2104s() {
        let (inner, outer) = hmac_pads(&[0u8; 32]);
        assert!(inner.iter().all(|b| *b == 0x36) && outer.iter().all(|b| *b == 0x5c));
        let (inner, _) = hmac_pads(&[0xffu8; 32]);
        assert_eq!(inner[0], 0xc9);
        assert_eq!(inner[32], 0x36);
    }
}
