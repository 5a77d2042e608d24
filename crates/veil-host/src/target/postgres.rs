//! PostgreSQL: real roles, grants on secure views, pgcrypto for the keyed hash.
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
//! Re-applying drops every view in the secure schema and every function in
//! `veil`, then recreates them with exactly the grants the policies give: a
//! grant a policy no longer gives is gone.

use std::collections::BTreeSet;

use veil_policy::{ColumnType, Engine, HashScope, Keep, Mask, Rounding, RowPredicate, TimeUnit};

use super::dialect::TypeNames;
use super::{MaskContext, Reader, Target};
use crate::render::{self, ViewParts, FACTS_SCHEMA};
use crate::{BindOptions, Bindings, Error, Mode, Result, StatementKind};

/// Role that owns every object veil creates; readers are never its members.
pub const OWNER_ROLE: &str = "veil_owner";
/// Role every reader is a member of (USAGE on the secure schema).
pub const READER_ROLE: &str = "veil_reader";
/// Prefix of the roles mirroring veil groups.
pub const GROUP_ROLE_PREFIX: &str = "group:";
/// PostgreSQL truncates longer identifiers; veil refuses them instead.
const MAX_IDENT_BYTES: usize = 63;

/// The PostgreSQL target.
#[derive(Clone, Debug, Default)]
pub struct Postgres;

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

impl Postgres {
    fn scope(&self, ctx: &MaskContext<'_>, scope: HashScope) -> String {
        match (scope, &ctx.reader) {
            (HashScope::Source, _) => self.literal(&format!("source:{}", ctx.source)),
            (HashScope::Project, Reader::Dynamic) => format!("('project:' || {})", self.project()),
            (HashScope::Project, Reader::Known { project: Some(p), .. }) => self.literal(&format!("project:{p}")),
            (HashScope::Project, Reader::Known { project: None, .. }) => "CAST(NULL AS text)".into(),
        }
    }

    fn reader_sql(&self, ctx: &MaskContext<'_>) -> String {
        match &ctx.reader {
            Reader::Dynamic => self.reader(),
            Reader::Known { name, .. } => self.literal(name),
        }
    }

    fn unsupported(&self, ctx: &MaskContext<'_>, why: &str) -> Error {
        Error::Unsupported {
            target: "postgres",
            what: format!("policy `{}`, column `{}.{}`: {why}", ctx.policy, ctx.source, ctx.column),
        }
    }

    fn facts(&self, table: &str) -> String {
        format!("{}.{}", self.quote_ident(FACTS_SCHEMA), self.quote_ident(table))
    }
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

impl Target for Postgres {
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
        format!("{}({message_sql})", self.facts("deny"))
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        let ty = self.sql_type(ctx.column_type)?;
        Ok(match mask {
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
                        return Err(self.unsupported(
                            ctx,
                            "a keyed hash of a floating-point or engine-specific column: PostgreSQL writes \
                             these values as text differently from veil-core and DuckDB, so hashes would not \
                             match; cast the column to text or decimal in dbt",
                        ))
                    }
                };
                let reader = if *per_reader { self.reader_sql(ctx) } else { "NULL".into() };
                format!(
                    "{}({text}, {}, {}, {reader})",
                    self.facts("keyed_hash"),
                    self.literal(ctx.key_id),
                    self.scope(ctx, *scope)
                )
            }
            Mask::Null => format!("CAST(NULL AS {ty})"),
            Mask::Constant { value } => {
                let literal = crate::render::constant(self, value);
                format!("CAST({literal} AS {ty})")
            }
            Mask::Regex { pattern, replacement } => {
                let pattern = posix_pattern(pattern).map_err(|why| self.unsupported(ctx, &why))?;
                let replacement = posix_replacement(replacement).map_err(|why| self.unsupported(ctx, &why))?;
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
                    return Err(self.unsupported(
                        ctx,
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
                        return Err(self.unsupported(
                            ctx,
                            "date truncation of a column that is not a date or timestamp (veil-core parses \
                             ISO-8601 text; PostgreSQL would not agree on every form); type the column in dbt",
                        ))
                    }
                }
            }
            Mask::Reversible { .. } => {
                return Err(self.unsupported(
                    ctx,
                    "reversible tokens (AES-SIV) have no faithful PostgreSQL equivalent, and veil never \
                     substitutes a weaker mask; use hash or null for this target, or bind it to DuckDB",
                ))
            }
            Mask::FormatPreserving => {
                return Err(self.unsupported(
                    ctx,
                    "format-preserving encryption (NIST FF1) has no faithful PostgreSQL equivalent, and veil \
                     never substitutes a weaker mask; use hash or null for this target, or bind it to DuckDB",
                ))
            }
        })
    }

    fn row_predicate(&self, predicate: &RowPredicate, ctx: &MaskContext<'_>) -> Result<String> {
        let col = |name: &str| self.quote_ident(name);
        Ok(match predicate {
            RowPredicate::MatchAttribute { column, attribute, hierarchical } => {
                let value = format!("CAST({} AS text)", col(column));
                render::match_attribute(
                    self,
                    &self.facts("user_attributes"),
                    &self.reader_sql(ctx),
                    attribute,
                    &value,
                    *hierarchical,
                )
            }
            RowPredicate::ValueIn { column, values, hierarchical } => {
                render::value_in(self, values, &format!("CAST({} AS text)", col(column)), *hierarchical)
            }
            RowPredicate::Sql { predicate } => crate::predicate::print(self, &predicate.tree)?,
            RowPredicate::TimeWindow { column, seconds } => format!(
                "CAST({} AS timestamp) >= CAST(current_timestamp AS timestamp) - interval '1 second' * {seconds}",
                col(column)
            ),
            RowPredicate::Sample { percent, key } => {
                let text = |k: &str| format!("coalesce(CAST({} AS text), '')", col(k));
                let row_key = render::sample_key(ctx.policy, *percent, key, &text, &render::concat_ws("concat_ws"))?;
                if *percent >= 100.0 {
                    return Ok("TRUE".into());
                }
                // veil-core keeps a row when the first 8 bytes of its HMAC, as an
                // unsigned big-endian integer, are below this (same f64 -> u64 cast).
                let threshold = (percent / 100.0 * 18_446_744_073_709_551_616.0) as u64;
                format!(
                    "{}({row_key}, {}, {}, {threshold})",
                    self.facts("in_sample"),
                    self.literal(ctx.key_id),
                    self.literal(&format!("source:{}", ctx.source))
                )
            }
            RowPredicate::Nothing => "FALSE".into(),
        })
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
        let function = self.facts(&function_name);
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
        let sql = format!(
            "CREATE FUNCTION {function}()\nRETURNS TABLE ({})\nLANGUAGE sql STABLE SECURITY DEFINER\n\
             SET search_path = pg_catalog, pg_temp\nSET DateStyle = 'ISO, YMD'\nAS {};\n\
             REVOKE ALL ON FUNCTION {function}() FROM PUBLIC;\n\
             CREATE VIEW {}.{} AS SELECT {} FROM {function}();",
            returns.join(", "),
            dollar_quote(&format!("{select};")),
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
    let t = Postgres;
    if !matches!(options.mode, Mode::Dynamic) {
        return Err(Error::Invalid(
            "the postgres target binds one set of views for every reader, each reader a role; \
             views for one reader (--user) are for duckdb"
                .into(),
        ));
    }
    check_ident("schema", &options.secure_schema)?;
    if options.secure_schema == FACTS_SCHEMA {
        return Err(Error::Invalid(format!(
            "the secure schema cannot be `{FACTS_SCHEMA}`: veil keeps its own objects there"
        )));
    }
    let sources: Vec<&veil_policy::DataSource> = if options.sources.is_empty() {
        engine.catalog().sources().collect()
    } else {
        options
            .sources
            .iter()
            .map(|s| engine.catalog().source(s).ok_or_else(|| veil_policy::Error::UnknownSource(s.clone())))
            .collect::<std::result::Result<_, _>>()?
    };
    for s in &sources {
        if s.schema.as_deref() == Some(options.secure_schema.as_str()) {
            return Err(Error::Invalid(format!(
                "the secure schema `{}` holds data source `{}`: veil drops the views in its schema on every \
                 apply; choose another --schema",
                options.secure_schema, s.name
            )));
        }
    }

    let directory = engine.directory();
    let users: Vec<String> = directory.users().map(|u| u.name.clone()).collect();
    let mut groups: BTreeSet<String> = BTreeSet::new();
    for u in directory.users() {
        check_ident("user", &u.name)?;
        groups.extend(u.groups.iter().cloned());
    }
    let group_role = |g: &str| format!("{GROUP_ROLE_PREFIX}{g}");
    for g in &groups {
        check_ident("group role", &group_role(g))?;
        if users.iter().any(|u| *u == group_role(g)) {
            return Err(Error::Invalid(format!("user `{}` has the name of the role for group `{g}`", group_role(g))));
        }
    }
    for reserved in [OWNER_ROLE, READER_ROLE] {
        if users.iter().any(|u| u == reserved) {
            return Err(Error::Invalid(format!("user `{reserved}` has the name of a role veil reserves")));
        }
    }

    let inner = render::bind(engine, &t, options)?;
    let mut out = Bindings { statements: Vec::new(), views: inner.views.clone() };
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
    let access = |out: &mut Bindings, sql: String| out.push(StatementKind::Access, None, sql);

    out.push(StatementKind::Setup, None, "CREATE EXTENSION IF NOT EXISTS pgcrypto;".into());
    // Roles: create what is missing; never alter a role that exists, but refuse
    // readers that could go around the views.
    access(
        &mut out,
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
        &mut out,
        format!(
            "DO {};",
            dollar_quote(&format!(
                "DECLARE r record;\nBEGIN\n\
                 FOR r IN SELECT g.rolname AS grp, m.rolname AS member FROM pg_auth_members a\n\
                 \x20 JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member\n\
                 \x20 WHERE g.rolname = {} OR g.rolname LIKE {} LOOP\n\
                 \x20 EXECUTE format('REVOKE %I FROM %I', r.grp, r.member);\n\
                 END LOOP;\n\
                 END",
                t.literal(READER_ROLE),
                t.literal(&format!("{}%", GROUP_ROLE_PREFIX.replace('%', "\\%").replace('_', "\\_"))),
            ))
        ),
    );
    if !users.is_empty() {
        let list: Vec<String> = users.iter().map(|u| t.quote_ident(u)).collect();
        access(&mut out, format!("GRANT {reader_role} TO {};", list.join(", ")));
    }
    for g in &groups {
        let members: Vec<String> =
            directory.users().filter(|u| u.groups.contains(g)).map(|u| t.quote_ident(&u.name)).collect();
        if !members.is_empty() {
            access(&mut out, format!("GRANT {} TO {};", t.quote_ident(&group_role(g)), members.join(", ")));
        }
    }
    // Schemas owned by veil_owner; the owner may create schemas' objects only.
    access(
        &mut out,
        format!(
            "DO {};",
            dollar_quote(&format!(
                "BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO %I', current_database(), {}); END",
                t.literal(OWNER_ROLE)
            ))
        ),
    );
    for schema in [&veil, &secure] {
        out.push(StatementKind::Setup, None, format!("CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner};"));
        out.push(StatementKind::Setup, None, format!("ALTER SCHEMA {schema} OWNER TO {owner};"));
        access(&mut out, format!("REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;"));
    }
    access(&mut out, format!("GRANT USAGE ON SCHEMA {secure} TO {reader_role};"));
    // Base tables: the owner reads them; nobody else veil manages does.
    let everyone: Vec<String> = std::iter::once("PUBLIC".to_string())
        .chain([READER_ROLE].iter().map(|r| t.quote_ident(r)))
        .chain(users.iter().map(|u| t.quote_ident(u)))
        .chain(group_roles.iter().map(|g| t.quote_ident(g)))
        .collect();
    let mut base_schemas = BTreeSet::new();
    for s in &sources {
        if let Some(schema) = &s.schema {
            if base_schemas.insert(schema.clone()) {
                access(&mut out, format!("GRANT USAGE ON SCHEMA {} TO {owner};", t.quote_ident(schema)));
            }
        }
        let base = render::base_relation(s, &t);
        access(&mut out, format!("GRANT SELECT ON {base} TO {owner};"));
        access(&mut out, format!("REVOKE ALL ON {base} FROM {};", everyone.join(", ")));
    }
    // Drop what the last apply made: views in the secure schema, functions in veil.
    access(
        &mut out,
        format!(
            "DO {};",
            dollar_quote(&format!(
                "DECLARE r record;\nBEGIN\n\
                 FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n\
                 \x20 WHERE n.nspname = {} AND c.relkind = 'v' LOOP\n\
                 \x20 EXECUTE format('DROP VIEW %s CASCADE', r.name);\n\
                 END LOOP;\n\
                 FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n\
                 \x20 WHERE n.nspname = {} LOOP\n\
                 \x20 EXECUTE format('DROP FUNCTION %s CASCADE', r.name);\n\
                 END LOOP;\n\
                 END",
                t.literal(&options.secure_schema),
                t.literal(FACTS_SCHEMA),
            ))
        ),
    );
    // Everything from here on is created by, and owned by, veil_owner.
    out.push(StatementKind::Setup, None, format!("SET ROLE {owner};"));
    for sql in owner_objects(&t) {
        out.push(StatementKind::Setup, None, sql);
    }
    out.statements.extend(inner.statements);

    for s in &sources {
        let Some(view) = out.views.get(&s.name).cloned() else { continue };
        let readers = entitled(engine, &s.name)?;
        if readers.is_empty() {
            out.push(
                StatementKind::Comment,
                Some(&s.name),
                format!("-- nobody may read {}.", s.name.replace(['\n', '\r'], " ")),
            );
            continue;
        }
        let list: Vec<String> = readers.iter().map(|r| t.quote_ident(r)).collect();
        out.push(
            StatementKind::Access,
            Some(&s.name),
            format!("GRANT SELECT ON {secure}.{} TO {};", t.quote_ident(&view), list.join(", ")),
        );
        out.push(
            StatementKind::Access,
            Some(&s.name),
            format!(
                "GRANT EXECUTE ON FUNCTION {veil}.{}() TO {};",
                t.quote_ident(&format!("view_{view}")),
                list.join(", ")
            ),
        );
    }
    out.push(StatementKind::Setup, None, "RESET ROLE;".into());
    Ok(out)
}

/// Readers entitled to `source` under no project or any of their projects.
fn entitled(engine: &Engine, source: &str) -> Result<Vec<String>> {
    let directory = engine.directory();
    let mut readers = Vec::new();
    for user in directory.users() {
        let projects = std::iter::once(None).chain(user.projects.iter().map(|p| Some(p.as_str())));
        let mut allowed = false;
        for project in projects {
            let Ok(subject) = directory.subject(&user.name, project) else { continue };
            if engine.plan_for(&subject, source)?.allowed {
                allowed = true;
                break;
            }
        }
        if allowed {
            readers.push(user.name.clone());
        }
    }
    Ok(readers)
}

/// The key table and the functions only veil_owner runs.
fn owner_objects(t: &Postgres) -> Vec<String> {
    let keys = t.facts("keys");
    let body_hash = format!(
        "SELECT encode(hmac(convert_to(value, 'UTF8'), k.key, 'sha256'), 'hex') FROM {keys} k\n\
         WHERE k.key_id = hash_key_id AND k.purpose = 'hash' AND k.scope = hash_scope AND k.reader = coalesce(hash_reader, '');"
    );
    let body_sample = format!(
        "SELECT ('x' || lpad(substr(h, 1, 8), 16, '0'))::bit(64)::bigint::numeric * 4294967296\n\
         \x20    + ('x' || lpad(substr(h, 9, 8), 16, '0'))::bit(64)::bigint::numeric < threshold\n\
         FROM (SELECT encode(hmac(convert_to(row_key, 'UTF8'), k.key, 'sha256'), 'hex') AS h FROM {keys} k\n\
         \x20     WHERE k.key_id = sample_key_id AND k.purpose = 'sample' AND k.scope = sample_scope AND k.reader = '') d;"
    );
    let definer = "SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp";
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {keys} (\n  key_id text NOT NULL,\n  purpose text NOT NULL,\n  scope text NOT NULL,\n  \
             reader text NOT NULL DEFAULT '',\n  key bytea NOT NULL,\n  PRIMARY KEY (key_id, purpose, scope, reader)\n);"
        ),
        format!("REVOKE ALL ON {keys} FROM PUBLIC;"),
        format!(
            "CREATE FUNCTION {}(value text, hash_key_id text, hash_scope text, hash_reader text)\nRETURNS text LANGUAGE sql STABLE {definer}\nAS {};",
            t.facts("keyed_hash"),
            dollar_quote(&body_hash)
        ),
        format!("REVOKE ALL ON FUNCTION {}(text, text, text, text) FROM PUBLIC;", t.facts("keyed_hash")),
        format!(
            "CREATE FUNCTION {}(row_key text, sample_key_id text, sample_scope text, threshold numeric)\nRETURNS boolean LANGUAGE sql STABLE {definer}\nAS {};",
            t.facts("in_sample"),
            dollar_quote(&body_sample)
        ),
        format!("REVOKE ALL ON FUNCTION {}(text, text, text, numeric) FROM PUBLIC;", t.facts("in_sample")),
        format!(
            "CREATE FUNCTION {}(message text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp\n\
             AS {};",
            t.facts("deny"),
            dollar_quote("BEGIN RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = message; END")
        ),
        format!("REVOKE ALL ON FUNCTION {}(text) FROM PUBLIC;", t.facts("deny")),
    ]
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
/// use veil_host::target::postgres::posix_pattern;
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

/// A Rust regex replacement as a PostgreSQL one: `$$` is `$`; captures are refused.
///
/// # Errors
/// A sentence when the replacement refers to a capture group.
pub fn posix_replacement(replacement: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                out.push('$');
            }
            '$' => {
                return Err(format!(
                    "regex replacement `{replacement}` refers to a capture group, which the PostgreSQL target does not translate"
                ))
            }
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    Ok(out)
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
        assert_eq!(posix_replacement(r"X\$$").unwrap(), r"X\\$");
        assert!(posix_replacement("$1").is_err());
    }

    #[test]
    fn dollar_quotes_avoid_the_body() {
        assert_eq!(dollar_quote("x"), "$veil$\nx\n$veil$");
        assert!(dollar_quote("a $veil$ b").starts_with("$veil1$"));
    }
}
