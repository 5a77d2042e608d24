//! Databricks (Unity Catalog): SQL UDFs as column masks and row filters, set on
//! the base tables, and SELECT grants from the subscription policies.
//!
//! What a bind generates (run it as the principal that owns veil's objects):
//! - schema `veil` with the facts about readers and the key table `veil.keys`
//!   (`key_id`, `key_hex`: filled by the operator with bound parameters, never by
//!   this SQL; no reader gets any privilege on it);
//! - one mask function per (column type, mask chain), named by its content, `CASE`
//!   over `is_account_group_member(…)` (groups; projects as account groups
//!   `project:<name>`) or the facts tables with `current_user()`, set with
//!   `ALTER TABLE … ALTER COLUMN … SET MASK … [USING COLUMNS (…)]`;
//! - one row filter function per table (the reader is known, may read the table,
//!   every row filter holds), set with `ALTER TABLE … SET ROW FILTER … ON (…)`;
//! - `GRANT SELECT` / `REVOKE SELECT` on each table per reader.
//!
//! Keyed hashes and samples are plain SQL: HKDF-SHA-256 and HMAC-SHA-256 written
//! with Databricks' `hmac` (Databricks SQL, Runtime 19+), the derivation's `info`
//! computed here. FF1 and reversible tokens are refused: Unity Catalog masks can
//! call neither JavaScript nor WebAssembly, and SQL has no AES-SIV or FF1.

use std::collections::{BTreeMap, BTreeSet};

use veil_policy::{ColumnType, Condition, Engine, HashScope, Mask, RelationKind};

use super::attached;
use super::dialect::{IdentQuote, StringEscapes, TypeNames};
use super::warehouse::{self, Dialect};
use super::{MaskContext, Target};
use crate::pipeline::{Deployment, Sections};
use crate::{BindOptions, Bindings, Result, StatementKind};
use veil_core::{Purpose, Scope};

/// Prefix of the account groups whose members act under a project.
pub const PROJECT_GROUP_PREFIX: &str = "project:";

const DIALECT: Dialect = Dialect {
    target: "databricks",
    decimal: "DECIMAL(38,0)",
    regex_char: warehouse::hex_escape,
    replacement_dollar: "\\$",
    email_domain: warehouse::substring_index_domain,
};

/// The Databricks target.
#[derive(Debug)]
pub struct Databricks {
    groups: BTreeSet<String>,
    purposes: BTreeMap<String, BTreeSet<String>>,
    key_id: String,
    exempt: Vec<String>,
    database: Option<String>,
}

impl Databricks {
    /// The target for an engine's directory.
    pub fn new(engine: &Engine, key_id: &str) -> Self {
        let directory = engine.directory();
        let groups = directory.users().flat_map(|u| u.groups.iter().cloned()).collect();
        let purposes = warehouse::projects_by_purpose(engine);
        Self { groups, purposes, key_id: key_id.to_string(), exempt: Vec::new(), database: None }
    }

    /// With veil's own schemas in catalog `database` (else the session's current one).
    pub fn in_database(mut self, database: Option<String>) -> Self {
        self.database = database;
        self
    }

    /// With the principals that read the tables unmasked and unfiltered.
    pub fn with_exempt(mut self, exempt: &[String]) -> Self {
        self.exempt = exempt.to_vec();
        self
    }

    fn member(&self, group: &str) -> String {
        format!("is_account_group_member({})", self.literal(group))
    }

    fn any(items: Vec<String>) -> String {
        if items.is_empty() {
            "FALSE".into()
        } else {
            format!("({})", items.join(" OR "))
        }
    }

    /// The key derived for `purpose` in the source scope (HKDF-SHA-256 with one
    /// expand block, as veil-core derives it), optionally for the reader.
    fn derived_key(&self, purpose: Purpose, source: &str, per_reader: bool) -> String {
        // veil-core's info for the source scope; a reader scope appends
        // `0x00 ‖ len32be(reader) ‖ reader`, written here in SQL.
        let mut info = veil_core::derivation_info(purpose, &Scope::source(source));
        let info = if per_reader {
            info.push(0);
            let r = self.reader();
            format!(
                "concat({}, unhex(lpad(hex(octet_length({r})), 8, '0')), encode({r}, 'UTF-8'), X'01')",
                hex_literal(&info)
            )
        } else {
            info.push(1);
            hex_literal(&info)
        };
        let master = format!(
            "(SELECT unhex(k.key_hex) FROM {} k WHERE k.key_id = {})",
            self.facts_table("keys"),
            self.literal(&self.key_id)
        );
        format!("hmac(hmac({}, {master}), {info})", hex_literal(veil_core::HKDF_SALT))
    }

    /// A function argument naming a base-table column: plain names unquoted (so a
    /// `where:` clause written with plain names refers to them), others quoted.
    pub fn arg_ident(&self, column: &str) -> String {
        if warehouse::is_plain(column) {
            column.to_string()
        } else {
            self.quote_ident(column)
        }
    }
}

// The Databricks family's SQL (Databricks, Spark) for keyed masks, samples, dates and
// time windows, over an expression for the key derived for the scope.

/// The text a keyed hash of `c` reads, as veil-core writes the value; `engine`
/// names the engine in refusals.
pub(crate) fn hash_text(
    t: &dyn Target,
    ctx: &MaskContext<'_>,
    c: &str,
    engine: &str,
    scope: HashScope,
) -> Result<String> {
    let refuse = |why: String| warehouse::unsupported(t.name(), ctx, &why);
    if scope == HashScope::Project {
        return Err(refuse(format!(
            "a project-scoped hash: {engine} mask functions cannot read which project a reader acts \
             under as text; use the source scope, or bind this policy to DuckDB"
        )));
    }
    match ctx.column_type {
        ColumnType::Text => Ok(c.to_string()),
        ColumnType::Integer => Ok(format!("CAST({c} AS STRING)")),
        _ => Err(refuse(format!(
            "a keyed hash of a column that is not text or integer: {engine} writes these \
             values as text differently from veil-core; cast the column to text in dbt"
        ))),
    }
}

/// veil's keyed hash (HMAC-SHA-256 as lowercase hex) of `text` under `key`.
pub(crate) fn keyed_hash(key: &str, text: &str) -> String {
    format!("lower(hex(hmac({key}, encode({text}, 'UTF-8'))))")
}

/// Rows whose `row_key` falls in a `percent` sample under `key`: as veil-core, the
/// first 8 bytes of the HMAC, big-endian, below its threshold.
pub(crate) fn in_sample(key: &str, row_key: &str, percent: f64) -> String {
    if percent >= 100.0 {
        return "TRUE".into();
    }
    let threshold = veil_core::rows::sample_threshold(percent);
    format!("substr(hex(hmac({key}, encode({row_key}, 'UTF-8'))), 1, 16) < '{threshold:016X}'")
}

/// A date or timestamp truncated to `unit`, in the column's type.
pub(crate) fn trunc(t: &dyn Target, unit: veil_policy::TimeUnit, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
    let unit = warehouse::time_unit(unit);
    let ty = t.sql_type(ctx.column_type)?;
    match ctx.column_type {
        ColumnType::Date | ColumnType::Timestamp => Ok(format!("CAST(date_trunc('{unit}', {c}) AS {ty})")),
        _ => Err(warehouse::unsupported(
            t.name(),
            ctx,
            "date truncation of a column that is not a date or timestamp; type the column in dbt",
        )),
    }
}

/// Rows whose `column_sql` lies within the last `seconds` (in the session's time zone).
pub(crate) fn time_window(column_sql: &str, seconds: u64) -> String {
    format!(
        "CAST({column_sql} AS TIMESTAMP_NTZ) >= TIMESTAMPADD(SECOND, -{seconds}, CAST(current_timestamp() AS TIMESTAMP_NTZ))"
    )
}

/// The Databricks family's (Spark SQL's) names for the column types veil writes.
pub(crate) const TYPES: TypeNames = TypeNames {
    text: "STRING",
    integer: "BIGINT",
    float: "DOUBLE",
    decimal: "DECIMAL",
    decimal_space: false,
    boolean: "BOOLEAN",
    date: "DATE",
    timestamp: "TIMESTAMP_NTZ",
    brackets: false,
};

fn hex_literal(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("X'{hex}'")
}

/// Databricks in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "databricks",
    about: "Databricks (Unity Catalog): SQL UDF column masks and row filters, grants",
    options: &["exempt", "database"],
    make: |engine, options, o| {
        let database = super::own_database(engine, options, o.database.as_deref())?;
        Ok(Box::new(Databricks::new(engine, &options.key_id).with_exempt(&o.exempt).in_database(database)))
    },
};

impl Target for Databricks {
    /// veil's schemas in veil's database ([`super::own_database`]).
    fn schema_name(&self, schema: &str) -> String {
        super::in_database(self, self.database.as_deref(), schema)
    }

    fn attached(&self) -> Option<&dyn attached::Attached> {
        Some(self)
    }

    /// The keys table (facts and policy functions come from the pipeline).
    fn deploy(&self, _bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        out.keys.push(
            StatementKind::Setup,
            None,
            format!(
                "CREATE TABLE IF NOT EXISTS {} (key_id STRING NOT NULL, key_hex STRING NOT NULL);",
                self.facts_table("keys")
            ),
        );
        Ok(())
    }

    fn name(&self) -> &'static str {
        "databricks"
    }

    fn types(&self) -> TypeNames {
        TYPES
    }

    fn ident_quote(&self) -> IdentQuote {
        IdentQuote::Backtick
    }

    fn string_escapes(&self) -> StringEscapes {
        StringEscapes::Backslash
    }

    fn starts_with(&self) -> &'static str {
        "startswith"
    }

    fn predicate_column(&self, column: &str) -> String {
        self.arg_ident(column)
    }

    fn qualifies_database(&self) -> bool {
        true
    }

    fn reader(&self) -> String {
        "current_user()".into()
    }

    /// Mask functions cannot read session variables; projects are account groups
    /// ([`Target::native_condition`]), and project-scoped hashes are refused.
    fn project(&self) -> String {
        "CAST(NULL AS STRING)".into()
    }

    /// Not called: a row filter cannot raise; an unentitled reader has no SELECT
    /// grant and the row filter keeps no row.
    fn deny(&self, _message_sql: &str) -> String {
        "FALSE".into()
    }

    fn native_condition(&self, c: &Condition) -> Option<String> {
        Some(match c {
            Condition::InGroup { group } => self.member(group),
            Condition::GroupReaches { tag } => {
                Self::any(self.groups.iter().filter(|g| warehouse::reaches(g, tag)).map(|g| self.member(g)).collect())
            }
            Condition::ActingUnder { purpose } => Self::any(
                self.purposes
                    .get(purpose)
                    .into_iter()
                    .flatten()
                    .map(|p| self.member(&format!("{PROJECT_GROUP_PREFIX}{p}")))
                    .collect(),
            ),
            _ => return None,
        })
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        if let Some(sql) = warehouse::common_mask(self, &DIALECT, mask, c, ctx)? {
            return Ok(sql);
        }
        let refuse = |why: &str| warehouse::unsupported("databricks", ctx, why);
        Ok(match mask {
            Mask::Hash { scope, per_reader } => {
                let text = hash_text(self, ctx, c, "Databricks", *scope)?;
                keyed_hash(&self.derived_key(Purpose::Hash, ctx.source, *per_reader), &text)
            }
            Mask::FormatPreserving | Mask::Reversible { .. } => {
                let what = if matches!(mask, Mask::FormatPreserving) {
                    "format-preserving encryption (FF1)"
                } else {
                    "a reversible token (AES-SIV)"
                };
                return Err(refuse(&format!(
                    "{what} has no Databricks equivalent: Unity Catalog masks run SQL (or Python wrapped in \
                     SQL), not JavaScript or WebAssembly, and Databricks SQL has neither FF1 nor AES-SIV; use \
                     hash or null for this target, or bind this policy to Snowflake, PostgreSQL or DuckDB"
                )));
            }
            Mask::Trunc { unit } => trunc(self, *unit, c, ctx)?,
            _ => return Err(refuse("a mask this target has no translation for; veil never substitutes a weaker one")),
        })
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        time_window(column_sql, seconds)
    }

    fn sample_join(&self, parts: &[String]) -> String {
        format!("concat_ws('|', {})", parts.join(", "))
    }

    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String> {
        Ok(in_sample(&self.derived_key(Purpose::Sample, ctx.source, false), row_key, percent))
    }

    fn preamble(&self) -> Vec<String> {
        Vec::new()
    }

    /// Facts tables: Delta has no unsized `VARCHAR`; `STRING` it is.
    fn replace_table(&self, name: &str, columns: &str) -> Vec<String> {
        vec![format!("CREATE OR REPLACE TABLE {name} ({});", columns.replace("VARCHAR", "STRING"))]
    }
}

impl attached::Attached for Databricks {
    fn mask_what(&self) -> &'static str {
        "a Databricks column mask"
    }

    fn exempt_principals(&self) -> &[String] {
        &self.exempt
    }

    fn arg_ident(&self, column: &str) -> String {
        Databricks::arg_ident(self, column)
    }

    fn exempt(&self, principal: &str) -> String {
        format!("({} = {p} OR {})", self.reader(), self.member(principal), p = self.literal(principal))
    }

    fn create_mask(&self, name: &str, signature: &str, ty: &str, body: &str) -> String {
        format!("CREATE FUNCTION IF NOT EXISTS {name}({signature})\nRETURNS {ty}\nRETURN {body};")
    }

    /// Column masks and row filters attach to tables and materialized views;
    /// a view takes neither (Unity Catalog), so a view is refused.
    fn relation(&self, source: &veil_policy::DataSource) -> Result<&'static str> {
        match source.kind {
            RelationKind::Table => Ok("TABLE"),
            RelationKind::MaterializedView => Ok("MATERIALIZED VIEW"),
            RelationKind::View => Err(crate::Error::Unsupported {
                target: "databricks",
                what: format!(
                    "the view `{}`: Unity Catalog attaches no column mask or row filter to a view; \
                     materialize it as a table or materialized view in dbt, or leave it out (--source)",
                    source.name
                ),
            }),
        }
    }

    fn attach_mask(&self, relation: &str, base: &str, column: &str, name: &str, extra: &[String]) -> String {
        let using = if extra.is_empty() {
            String::new()
        } else {
            let cols: Vec<String> = extra.iter().map(|c| self.quote_ident(c)).collect();
            format!(" USING COLUMNS ({})", cols.join(", "))
        };
        format!("ALTER {relation} {base} ALTER COLUMN {} SET MASK {name}{using};", self.quote_ident(column))
    }

    fn create_rows(&self, name: &str, signature: &str, body: &str) -> String {
        format!("CREATE FUNCTION IF NOT EXISTS {name}({signature})\nRETURNS BOOLEAN\nRETURN {body};")
    }

    fn attach_rows(&self, relation: &str, base: &str, name: &str, on: &[String]) -> Vec<String> {
        vec![format!("ALTER {relation} {base} SET ROW FILTER {name} ON ({});", on.join(", "))]
    }

    fn grant(&self, relation: &str, base: &str, user: &str, allowed: bool) -> String {
        let who = self.quote_ident(user);
        if allowed {
            format!("GRANT SELECT ON {relation} {base} TO {who};")
        } else {
            format!("REVOKE SELECT ON {relation} {base} FROM {who};")
        }
    }
}

/// Generate the Databricks bindings: facts and keys table in schema `veil`,
/// mask and row filter functions set on the base tables, SELECT grants. Each
/// `exempt` principal (a user or service principal, by `current_user()`, or an
/// account group; e.g. the one dbt builds with) reads the tables unmasked and
/// unfiltered. Shorthand for [`crate::bind`] with
/// `Databricks::new(engine, &options.key_id).with_exempt(exempt)`.
///
/// # Errors
/// [`crate::Error::Unsupported`] for a mask Databricks cannot enforce faithfully (naming
/// policy and column); [`crate::Error::Invalid`] for `--user` mode or unusable names;
/// [`crate::Error::Policy`] for unknown sources.
pub fn bind(engine: &Engine, options: &BindOptions, exempt: &[String]) -> Result<Bindings> {
    let database = super::own_database(engine, options, None)?;
    crate::bind(engine, &Databricks::new(engine, &options.key_id).with_exempt(exempt).in_database(database), options)
}
