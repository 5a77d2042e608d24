//! Snowflake: masking policies, row access policies, roles and grants on the base
//! tables, and JavaScript UDFs embedding veil's slim Wasm bundles.
//!
//! What a bind generates (run it as the role that owns veil's objects):
//! - schema `veil` with the facts about readers, the key table `veil.keys`
//!   (`key_id`, `key_hex`: filled by the operator with bound parameters, never by
//!   this SQL; no reader role gets any privilege on it) and the secure JS UDFs
//!   `veil.veil_hash`, `veil.veil_in_sample`, `veil.veil_ff1`, `veil.veil_token`
//!   (only those the policies use), each embedding one slim bundle. Readers get no
//!   USAGE on them: policies run them with their owner's rights, so a reader has
//!   neither the key nor a hashing oracle;
//! - roles `project:<name>` (a reader acts under a project by activating its role)
//!   and `reader:<name>` (SELECT on exactly the tables the subscription policies
//!   entitle the user to read);
//! - one masking policy per (column type, mask chain), named by its content so an
//!   unchanged policy is never replaced, `CASE` over the facts with `CURRENT_USER()`
//!   (groups included: memberships come from the directory on every bind, so a
//!   removed member loses the group at once and no session can shed one by switching
//!   roles) and `IS_ROLE_IN_SESSION(…)` for acting under a project (and being a
//!   member of it in the facts), set on each column with `FORCE`; conditional
//!   columns (`where:`) as `USING (…)`;
//! - one row access policy per table: the reader is known, may read the table,
//!   and every row filter holds.

use std::collections::{BTreeMap, BTreeSet};

use veil_policy::{ColumnType, Condition, Engine, HashScope, Mask, RelationKind};

use super::attached;
use super::dialect::{StringEscapes, TypeNames};
use super::warehouse::{self, Dialect, Udfs};
use super::{MaskContext, Target};
use crate::pipeline::{Deployment, Sections};
use crate::render::FACTS_SCHEMA;
use crate::{BindOptions, Bindings, Error, Result, StatementKind};

/// Prefix of the roles a reader activates to act under a project.
pub const PROJECT_ROLE_PREFIX: &str = "project:";
/// Prefix of the per-reader roles holding SELECT grants.
pub const READER_ROLE_PREFIX: &str = "reader:";

const DIALECT: Dialect = Dialect {
    target: "snowflake",
    decimal: "NUMBER(38,0)",
    regex_char: warehouse::literal_escape,
    replacement_dollar: "$",
    email_domain: warehouse::split_part_domain,
};

/// The Snowflake target.
#[derive(Debug)]
pub struct Snowflake {
    purposes: BTreeMap<String, BTreeSet<String>>,
    key_id: String,
    udfs: Udfs,
    exempt: Vec<String>,
    database: Option<String>,
}

impl Snowflake {
    /// The target for an engine's directory: projects become roles.
    pub fn new(engine: &Engine, key_id: &str) -> Self {
        let purposes = warehouse::projects_by_purpose(engine);
        Self { purposes, key_id: key_id.to_string(), udfs: Udfs::absent(), exempt: Vec::new(), database: None }
    }

    /// With veil's own schemas in `database` (else the session's current one).
    pub fn in_database(mut self, database: Option<String>) -> Self {
        self.database = database;
        self
    }

    /// With the JS UDF bundles to embed, and the roles that read the tables
    /// unmasked and unfiltered (`IS_ROLE_IN_SESSION`; e.g. the role dbt builds with).
    pub fn with(mut self, udfs: Udfs, exempt: &[String]) -> Self {
        self.udfs = udfs;
        self.exempt = exempt.to_vec();
        self
    }

    fn role_in_session(&self, role: &str) -> String {
        format!("IS_ROLE_IN_SESSION({})", self.literal(role))
    }

    fn any(items: Vec<String>) -> String {
        if items.is_empty() {
            "FALSE".into()
        } else {
            format!("({})", items.join(" OR "))
        }
    }

    /// The key for the bind's key id, read by the policy owner from `veil.keys`.
    fn key(&self) -> String {
        format!(
            "(SELECT k.key_hex FROM {} k WHERE k.key_id = {})",
            self.facts_table("keys"),
            self.literal(&self.key_id)
        )
    }

    fn udf(&self, family: &'static str) -> String {
        self.facts_table(&format!("veil_{family}"))
    }

    /// A policy argument naming a base-table column: plain names unquoted (so a
    /// WHERE clause written with plain names refers to them), others quoted.
    pub fn arg_ident(&self, column: &str) -> String {
        if warehouse::is_plain(column) {
            column.to_string()
        } else {
            self.quote_ident(column)
        }
    }
}

/// Snowflake in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "snowflake",
    about: "Snowflake: masking and row access policies, roles, grants, JS UDFs",
    options: &["exempt", "udfs", "database"],
    make: |engine, options, o| {
        let udfs = warehouse::Udfs::load(o.udfs.as_deref().unwrap_or(std::path::Path::new("dist/js/slim")))?;
        let database = super::own_database(engine, options, o.database.as_deref())?;
        Ok(Box::new(Snowflake::new(engine, &options.key_id).with(udfs, &o.exempt).in_database(database)))
    },
};

impl Target for Snowflake {
    /// veil's schemas in veil's database ([`super::own_database`]).
    fn schema_name(&self, schema: &str) -> String {
        super::in_database(self, self.database.as_deref(), schema)
    }

    fn attached(&self) -> Option<&dyn attached::Attached> {
        Some(self)
    }

    fn deploy(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        self.deploy_sections(bind, out)
    }

    fn name(&self) -> &'static str {
        "snowflake"
    }

    fn types(&self) -> TypeNames {
        TypeNames {
            text: "VARCHAR",
            integer: "NUMBER(38,0)",
            float: "FLOAT",
            decimal: "NUMBER",
            decimal_space: false,
            boolean: "BOOLEAN",
            date: "DATE",
            timestamp: "TIMESTAMP_NTZ",
            brackets: false,
        }
    }

    fn string_escapes(&self) -> StringEscapes {
        StringEscapes::BackslashDoubledQuote
    }

    fn starts_with(&self) -> &'static str {
        "STARTSWITH"
    }

    fn predicate_column(&self, column: &str) -> String {
        self.arg_ident(column)
    }

    /// Quoted identifiers are case-sensitive.
    fn fold_ident(&self, ident: &str) -> String {
        ident.to_owned()
    }

    fn qualifies_database(&self) -> bool {
        true
    }

    fn reader(&self) -> String {
        "CURRENT_USER()".into()
    }

    /// Policies cannot read session variables; projects are roles instead
    /// ([`Target::native_condition`]), and project-scoped hashes are refused.
    fn project(&self) -> String {
        "CAST(NULL AS VARCHAR)".into()
    }

    /// Not called: Snowflake policies cannot raise; an unentitled reader has no
    /// SELECT grant and the row access policy keeps no row.
    fn deny(&self, _message_sql: &str) -> String {
        "FALSE".into()
    }

    /// Acting under a project: its role is active in the session and the reader
    /// is a member in the facts (a role grant left from an earlier bind is not
    /// enough). Everything else, groups included, is read from the facts.
    fn native_condition(&self, c: &Condition) -> Option<String> {
        let Condition::ActingUnder { purpose } = c else { return None };
        Some(Self::any(
            self.purposes
                .get(purpose)
                .into_iter()
                .flatten()
                .map(|p| {
                    format!(
                        "({} AND EXISTS (SELECT 1 FROM {} m WHERE m.user_name = {} AND m.project = {}))",
                        self.role_in_session(&format!("{PROJECT_ROLE_PREFIX}{p}")),
                        self.facts_table("user_projects"),
                        self.reader(),
                        self.literal(p)
                    )
                })
                .collect(),
        ))
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        if let Some(sql) = warehouse::common_mask(self, &DIALECT, mask, c, ctx)? {
            return Ok(sql);
        }
        let refuse = |why: &str| warehouse::unsupported("snowflake", ctx, why);
        let scope = self.literal(&format!("source:{}", ctx.source));
        Ok(match mask {
            Mask::Hash { scope: hash_scope, per_reader } => {
                if *hash_scope == HashScope::Project {
                    return Err(refuse(
                        "a project-scoped hash: Snowflake policies cannot read which project a reader acts \
                         under as text; use the source scope, or bind this policy to DuckDB",
                    ));
                }
                let text = match ctx.column_type {
                    ColumnType::Text => c.to_string(),
                    ColumnType::Integer => format!("TO_VARCHAR({c})"),
                    _ => {
                        return Err(refuse(
                            "a keyed hash of a column that is not text or integer: Snowflake writes these \
                             values as text differently from veil-core; cast the column to text in dbt",
                        ))
                    }
                };
                let reader = if *per_reader { self.reader() } else { "CAST(NULL AS VARCHAR)".into() };
                format!("{}({text}, {}, {scope}, {reader})", self.udf("hash"), self.key())
            }
            Mask::FormatPreserving | Mask::Reversible { .. } => {
                if *ctx.column_type != ColumnType::Text {
                    return Err(refuse("format-preserving encryption and tokens apply to text columns only"));
                }
                let family = if matches!(mask, Mask::FormatPreserving) { "ff1" } else { "token" };
                format!("{}({c}, {}, {scope})", self.udf(family), self.key())
            }
            Mask::Trunc { unit } => {
                let unit = warehouse::time_unit(*unit);
                match ctx.column_type {
                    ColumnType::Date | ColumnType::Timestamp => format!("DATE_TRUNC('{unit}', {c})"),
                    _ => {
                        return Err(refuse(
                            "date truncation of a column that is not a date or timestamp; type the column in dbt",
                        ))
                    }
                }
            }
            _ => return Err(refuse("a mask this target has no translation for; veil never substitutes a weaker one")),
        })
    }

    fn text(&self, expr: &str) -> String {
        format!("TO_VARCHAR({expr})")
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        format!(
            "CAST({column_sql} AS TIMESTAMP_NTZ) >= DATEADD(second, -{seconds}, CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_NTZ))"
        )
    }

    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String> {
        Ok(format!(
            "{}({row_key}, {}, {}, {percent:?})",
            self.udf("in_sample"),
            self.key(),
            self.literal(&format!("source:{}", ctx.source))
        ))
    }

    fn preamble(&self) -> Vec<String> {
        Vec::new()
    }
}

impl attached::Attached for Snowflake {
    fn mask_what(&self) -> &'static str {
        "a Snowflake masking policy"
    }

    fn exempt_principals(&self) -> &[String] {
        &self.exempt
    }

    fn arg_ident(&self, column: &str) -> String {
        Snowflake::arg_ident(self, column)
    }

    fn exempt(&self, role: &str) -> String {
        self.role_in_session(role)
    }

    fn create_mask(&self, name: &str, signature: &str, ty: &str, body: &str) -> String {
        format!("CREATE MASKING POLICY IF NOT EXISTS {name} AS ({signature})\nRETURNS {ty} ->\n  {body};")
    }

    /// Policies attach to tables, views and materialized views alike, each named as such.
    fn relation(&self, source: &veil_policy::DataSource) -> Result<&'static str> {
        Ok(match source.kind {
            RelationKind::Table => "TABLE",
            RelationKind::View => "VIEW",
            RelationKind::MaterializedView => "MATERIALIZED VIEW",
        })
    }

    fn attach_mask(&self, relation: &str, base: &str, column: &str, name: &str, extra: &[String]) -> String {
        let using = if extra.is_empty() {
            String::new()
        } else {
            let cols: Vec<String> =
                std::iter::once(column).chain(extra.iter().map(String::as_str)).map(|c| self.quote_ident(c)).collect();
            format!(" USING ({})", cols.join(", "))
        };
        format!(
            "ALTER {relation} {base} MODIFY COLUMN {} SET MASKING POLICY {name}{using} FORCE;",
            self.quote_ident(column)
        )
    }

    fn create_rows(&self, name: &str, signature: &str, body: &str) -> String {
        format!("CREATE ROW ACCESS POLICY IF NOT EXISTS {name} AS ({signature})\nRETURNS BOOLEAN ->\n  {body};")
    }

    fn attach_rows(&self, relation: &str, base: &str, name: &str, on: &[String]) -> Vec<String> {
        vec![
            format!("ALTER {relation} {base} DROP ALL ROW ACCESS POLICIES;"),
            format!("ALTER {relation} {base} ADD ROW ACCESS POLICY {name} ON ({});", on.join(", ")),
        ]
    }

    fn grant(&self, relation: &str, base: &str, user: &str, allowed: bool) -> String {
        let role = self.quote_ident(&format!("{READER_ROLE_PREFIX}{user}"));
        if allowed {
            format!("GRANT SELECT ON {relation} {base} TO ROLE {role};")
        } else {
            format!("REVOKE SELECT ON {relation} {base} FROM ROLE {role};")
        }
    }

    fn rows_need_a_column(&self) -> bool {
        true
    }
}

/// The JS UDF statements for the families the policies use.
fn udf_statements(t: &Snowflake, udfs: &Udfs, needs: &BTreeSet<crate::pipeline::Needed>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for family in Udfs::families(needs) {
        let (bundle, args, returns, call, what) = match family {
            "hash" => (
                udfs.bundle("hash")?,
                "V VARCHAR, K VARCHAR, S VARCHAR, R VARCHAR",
                "VARCHAR",
                "veilHash(V, K, S, R)",
                "keyed hash",
            ),
            "in_sample" => (
                udfs.bundle("hash")?,
                "V VARCHAR, K VARCHAR, S VARCHAR, P FLOAT",
                "BOOLEAN",
                "veilInSample(V, K, S, P)",
                "reproducible sample",
            ),
            "ff1" => (
                udfs.bundle("ff1")?,
                "V VARCHAR, K VARCHAR, S VARCHAR",
                "VARCHAR",
                "veilFpeEncrypt(V, K, S)",
                "format-preserving encryption (FF1)",
            ),
            _ => (
                udfs.bundle("token")?,
                "V VARCHAR, K VARCHAR, S VARCHAR",
                "VARCHAR",
                "veilTokenMask(V, K, S)",
                "reversible token (AES-SIV)",
            ),
        };
        if bundle.contains("$$") {
            return Err(Error::Invalid(format!("the {family} UDF bundle contains `$$`, which would end its body")));
        }
        out.push(format!(
            "CREATE OR REPLACE SECURE FUNCTION {}({args})\nRETURNS {returns}\nLANGUAGE JAVASCRIPT\nIMMUTABLE\n\
             COMMENT = 'veil: {what}, veil-js-slim bundle'\nAS $$\n{bundle}\nreturn {call};\n$$;",
            t.facts_table(&format!("veil_{family}"))
        ));
    }
    Ok(out)
}

/// Generate the Snowflake bindings: roles and grants from the directory and the
/// subscription policies; facts, keys table and JS UDFs in schema `veil`; masking
/// and row access policies on the base tables. Sessions holding one of the
/// `exempt` roles (`IS_ROLE_IN_SESSION`; e.g. the role dbt builds with) read the
/// tables unmasked and unfiltered. Shorthand for [`crate::bind`] with
/// `Snowflake::new(engine, &options.key_id).with(udfs, exempt)`.
///
/// # Errors
/// [`Error::Unsupported`] for a mask Snowflake cannot enforce faithfully (naming
/// policy and column); [`Error::Invalid`] for `--user` mode or unusable names;
/// [`Error::Policy`] for unknown sources.
pub fn bind(engine: &Engine, options: &BindOptions, udfs: &Udfs, exempt: &[String]) -> Result<Bindings> {
    let database = super::own_database(engine, options, None)?;
    let target = Snowflake::new(engine, &options.key_id).with(udfs.clone(), exempt).in_database(database);
    crate::bind(engine, &target, options)
}

impl Snowflake {
    /// Roles from the directory, the keys table and the UDFs the plans call.
    fn deploy_sections(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        let directory = bind.engine.directory();
        out.roles.push(
            StatementKind::Setup,
            None,
            format!("CREATE SCHEMA IF NOT EXISTS {};", self.schema_name(FACTS_SCHEMA)),
        );
        // Roles: projects, one per reader; memberships from the directory.
        let role = |prefix: &str, name: &str| self.quote_ident(&format!("{prefix}{name}"));
        let mut access = |sql: String| out.roles.push(StatementKind::Access, None, sql);
        for (project, _) in directory.projects() {
            access(format!("CREATE ROLE IF NOT EXISTS {};", role(PROJECT_ROLE_PREFIX, project)));
        }
        for u in directory.users() {
            let user = self.quote_ident(&u.name);
            access(format!("CREATE ROLE IF NOT EXISTS {};", role(READER_ROLE_PREFIX, &u.name)));
            access(format!("GRANT ROLE {} TO USER {user};", role(READER_ROLE_PREFIX, &u.name)));
            for p in &u.projects {
                access(format!("GRANT ROLE {} TO USER {user};", role(PROJECT_ROLE_PREFIX, p)));
            }
        }
        out.keys.push(
            StatementKind::Setup,
            None,
            format!(
                "CREATE TABLE IF NOT EXISTS {} (key_id VARCHAR NOT NULL, key_hex VARCHAR NOT NULL);",
                self.facts_table("keys")
            ),
        );
        out.udfs.extend(StatementKind::Setup, udf_statements(self, &self.udfs, bind.needs)?);
        Ok(())
    }
}
