//! PostgreSQL: real roles, grants on secure views, the keyed hash on the built-in `sha256`.
//!
//! What [`bind`] generates (one transaction when `veil apply --postgres` runs it):
//! - roles: `veil_owner` (NOLOGIN; owns every object veil makes, nobody is made a
//!   member), `veil_reader` (NOLOGIN; every reader; USAGE on the secure schema),
//!   one LOGIN role per user named exactly as the user, and one NOLOGIN role per
//!   group, `group:<name>`, whose members are the group's users;
//! - schema `veil` (facts about readers, the key table, the functions; no reader
//!   has USAGE on it) and the secure schema of views;
//! - per data source, a SECURITY DEFINER set-returning function `veil.view_<view>()`
//!   owned by `veil_owner` that reads the base table, masks and filters for
//!   `session_user`, and a view `secure.<view>` over it. Only readers entitled to
//!   the source get SELECT on the view and EXECUTE on its function;
//! - base tables: SELECT for `veil_owner`, every privilege revoked from PUBLIC and
//!   from every reader and group role.
//!
//! Keys never appear in SQL: `veil apply` derives one key per purpose and scope
//! (veil-core's HKDF) and inserts them into `veil.keys` as bound parameters; only
//! `veil_owner` can read that table. Mask functions (`veil.keyed_hash`,
//! `veil.in_sample`) are SECURITY DEFINER, EXECUTE revoked from PUBLIC: a reader
//! can never hash a value of their choosing (no hashing oracle).
//!
//! Every function veil creates runs with [`DEFINER_PATH`] (`pg_catalog, veil, pg_temp`)
//! and pinned settings, calls its helpers schema-qualified, and needs no extension; the
//! view functions hide PostgreSQL's error messages (which can quote a base value) from
//! readers. The generated script starts with `SET search_path = pg_catalog, pg_temp`,
//! so the applying superuser never resolves a name in a schema readers can write.
//!
//! Re-applying drops every view in the secure schema and every function in
//! `veil`, then recreates them with exactly the grants the policies give: a
//! grant a policy no longer gives is gone.

use std::collections::BTreeSet;

use veil_policy::{ColumnType, DataSource, Engine, Keep, Mask, Rounding, TimeUnit};

use super::dialect::TypeNames;
use super::{MaskContext, Target};
use crate::pipeline::{Deployment, Section, Sections};
use crate::render::{self, ViewParts, FACTS_SCHEMA};
use crate::{BindOptions, Bindings, Error, Result, StatementKind};

/// Role that owns every object veil creates; readers are never its members.
pub const OWNER_ROLE: &str = "veil_owner";
/// Role every reader is a member of (USAGE on the secure schema).
pub const READER_ROLE: &str = "veil_reader";
/// Prefix of the roles mirroring veil groups.
pub const GROUP_ROLE_PREFIX: &str = "group:";
/// The only schemas a function veil creates resolves names in: the system catalog
/// first, veil's own schema (`veil`, where no reader may create anything: `veil apply`
/// checks before it changes anything), and the session's temporary schema last, where
/// PostgreSQL never looks up functions or operators. Overload resolution considers
/// every schema on the path, so a schema a reader can write has no place on it.
pub const DEFINER_PATH: &str = "pg_catalog, veil, pg_temp";
/// The settings every function veil creates runs under, whatever the reader's session
/// says: the pinned path, and the settings that change how its SQL reads or computes
/// (string literals, date output and parsing, the time zone of time windows).
const DEFINER_SETTINGS: &str = "SET search_path = pg_catalog, veil, pg_temp\n\
                                SET standard_conforming_strings = on\n\
                                SET DateStyle = 'ISO, YMD'\n\
                                SET IntervalStyle = 'postgres'\n\
                                SET TimeZone = 'UTC'";
/// PostgreSQL truncates longer identifiers; veil refuses them instead.
const MAX_IDENT_BYTES: usize = 63;

/// The PostgreSQL target.
#[derive(Clone, Debug, Default)]
pub struct Postgres;

/// A `DO` block of loops over `r record` (each statement of `loops` ends its line).
fn record_loops(loops: &str) -> String {
    format!("DO {};", dollar_quote(&format!("DECLARE r record;\nBEGIN\n{loops}END")))
}

/// The role mirroring veil group `group`.
fn group_role(group: &str) -> String {
    format!("{GROUP_ROLE_PREFIX}{group}")
}

/// One key `veil apply` derives and stores in `veil.keys`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyScope {
    /// `hash` or `sample` (veil-core's `Purpose`).
    pub purpose: &'static str,
    /// `source:<id>` or `project:<id>` (veil-core's `Scope::parse`).
    pub scope: String,
    /// For per-reader hashes, the reader.
    pub reader: Option<String>,
}

fn check_ident(kind: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_IDENT_BYTES || name.contains('\0') {
        return Err(Error::Invalid(format!(
            "{kind} `{name}` cannot be a PostgreSQL name: use 1 to {MAX_IDENT_BYTES} bytes"
        )));
    }
    Ok(())
}

/// `$veil$…$veil$` around `body`, with a tag the body does not contain.
fn dollar_quote(body: &str) -> String {
    let mut tag = String::from("$veil$");
    let mut n = 0u32;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$veil{n}$");
    }
    format!("{tag}\n{body}\n{tag}")
}

/// PostgreSQL in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "postgres",
    about: "PostgreSQL: roles, grants, SECURITY DEFINER view functions, the DDL lock",
    options: &[],
    make: |_, _, _| Ok(Box::new(Postgres)),
};

impl Target for Postgres {
    fn validate(&self, engine: &Engine, options: &BindOptions, sources: &[&DataSource]) -> Result<()> {
        Postgres::check(engine, options, sources)
    }

    fn deploy(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        self.deploy_sections(bind, out)
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn types(&self) -> TypeNames {
        TypeNames {
            text: "text",
            integer: "bigint",
            float: "double precision",
            decimal: "numeric",
            decimal_space: false,
            boolean: "boolean",
            date: "date",
            timestamp: "timestamp",
            brackets: true,
        }
    }

    /// Quoted identifiers are case-sensitive.
    fn fold_ident(&self, ident: &str) -> String {
        ident.to_owned()
    }

    /// The logged-in role: inside the SECURITY DEFINER view functions
    /// `current_user` is the owner, and `SET ROLE` must not change who reads.
    fn reader(&self) -> String {
        "session_user".into()
    }

    fn project(&self) -> String {
        "nullif(current_setting('veil.project', true), '')".into()
    }

    fn deny(&self, message_sql: &str) -> String {
        format!("{}({message_sql})", self.facts_table("deny"))
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        let ty = self.sql_type(ctx.column_type)?;
        Ok(match mask {
            Mask::Component { .. } => return self.component_mask(mask, c, ctx),
            Mask::Hash { scope, per_reader } => {
                // The text form hashed must be the one DuckDB's CAST(… AS VARCHAR) gives.
                let text = match ctx.column_type {
                    ColumnType::Text => c.to_string(),
                    ColumnType::Integer
                    | ColumnType::Decimal { .. }
                    | ColumnType::Boolean
                    | ColumnType::Date
                    | ColumnType::Timestamp => format!("CAST(CAST({c} AS {ty}) AS text)"),
                    ColumnType::Float | ColumnType::Other { .. } => {
                        return Err(super::warehouse::unsupported("postgres", ctx,
                            "a keyed hash of a floating-point or engine-specific column: PostgreSQL writes \
                             these values as text differently from veil-core and DuckDB, so hashes would not \
                             match; cast the column to text or decimal in dbt",
                        ))
                    }
                };
                let reader = if *per_reader { self.reader_of(ctx) } else { "NULL".into() };
                format!(
                    "{}({text}, {}, {}, {reader})",
                    self.facts_table("keyed_hash"),
                    self.literal(ctx.key_id),
                    self.hash_scope(ctx, *scope)
                )
            }
            Mask::Null => format!("CAST(NULL AS {ty})"),
            Mask::Constant { value } => {
                let literal = crate::render::constant(self, value);
                format!("CAST({literal} AS {ty})")
            }
            Mask::Regex { pattern, replacement } => {
                let pattern = posix_pattern(pattern).map_err(|why| super::warehouse::unsupported("postgres", ctx, &why))?;
                let replacement = super::warehouse::regex_replacement(replacement, "$", Some("\\\\")).map_err(|why| super::warehouse::unsupported("postgres", ctx, &why))?;
                format!("regexp_replace({c}, {}, {}, 'g')", self.literal(&pattern), self.literal(&replacement))
            }
            Mask::Reveal { keep, fill } => {
                let fill = self.literal(&fill.to_string());
                match keep {
                    Keep::First(n) => format!("(left({c}, {n}) || repeat({fill}, char_length({c}) - {n}))"),
                    Keep::Last(n) => format!("(repeat({fill}, char_length({c}) - {n}) || right({c}, {n}))"),
                }
            }
            Mask::Email => format!(
                "CASE WHEN {c} IS NULL THEN NULL ELSE coalesce('XXXXX@' || nullif(substring({c} from '@([^@]*)$'), ''), 'XXXXX') END"
            ),
            Mask::Round { rounding } => match (rounding, ctx.column_type) {
                (Rounding::Width(w), ColumnType::Integer) if w.fract() == 0.0 => {
                    format!("CAST(round(CAST({c} AS numeric) / {w}) * {w} AS bigint)")
                }
                (Rounding::Width(w), ColumnType::Decimal { .. } | ColumnType::Integer) => {
                    format!("CAST(round(CAST({c} AS numeric) / {w:?}) * {w:?} AS {ty})")
                }
                (Rounding::Places(p), ColumnType::Decimal { .. } | ColumnType::Integer) => {
                    format!("CAST(round(CAST({c} AS numeric), {p}) AS {ty})")
                }
                _ => {
                    return Err(super::warehouse::unsupported("postgres", ctx,
                        "rounding a floating-point column: PostgreSQL rounds double precision half to even \
                         and converts it to numeric with 15 digits, so results would differ from veil-core; \
                         cast the column to decimal in dbt",
                    ))
                }
            },
            Mask::Trunc { unit } => {
                let unit = match unit {
                    TimeUnit::Minute => "minute",
                    TimeUnit::Hour => "hour",
                    TimeUnit::Day => "day",
                    TimeUnit::Month => "month",
                    TimeUnit::Quarter => "quarter",
                    TimeUnit::Year => "year",
                };
                match ctx.column_type {
                    ColumnType::Date => format!("CAST(date_trunc('{unit}', CAST({c} AS timestamp)) AS date)"),
                    ColumnType::Timestamp => format!("date_trunc('{unit}', CAST({c} AS timestamp))"),
                    _ => {
                        return Err(super::warehouse::unsupported("postgres", ctx,
                            "date truncation of a column that is not a date or timestamp (veil-core parses \
                             ISO-8601 text; PostgreSQL would not agree on every form); type the column in dbt",
                        ))
                    }
                }
            }
            Mask::Reversible { .. } => {
                return Err(super::warehouse::unsupported("postgres", ctx,
                    "reversible tokens (AES-SIV) have no faithful PostgreSQL equivalent, and veil never \
                     substitutes a weaker mask; use hash or null for this target, or bind it to DuckDB",
                ))
            }
            Mask::FormatPreserving => {
                return Err(super::warehouse::unsupported("postgres", ctx,
                    "format-preserving encryption (NIST FF1) has no faithful PostgreSQL equivalent, and veil \
                     never substitutes a weaker mask; use hash or null for this target, or bind it to DuckDB",
                ))
            }
        })
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        format!(
            "CAST({column_sql} AS timestamp) >= CAST(current_timestamp AS timestamp) - interval '1 second' * {seconds}"
        )
    }

    fn sample_text(&self, column_sql: &str) -> String {
        format!("coalesce({}, '')", self.text(column_sql))
    }

    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String> {
        if percent >= 100.0 {
            return Ok("TRUE".into());
        }
        // veil-core keeps a row when the first 8 bytes of its HMAC, as an
        // unsigned big-endian integer, are below its threshold.
        Ok(format!(
            "{}({row_key}, {}, {}, {})",
            self.facts_table("in_sample"),
            self.literal(ctx.key_id),
            self.literal(&format!("source:{}", ctx.source)),
            veil_core::rows::sample_threshold(percent)
        ))
    }

    fn preamble(&self) -> Vec<String> {
        Vec::new()
    }

    fn replace_table(&self, name: &str, columns: &str) -> Vec<String> {
        vec![format!("DROP TABLE IF EXISTS {name};"), format!("CREATE TABLE {name} ({columns});")]
    }

    /// A SECURITY DEFINER function that reads the base table as `veil_owner`, and
    /// a view over it. PostgreSQL checks EXECUTE on functions a view calls against
    /// the reader, so masks cannot be called from the view itself without giving
    /// readers a hashing oracle; the function is the only thing they may run.
    fn view(&self, parts: &ViewParts<'_>) -> Result<Option<(String, String)>> {
        let function_name = format!("view_{}", parts.view);
        check_ident("view", parts.view)?;
        check_ident("function", &function_name)?;
        let function = self.facts_table(&function_name);
        let mut returns = Vec::new();
        let mut outputs = Vec::new();
        let mut names = Vec::new();
        for c in parts.columns {
            let name = self.quote_ident(&c.name);
            let ty = self.sql_type(&c.output_type)?;
            returns.push(format!("{name} {ty}"));
            outputs.push(format!("  CAST({} AS {ty}) AS {name}", c.expr));
            names.push(name);
        }
        let mut select = format!("SELECT\n{}\nFROM {}", outputs.join(",\n"), parts.from);
        if !parts.filters.is_empty() {
            select.push_str(&format!("\nWHERE {}", parts.filters.join("\n  AND ")));
        }
        // PL/pgSQL so that an error inside the function (a cast of a base value, say)
        // reaches the reader as veil's message and SQLSTATE only: PostgreSQL's own
        // messages can quote the value. The original goes to the server log only
        // (client_min_messages is pinned above LOG here). veil's refusal passes.
        let body = format!(
            "#variable_conflict use_column\nBEGIN\nRETURN QUERY\n{select};\n\
             EXCEPTION\n  WHEN insufficient_privilege THEN RAISE;\n  \
             WHEN OTHERS THEN\n    RAISE LOG {}, session_user, SQLERRM, SQLSTATE;\n    \
             RAISE EXCEPTION USING ERRCODE = SQLSTATE, MESSAGE = {};\nEND",
            self.literal(&format!("{} failed for %: % (SQLSTATE %)", function.replace('%', "%%"))),
            self.literal(&format!(
                "veil: the view of {} failed; its message is withheld from readers and written to the server log",
                parts.view
            ))
        );
        let sql = format!(
            "CREATE FUNCTION {function}()\nRETURNS TABLE ({})\nLANGUAGE plpgsql STABLE SECURITY DEFINER\n\
             {DEFINER_SETTINGS}\nSET client_min_messages = warning\nAS {};\n\
             REVOKE ALL ON FUNCTION {function}() FROM PUBLIC;\n\
             CREATE VIEW {}.{} AS SELECT {} FROM {function}();",
            returns.join(", "),
            dollar_quote(&body),
            parts.schema,
            self.quote_ident(parts.view),
            names.join(", ")
        );
        Ok(Some((sql, select)))
    }
}

/// Generate the PostgreSQL bindings: roles, memberships, the owner's schema and
/// functions, reader facts, one SECURITY DEFINER function and view per source,
/// and grants for exactly the readers each source's policies entitle.
///
/// # Errors
/// [`Error::Unsupported`] for a mask PostgreSQL cannot enforce faithfully (FF1,
/// reversible tokens, …), naming the policy and column; [`Error::Invalid`] for
/// names PostgreSQL cannot hold or a secure schema that would clash;
/// [`Error::Policy`] for unknown sources.
pub fn bind(engine: &Engine, options: &BindOptions) -> Result<Bindings> {
    crate::bind(engine, &Postgres, options)
}

impl Postgres {
    /// Names PostgreSQL must hold: the secure schema, users, group roles.
    fn check(engine: &Engine, options: &BindOptions, sources: &[&DataSource]) -> Result<()> {
        let t = Postgres;
        check_ident("schema", &options.secure_schema)?;
        if options.secure_schema == FACTS_SCHEMA {
            return Err(Error::Invalid(format!(
                "the secure schema cannot be `{FACTS_SCHEMA}`: veil keeps its own objects there"
            )));
        }
        for s in sources {
            if s.schema.as_deref() == Some(options.secure_schema.as_str()) {
                return Err(Error::Invalid(format!(
                    "the secure schema `{}` holds data source `{}`: veil drops the views in its schema on every \
                     apply; choose another --schema",
                    options.secure_schema, s.name
                )));
            }
        }
        let (users, groups) = t.principals(engine);
        for u in &users {
            check_ident("user", u)?;
        }
        for g in &groups {
            check_ident("group role", &group_role(g))?;
            if users.iter().any(|u| *u == group_role(g)) {
                return Err(Error::Invalid(format!(
                    "user `{}` has the name of the role for group `{g}`",
                    group_role(g)
                )));
            }
        }
        for reserved in [OWNER_ROLE, READER_ROLE] {
            if users.iter().any(|u| u == reserved) {
                return Err(Error::Invalid(format!("user `{reserved}` has the name of a role veil reserves")));
            }
        }
        Ok(())
    }

    /// The directory's users and groups.
    fn principals(&self, engine: &Engine) -> (Vec<String>, BTreeSet<String>) {
        let directory = engine.directory();
        let users = directory.users().map(|u| u.name.clone()).collect();
        let groups = directory.users().flat_map(|u| u.groups.iter().cloned()).collect();
        (users, groups)
    }

    /// Roles, memberships, schemas and base-table privileges, then (as `veil_owner`)
    /// veil's functions; after the views, the grants, and the DDL lock trigger.
    fn deploy_sections(&self, bind: &Deployment<'_>, sections: &mut Sections) -> Result<()> {
        let t = self;
        let (engine, options, sources) = (bind.engine, bind.options, bind.sources);
        let directory = engine.directory();
        let (users, groups) = t.principals(engine);
        let out = &mut sections.roles;
        let owner = t.quote_ident(OWNER_ROLE);
        let reader_role = t.quote_ident(READER_ROLE);
        let veil = t.quote_ident(FACTS_SCHEMA);
        let secure = t.quote_ident(&options.secure_schema);
        let array = |names: &[String]| -> String {
            if names.is_empty() {
                "ARRAY[]::text[]".into()
            } else {
                format!("ARRAY[{}]::text[]", names.iter().map(|n| t.literal(n)).collect::<Vec<_>>().join(", "))
            }
        };
        let group_roles: Vec<String> = groups.iter().map(|g| group_role(g)).collect();
        let access = |out: &mut Section, sql: String| out.push(StatementKind::Access, None, sql);

        // Every name below resolves in the system catalog (and the applying session's own
        // temporary schema), never in a schema a reader may write, such as `public`.
        out.push(StatementKind::Setup, None, "SET search_path = pg_catalog, pg_temp;".into());
        // Roles: create what is missing; never alter a role that exists, but refuse
        // readers that could go around the views.
        access(
            out,
            format!(
                "DO {};",
                dollar_quote(&format!(
                    "DECLARE n text;\nBEGIN\n\
                     FOREACH n IN ARRAY {} LOOP\n\
                     \x20 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = n) THEN EXECUTE format('CREATE ROLE %I NOLOGIN', n); END IF;\n\
                     END LOOP;\n\
                     FOREACH n IN ARRAY {} LOOP\n\
                     \x20 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = n) THEN EXECUTE format('CREATE ROLE %I LOGIN', n); END IF;\n\
                     \x20 IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = n AND (rolsuper OR rolbypassrls)) OR pg_has_role(n, {}, 'MEMBER') THEN\n\
                     \x20   RAISE EXCEPTION 'veil: reader role % is a superuser, bypasses row security or can become {OWNER_ROLE}; readers must not go around the views', n;\n\
                     \x20 END IF;\n\
                     END LOOP;\n\
                     END",
                    array(&[OWNER_ROLE.to_string(), READER_ROLE.to_string()].into_iter().chain(group_roles.iter().cloned()).collect::<Vec<_>>()),
                    array(&users),
                    t.literal(OWNER_ROLE),
                ))
            ),
        );
        // Memberships: exactly the directory's. Revoke first, then grant.
        access(
            out,
            record_loops(&format!(
                "FOR r IN SELECT g.rolname AS grp, m.rolname AS member FROM pg_auth_members a\n\
                 \x20 JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member\n\
                 \x20 WHERE g.rolname = {} OR g.rolname LIKE {} LOOP\n\
                 \x20 EXECUTE format('REVOKE %I FROM %I', r.grp, r.member);\n\
                 END LOOP;\n",
                t.literal(READER_ROLE),
                t.literal(&format!("{}%", GROUP_ROLE_PREFIX.replace('%', "\\%").replace('_', "\\_"))),
            )),
        );
        if !users.is_empty() {
            let list: Vec<String> = users.iter().map(|u| t.quote_ident(u)).collect();
            access(out, format!("GRANT {reader_role} TO {};", list.join(", ")));
        }
        for g in &groups {
            let members: Vec<String> =
                directory.users().filter(|u| u.groups.contains(g)).map(|u| t.quote_ident(&u.name)).collect();
            if !members.is_empty() {
                access(out, format!("GRANT {} TO {};", t.quote_ident(&group_role(g)), members.join(", ")));
            }
        }
        // Schemas owned by veil_owner; the owner may create schemas' objects only.
        access(
            out,
            format!(
                "DO {};",
                dollar_quote(&format!(
                    "BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO %I', current_database(), {}); END",
                    t.literal(OWNER_ROLE)
                ))
            ),
        );
        for schema in [&veil, &secure] {
            out.push(
                StatementKind::Setup,
                None,
                format!("CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner};"),
            );
            out.push(StatementKind::Setup, None, format!("ALTER SCHEMA {schema} OWNER TO {owner};"));
            access(out, format!("REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;"));
        }
        access(out, format!("GRANT USAGE ON SCHEMA {secure} TO {reader_role};"));
        // Base tables: the owner reads them; nobody else veil manages does.
        let everyone: Vec<String> = std::iter::once("PUBLIC".to_string())
            .chain([READER_ROLE].iter().map(|r| t.quote_ident(r)))
            .chain(users.iter().map(|u| t.quote_ident(u)))
            .chain(group_roles.iter().map(|g| t.quote_ident(g)))
            .collect();
        let mut base_schemas = BTreeSet::new();
        for s in sources {
            if let Some(schema) = &s.schema {
                if base_schemas.insert(schema.clone()) {
                    access(out, format!("GRANT USAGE ON SCHEMA {} TO {owner};", t.quote_ident(schema)));
                }
            }
            let base = render::base_relation(s, t);
            access(out, format!("GRANT SELECT ON {base} TO {owner};"));
            access(out, format!("REVOKE ALL ON {base} FROM {};", everyone.join(", ")));
        }
        // Drop what the last apply made: views in the secure schema, functions in veil.
        access(
            out,
            record_loops(&format!(
                "FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n\
                 \x20 WHERE n.nspname = {} AND c.relkind = 'v' LOOP\n\
                 \x20 EXECUTE format('DROP VIEW %s CASCADE', r.name);\n\
                 END LOOP;\n\
                 FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n\
                 \x20 WHERE n.nspname = {} LOOP\n\
                 \x20 EXECUTE format('DROP FUNCTION %s CASCADE', r.name);\n\
                 END LOOP;\n",
                t.literal(&options.secure_schema),
                t.literal(FACTS_SCHEMA),
            )),
        );
        // Everything from here on is created by, and owned by, veil_owner.
        out.push(StatementKind::Setup, None, format!("SET ROLE {owner};"));
        for sql in owner_objects(t) {
            out.push(StatementKind::Setup, None, sql);
        }

        for s in sources {
            let Some(view) = bind.views.get(&s.name).cloned() else { continue };
            let readers = super::warehouse::entitled(engine, &s.name)?;
            if readers.is_empty() {
                out.push(
                    StatementKind::Comment,
                    Some(&s.name),
                    format!("-- nobody may read {}.", s.name.replace(['\n', '\r'], " ")),
                );
                continue;
            }
            let list: Vec<String> = readers.iter().map(|r| t.quote_ident(r)).collect();
            sections.grants.push(
                StatementKind::Access,
                Some(&s.name),
                format!("GRANT SELECT ON {secure}.{} TO {};", t.quote_ident(&view), list.join(", ")),
            );
            sections.grants.push(
                StatementKind::Access,
                Some(&s.name),
                format!(
                    "GRANT EXECUTE ON FUNCTION {veil}.{}() TO {};",
                    t.quote_ident(&format!("view_{view}")),
                    list.join(", ")
                ),
            );
        }
        sections.after.push(StatementKind::Setup, None, "RESET ROLE;".into());
        sections.after.extend(StatementKind::Setup, lock_trigger(t, &options.secure_schema, sources));
        Ok(())
    }
}

/// The `ddl_command_end` event trigger that keeps readers off what DDL makes, in the
/// DDL's own transaction: a relation created, altered or renamed outside veil's
/// schemas loses every privilege PUBLIC and veil's reader roles (or roles they belong
/// to) hold on it, except its owner's; after a GRANT, every such relation does. A
/// relation that is a data source's base table (in `veil.protected`) gets SELECT for
/// `veil_owner` back, so its view keeps working after `DROP` + `CREATE` or a dbt-style
/// rename. Each command is recorded in `veil.ddl_log` for `veil monitor`. The
/// function is the applying superuser's (only a superuser may create event triggers)
/// and SECURITY DEFINER, so it may revoke whatever was granted; like every function
/// veil makes, it resolves names only in [`DEFINER_PATH`].
fn lock_trigger(t: &Postgres, secure_schema: &str, sources: &[&veil_policy::DataSource]) -> Vec<String> {
    let protected: Vec<String> = sources
        .iter()
        .filter_map(|s| {
            let schema = s.schema.as_deref()?;
            Some(format!("({}, {})", t.literal(schema), t.literal(&s.identifier)))
        })
        .collect();
    let mut out = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),\n  \
             command_tag text NOT NULL,\n  object_type text,\n  object_identity text,\n  issued_by name NOT NULL\n);",
            t.facts_table("ddl_log")
        ),
        format!("ALTER TABLE {} OWNER TO {};", t.facts_table("ddl_log"), t.quote_ident(OWNER_ROLE)),
        format!("REVOKE ALL ON {} FROM PUBLIC;", t.facts_table("ddl_log")),
        format!("DROP TABLE IF EXISTS {};", t.facts_table("protected")),
        format!("CREATE TABLE {} (schema_name text NOT NULL, table_name text NOT NULL);", t.facts_table("protected")),
        format!("ALTER TABLE {} OWNER TO {};", t.facts_table("protected"), t.quote_ident(OWNER_ROLE)),
        format!("REVOKE ALL ON {} FROM PUBLIC;", t.facts_table("protected")),
    ];
    if !protected.is_empty() {
        out.push(format!("INSERT INTO {} VALUES {};", t.facts_table("protected"), protected.join(", ")));
    }
    let excluded =
        [FACTS_SCHEMA, secure_schema, "information_schema"].iter().map(|s| t.literal(s)).collect::<Vec<_>>().join(", ");
    // One statement per DDL statement (PostgreSQL plans it again after most DDL): log
    // every command, then find what needs locking. Only schemas a reader may use
    // matter: without USAGE on its schema nobody reads a relation, and a later GRANT of
    // USAGE is itself a GRANT the trigger handles. A GRANT names no object here, so
    // after one every relation a reader holds a privilege on is locked. The system's
    // schemas (pg_catalog, pg_toast, temporary schemas) all start with `pg_`.
    let kinds = "c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'v', 'm', 'f']::pg_catalog.\"char\"[])";
    let body = format!(
        r#"DECLARE
  busy boolean;
  todo pg_catalog.oid[];
  readers pg_catalog.oid[];
BEGIN
  -- Log; anything to lock? Only after a GRANT, or when a relation touched gives PUBLIC
  -- or a reader's role a privilege, or is a data source's table veil_owner cannot read.
  WITH cmd AS MATERIALIZED (
    SELECT d.command_tag, d.object_type, d.object_identity, d.classid, d.objid
    FROM pg_catalog.pg_event_trigger_ddl_commands() d
  ), logged AS (
    INSERT INTO veil.ddl_log (command_tag, object_type, object_identity, issued_by)
    SELECT cmd.command_tag, cmd.object_type, cmd.object_identity, session_user FROM cmd
  )
  SELECT EXISTS (SELECT 1 FROM cmd WHERE cmd.command_tag OPERATOR(pg_catalog.=) 'GRANT')
      OR EXISTS (SELECT 1 FROM cmd
                 JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) cmd.objid
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                 WHERE cmd.classid OPERATOR(pg_catalog.=) CAST('pg_catalog.pg_class' AS pg_catalog.regclass) AND {kinds}
                   AND (EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a
                                WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner
                                  AND (a.grantee OPERATOR(pg_catalog.=) 0
                                       OR pg_catalog.pg_has_role('veil_reader', a.grantee, 'MEMBER')
                                       OR EXISTS (SELECT 1 FROM veil.users u
                                                  WHERE pg_catalog.pg_has_role(u.user_name, a.grantee, 'MEMBER'))))
                        OR (EXISTS (SELECT 1 FROM veil.protected p WHERE p.schema_name OPERATOR(pg_catalog.=) n.nspname
                                    AND p.table_name OPERATOR(pg_catalog.=) c.relname)
                            AND NOT pg_catalog.has_table_privilege('veil_owner', c.oid, 'SELECT'))))
  INTO busy;
  IF NOT busy THEN
    RETURN;
  END IF;
  WITH RECURSIVE cmd AS MATERIALIZED (
    SELECT d.command_tag, d.classid, d.objid FROM pg_catalog.pg_event_trigger_ddl_commands() d
  ), member(oid) AS (
    -- every role a reader is, or is a member of (transitively)
    SELECT a.oid FROM pg_catalog.pg_authid a
    WHERE a.rolname OPERATOR(pg_catalog.=) ANY (SELECT u.user_name FROM veil.users u)
       OR a.rolname OPERATOR(pg_catalog.=) 'veil_reader'
    UNION
    SELECT x.roleid FROM pg_catalog.pg_auth_members x JOIN member ON x.member OPERATOR(pg_catalog.=) member.oid
  ), reader AS (
    SELECT ARRAY[CAST(0 AS pg_catalog.oid)] OPERATOR(pg_catalog.||) coalesce(pg_catalog.array_agg(member.oid), '{{}}') AS oids
    FROM member
  ), usable AS (
    SELECT n.oid FROM pg_catalog.pg_namespace n, reader
    WHERE n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY[{excluded}]::pg_catalog.text[])
      AND pg_catalog.left(n.nspname, 3) OPERATOR(pg_catalog.<>) 'pg_'
      AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
                  WHERE a.privilege_type OPERATOR(pg_catalog.=) 'USAGE' AND a.grantee OPERATOR(pg_catalog.=) ANY (reader.oids))
  ), touched AS (
    SELECT c.oid FROM pg_catalog.pg_class c
    WHERE c.oid OPERATOR(pg_catalog.=) ANY (SELECT cmd.objid FROM cmd
                  WHERE cmd.classid OPERATOR(pg_catalog.=) CAST('pg_catalog.pg_class' AS pg_catalog.regclass))
    UNION
    SELECT c.oid FROM pg_catalog.pg_class c
    WHERE EXISTS (SELECT 1 FROM cmd WHERE cmd.command_tag OPERATOR(pg_catalog.=) 'GRANT')
      AND c.relacl IS NOT NULL AND c.relnamespace OPERATOR(pg_catalog.=) ANY (SELECT usable.oid FROM usable)
  )
  SELECT pg_catalog.array_agg(c.oid), (SELECT reader.oids FROM reader) INTO todo, readers
  FROM touched t JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.oid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  WHERE {kinds}
    AND ((c.relnamespace OPERATOR(pg_catalog.=) ANY (SELECT usable.oid FROM usable)
          AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a, reader
                      WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner AND a.grantee OPERATOR(pg_catalog.=) ANY (reader.oids)))
      OR (EXISTS (SELECT 1 FROM veil.protected p WHERE p.schema_name OPERATOR(pg_catalog.=) n.nspname
                  AND p.table_name OPERATOR(pg_catalog.=) c.relname)
          AND NOT pg_catalog.has_table_privilege('veil_owner', c.oid, 'SELECT')));
  IF todo IS NOT NULL THEN
    PERFORM veil.lock_relation(x, readers) FROM pg_catalog.unnest(todo) AS x;
  END IF;
END"#
    );
    let lock = r#"DECLARE
  c record;
  g pg_catalog.oid;
BEGIN
  SELECT k.relname, k.relowner, k.relacl, n.nspname INTO c
    FROM pg_catalog.pg_class k JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
    WHERE k.oid OPERATOR(pg_catalog.=) rel;
  FOR g IN
    SELECT DISTINCT a.grantee FROM pg_catalog.aclexplode(c.relacl) a
    WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner AND a.grantee OPERATOR(pg_catalog.=) ANY (readers)
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %s', CAST(rel AS pg_catalog.regclass),
      CASE WHEN g OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE CAST(CAST(g AS pg_catalog.regrole) AS pg_catalog.text) END);
  END LOOP;
  IF EXISTS (SELECT 1 FROM veil.protected p WHERE p.schema_name OPERATOR(pg_catalog.=) c.nspname
             AND p.table_name OPERATOR(pg_catalog.=) c.relname)
     AND NOT pg_catalog.has_table_privilege('veil_owner', rel, 'SELECT') THEN
    EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO veil_owner', CAST(rel AS pg_catalog.regclass));
  END IF;
END"#;
    let path = format!("SET search_path = {DEFINER_PATH}");
    out.push(format!(
        "CREATE FUNCTION {}(rel oid, readers oid[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER\n{path}\nAS {};",
        t.facts_table("lock_relation"),
        dollar_quote(lock)
    ));
    out.push(format!("REVOKE ALL ON FUNCTION {}(oid, oid[]) FROM PUBLIC;", t.facts_table("lock_relation")));
    out.push(format!(
        "CREATE FUNCTION {}() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER\n{path}\nAS {};",
        t.facts_table("lock_new_relations"),
        dollar_quote(&body)
    ));
    out.push(format!("REVOKE ALL ON FUNCTION {}() FROM PUBLIC;", t.facts_table("lock_new_relations")));
    out.push(format!(
        "CREATE EVENT TRIGGER veil_lock_new_relations ON ddl_command_end EXECUTE FUNCTION {}();",
        t.facts_table("lock_new_relations")
    ));
    out
}

/// Every role [`bind`] makes a reader log in as or inherit: one per user, one per
/// group (`group:<name>`) and `veil_reader`.
pub fn reader_roles(engine: &Engine) -> Vec<String> {
    let directory = engine.directory();
    let groups: BTreeSet<String> =
        directory.users().flat_map(|u| u.groups.iter().map(|g| format!("{GROUP_ROLE_PREFIX}{g}"))).collect();
    directory.users().map(|u| u.name.clone()).chain(groups).chain([READER_ROLE.to_string()]).collect()
}

/// The base tables the view functions of `options`' sources read, as (schema, table)
/// (the names [`render::base_relation`] quotes).
///
/// # Errors
/// [`Error::Policy`] for an unknown source.
pub fn base_tables(engine: &Engine, options: &BindOptions) -> Result<Vec<(String, String)>> {
    Ok(crate::pipeline::selected(engine, options)?
        .into_iter()
        .filter_map(|s| Some((s.schema.clone()?, s.identifier.clone())))
        .collect())
}

/// HMAC-SHA-256 of the UTF-8 bytes of `message_sql` under the key whose pads are the
/// columns `inner_pad` and `outer_pad` of `k` (RFC 2104 with PostgreSQL's built-in
/// `sha256`: no extension, every name and operator schema-qualified).
fn hmac_sql(k: &str, message_sql: &str) -> String {
    format!(
        "pg_catalog.sha256({k}.outer_pad OPERATOR(pg_catalog.||) pg_catalog.sha256({k}.inner_pad \
         OPERATOR(pg_catalog.||) pg_catalog.convert_to({message_sql}, CAST('UTF8' AS pg_catalog.name))))"
    )
}

/// `k.<column> = <value_sql>` with pg_catalog's text equality.
fn key_match(column: &str, value_sql: &str) -> String {
    format!("k.{column} OPERATOR(pg_catalog.=) {value_sql}")
}

/// The key table and the functions only veil_owner runs. Every name in their
/// bodies is schema-qualified and their path is [`DEFINER_PATH`].
fn owner_objects(t: &Postgres) -> Vec<String> {
    let keys = t.facts_table("keys");
    let lookup = |purpose: &str, id: &str, scope: &str, reader: &str| {
        [
            key_match("key_id", id),
            key_match("purpose", &t.literal(purpose)),
            key_match("scope", scope),
            key_match("reader", reader),
        ]
        .join(" AND ")
    };
    let body_hash = format!(
        "SELECT pg_catalog.encode({}, 'hex') FROM {keys} k\nWHERE {};",
        hmac_sql("k", "value"),
        lookup("hash", "hash_key_id", "hash_scope", "coalesce(hash_reader, '')")
    );
    // veil-core keeps a row when the first 8 bytes of its HMAC, as an unsigned
    // big-endian integer, are below the threshold.
    let half = |from: u8| {
        format!(
            "CAST(CAST('x' OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.substr(h, {from}, 8), 16, '0') \
             AS pg_catalog.bit(64)) AS pg_catalog.int8)"
        )
    };
    let body_sample = format!(
        "SELECT CAST({} AS pg_catalog.numeric) OPERATOR(pg_catalog.*) 4294967296\n\
         \x20    OPERATOR(pg_catalog.+) CAST({} AS pg_catalog.numeric) OPERATOR(pg_catalog.<) threshold\n\
         FROM (SELECT pg_catalog.encode({}, 'hex') AS h FROM {keys} k\n\
         \x20     WHERE {}) d;",
        half(1),
        half(9),
        hmac_sql("k", "row_key"),
        lookup("sample", "sample_key_id", "sample_scope", "''")
    );
    vec![
        // Rebuilt on every apply, which stores the keys it needs again.
        format!("DROP TABLE IF EXISTS {keys};"),
        format!(
            "CREATE TABLE {keys} (\n  key_id text NOT NULL,\n  purpose text NOT NULL,\n  scope text NOT NULL,\n  \
             reader text NOT NULL DEFAULT '',\n  inner_pad bytea NOT NULL,\n  outer_pad bytea NOT NULL,\n  \
             PRIMARY KEY (key_id, purpose, scope, reader)\n);"
        ),
        format!("REVOKE ALL ON {keys} FROM PUBLIC;"),
        format!(
            "CREATE FUNCTION {}(value text, hash_key_id text, hash_scope text, hash_reader text)\nRETURNS text LANGUAGE sql STABLE SECURITY DEFINER\n{DEFINER_SETTINGS}\nAS {};",
            t.facts_table("keyed_hash"),
            dollar_quote(&body_hash)
        ),
        format!("REVOKE ALL ON FUNCTION {}(text, text, text, text) FROM PUBLIC;", t.facts_table("keyed_hash")),
        format!(
            "CREATE FUNCTION {}(row_key text, sample_key_id text, sample_scope text, threshold numeric)\nRETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER\n{DEFINER_SETTINGS}\nAS {};",
            t.facts_table("in_sample"),
            dollar_quote(&body_sample)
        ),
        format!("REVOKE ALL ON FUNCTION {}(text, text, text, numeric) FROM PUBLIC;", t.facts_table("in_sample")),
        format!(
            "CREATE FUNCTION {}(message text) RETURNS boolean LANGUAGE plpgsql\n{DEFINER_SETTINGS}\nAS {};",
            t.facts_table("deny"),
            dollar_quote("BEGIN RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = message; END")
        ),
        format!("REVOKE ALL ON FUNCTION {}(text) FROM PUBLIC;", t.facts_table("deny")),
    ]
}

/// The HMAC pads `veil.keys` stores for a derived 32-byte key: the key, zero-padded
/// to SHA-256's 64-byte block, XOR 0x36 (inner) and XOR 0x5c (outer), as RFC 2104
/// defines them. PostgreSQL then computes the HMAC with its built-in `sha256`.
pub fn hmac_pads(key: &[u8; 32]) -> ([u8; 64], [u8; 64]) {
    let mut inner = [0x36u8; 64];
    let mut outer = [0x5cu8; 64];
    for ((i, o), k) in inner.iter_mut().zip(outer.iter_mut()).zip(key) {
        *i ^= k;
        *o ^= k;
    }
    (inner, outer)
}

/// The keys `veil apply` must store for these bindings: per data source, the hash
/// and sample keys; per project, the hash key; and per reader when a policy asks
/// for per-reader hashes.
///
/// # Errors
/// [`Error::Policy`] for an unknown source.
pub fn key_scopes(engine: &Engine, options: &BindOptions) -> Result<Vec<KeyScope>> {
    let names: Vec<String> = if options.sources.is_empty() {
        engine.catalog().sources().map(|s| s.name.clone()).collect()
    } else {
        options.sources.clone()
    };
    let mut scopes = BTreeSet::new();
    let mut per_reader = false;
    for name in &names {
        let plan = engine.plan(name)?;
        per_reader |= plan
            .columns
            .iter()
            .flat_map(|c| c.chain.iter())
            .any(|case| matches!(case.mask, Mask::Hash { per_reader: true, .. }));
        scopes.insert(("hash", format!("source:{name}")));
        scopes.insert(("sample", format!("source:{name}")));
    }
    for (project, _) in engine.directory().projects() {
        scopes.insert(("hash", format!("project:{project}")));
    }
    let mut out: Vec<KeyScope> =
        scopes.iter().map(|(p, s)| KeyScope { purpose: p, scope: s.clone(), reader: None }).collect();
    if per_reader {
        for user in engine.directory().users() {
            for (purpose, scope) in scopes.iter().filter(|(p, _)| *p == "hash") {
                out.push(KeyScope { purpose, scope: scope.clone(), reader: Some(user.name.clone()) });
            }
        }
    }
    Ok(out)
}

/// A Rust regex (the `regex` crate's syntax, as veil-core runs it) as an
/// equivalent PostgreSQL ARE, or why there is none.
///
/// Only a subset translates with the same matches: literals, classes (written out
/// as code point ranges, so `\d` and `.` keep Rust's Unicode meaning), `^`/`$`
/// at the ends of the text, and greedy repetitions of one character or class, at
/// most one of them variable (PostgreSQL picks the longest match overall where
/// Rust picks the first alternative, which agree only then). Alternation, groups,
/// captures, word boundaries and patterns that can match the empty string are refused.
///
/// ```
/// use veil_host::targets::postgres::posix_pattern;
/// assert_eq!(posix_pattern(r"^a\.b{2}").unwrap(), r"^a\.b{2}");
/// assert!(posix_pattern(r"^\d{4}").unwrap().starts_with(r"^[\U00000030-\U00000039\U00000660-"));
/// assert!(posix_pattern("a|ab").is_err());
/// ```
///
/// # Errors
/// A sentence saying what has no equivalent.
pub fn posix_pattern(pattern: &str) -> std::result::Result<String, String> {
    super::warehouse::translate_regex(
        pattern,
        &super::warehouse::RegexSyntax {
            engine: "PostgreSQL",
            literal: posix_char,
            class_char: posix_code_point,
            // Text in PostgreSQL cannot hold NUL: classes start at U+0001.
            class_min: '\u{1}',
            longest_match: "; PostgreSQL's longest-match rule can then match differently from Rust's",
        },
    )
}

/// A class range's end in a PostgreSQL ARE: its code point.
fn posix_code_point(c: char) -> String {
    format!("\\U{:08X}", u32::from(c))
}

/// One literal character in a PostgreSQL ARE.
fn posix_char(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else if c.is_ascii_punctuation() {
        format!("\\{c}")
    } else {
        format!("\\U{:08X}", u32::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_translate_or_are_refused() {
        assert_eq!(posix_pattern("abc").unwrap(), "abc");
        assert_eq!(posix_pattern(r"a\.b").unwrap(), r"a\.b");
        assert!(posix_pattern(r"^\d{4}").unwrap().starts_with(r"^[\U00000030-\U00000039"));
        assert!(posix_pattern(r"^\d{4}").unwrap().ends_with("]{4}"));
        assert_eq!(posix_pattern(r"[a-c]+$").unwrap(), r"[\U00000061-\U00000063]{1,}$");
        for bad in ["a|b|cd", "(ab)+", "x*", r"\bword", "a+b+", "a+?", "(?m)^a", "(a)"] {
            assert!(posix_pattern(bad).is_err(), "{bad}");
        }
        assert_eq!(super::super::warehouse::regex_replacement(r"X\$$", "$", Some(r"\\")).unwrap(), r"X\\$");
        assert!(super::super::warehouse::regex_replacement("$1", "$", Some(r"\\")).is_err());
    }

    #[test]
    fn dollar_quotes_avoid_the_body() {
        assert_eq!(dollar_quote("x"), "$veil$\nx\n$veil$");
        assert!(dollar_quote("a $veil$ b").starts_with("$veil1$"));
    }
}
