//! Target engines: what differs between SQL dialects, one file each.

pub mod attached;
pub mod bigquery;
pub mod databricks;
pub mod dialect;
mod duckdb;
pub mod postgres;
pub mod singlestore;
pub mod snowflake;
pub mod spark;
pub mod warehouse;

pub use duckdb::{DuckDb, READER_FACTS as DUCKDB_READER_FACTS, READER_VIEW as DUCKDB_READER_VIEW};
pub use postgres::Postgres;

/// Settings an engine's constructor may read (from the command line); each
/// engine reads the ones its [`EngineEntry::options`] lists.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// DuckDB: what `LOAD` names (a path to the extension, or `veil`).
    pub load: Option<String>,
    /// Warehouses: the folder of the slim JS UDF bundles (`dist/js/slim`).
    pub udfs: Option<std::path::PathBuf>,
    /// BigQuery: the Cloud Storage folder the UDFs load their bundles from.
    pub udf_library: Option<String>,
    /// BigQuery: row access policies on the base tables, granting every row to these.
    pub row_access_policies: Option<Vec<String>>,
    /// Snowflake, Databricks: principals that read the base tables unmasked.
    pub exempt: Vec<String>,
    /// SingleStore: host part of the accounts views are granted to.
    pub account_host: Option<String>,
    /// SingleStore: the folder of the Wasm modules (`dist/singlestore`).
    pub modules: Option<std::path::PathBuf>,
    /// Warehouses: the database (catalog, project) of veil's own schemas; by
    /// default the data sources' database.
    pub database: Option<String>,
    /// Spark: the UDF jar (`dist/spark/veil-spark-udf.jar`) as the Thrift server reads it.
    pub udf_jar: Option<String>,
}

/// The database (catalog, project) veil's own schemas go in on a warehouse:
/// `given`, else the one database every bound source is in.
///
/// # Errors
/// [`crate::Error::Invalid`] when the sources are in several databases and none is given.
pub fn own_database(engine: &Engine, options: &BindOptions, given: Option<&str>) -> Result<Option<String>> {
    if let Some(given) = given {
        return Ok(Some(given.to_owned()));
    }
    let sources = crate::pipeline::selected(engine, options)?;
    let databases: std::collections::BTreeSet<&str> = sources.iter().filter_map(|s| s.database.as_deref()).collect();
    match databases.len() {
        0 | 1 => Ok(databases.into_iter().next().map(str::to_owned)),
        _ => Err(crate::Error::Invalid(format!(
            "the data sources are in databases {}: give --database for veil's own schemas (facts, keys, policies, secure views)",
            databases.into_iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `schema` quoted, in `database` when there is one.
pub fn in_database(t: &dyn Target, database: Option<&str>, schema: &str) -> String {
    match database {
        Some(d) => format!("{}.{}", t.quote_ident(d), t.quote_ident(schema)),
        None => t.quote_ident(schema),
    }
}

/// One engine veil binds for: its name, what it makes, and how to build its target.
#[derive(Clone, Copy, Debug)]
pub struct EngineEntry {
    /// The name `--target` takes.
    pub name: &'static str,
    /// One line on what veil makes there.
    pub about: &'static str,
    /// The [`EngineOptions`] it reads, by flag name (`exempt`, `udf-library`, …).
    pub options: &'static [&'static str],
    /// Build the target for a bind.
    pub make: fn(&Engine, &BindOptions, &EngineOptions) -> Result<Box<dyn Target>>,
}

/// Every engine, in the order `--help` lists them. Adding an engine is one file
/// in this folder and one line here.
pub const ENGINES: &[EngineEntry] = &[
    duckdb::ENGINE,
    postgres::ENGINE,
    snowflake::ENGINE,
    databricks::ENGINE,
    bigquery::ENGINE,
    singlestore::ENGINE,
    spark::ENGINE,
];

/// The engine named `name`.
pub fn engine(name: &str) -> Option<&'static EngineEntry> {
    ENGINES.iter().find(|e| e.name == name)
}

use veil_policy::{ColumnType, Condition, Mask, RowPredicate};

use self::dialect::{IdentQuote, StringEscapes, TypeNames};

use crate::pipeline::{Deployment, Sections};
use crate::render::ViewParts;
use crate::{BindOptions, Result};
use veil_policy::{DataSource, Engine};

/// Who reads: the engine's expression for the reader, or one known reader.
#[derive(Clone, Debug)]
pub enum Reader<'a> {
    /// Named at query time; conditions are evaluated by the engine.
    Dynamic,
    /// One reader, folded in when the SQL is generated.
    Known {
        /// User name.
        name: &'a str,
        /// Project acted under.
        project: Option<&'a str>,
    },
}

/// What a mask needs to know besides its column.
#[derive(Clone, Debug)]
pub struct MaskContext<'a> {
    /// Data source (catalog name); the scope of keyed masks.
    pub source: &'a str,
    /// Column name (for messages).
    pub column: &'a str,
    /// Policy key (for messages).
    pub policy: &'a str,
    /// Key id the engine resolves from its keyring.
    pub key_id: &'a str,
    /// The column's type in the source.
    pub column_type: &'a ColumnType,
    /// The reader.
    pub reader: Reader<'a>,
}

/// One SQL dialect and engine.
pub trait Target {
    /// Short name, e.g. `duckdb`.
    fn name(&self) -> &'static str;
    /// How the engine quotes identifiers.
    fn ident_quote(&self) -> IdentQuote {
        IdentQuote::DoubleQuote
    }
    /// How the engine reads string literals.
    fn string_escapes(&self) -> StringEscapes {
        StringEscapes::Standard
    }
    /// The engine's names for column types.
    fn types(&self) -> TypeNames;
    /// Quote an identifier ([`Target::ident_quote`]).
    fn quote_ident(&self, ident: &str) -> String {
        dialect::quote_ident(self.ident_quote(), ident)
    }
    /// The form under which the engine compares two quoted identifiers: the
    /// identifier itself where quoted names are case-sensitive, lower case where
    /// the engine ignores case (the default, which errs towards reporting clashes).
    fn fold_ident(&self, ident: &str) -> String {
        ident.to_lowercase()
    }
    /// Does a base relation name its database (catalog, project) too? True for
    /// warehouses, where one account holds many databases and a statement run from
    /// another database's context must not land on a twin table.
    fn qualifies_database(&self) -> bool {
        false
    }
    /// Quote a string literal ([`Target::string_escapes`]).
    fn literal(&self, text: &str) -> String {
        dialect::literal(self.string_escapes(), text)
    }
    /// The engine's name for a column type ([`Target::types`]).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for a type name that is not safe to paste.
    fn sql_type(&self, ty: &ColumnType) -> Result<String> {
        dialect::sql_type(&self.types(), ty)
    }
    /// Expression naming the reader at query time (dynamic mode); NULL when unset.
    fn reader(&self) -> String;
    /// Expression naming the project the reader acts under (dynamic mode).
    fn project(&self) -> String;
    /// The engine's `starts_with(text, prefix)` function.
    fn starts_with(&self) -> &'static str {
        "starts_with"
    }
    /// Does user value `value_sql` reach data tag `tag_sql` (hierarchical match,
    /// as veil-core's `tag_matches`)?
    fn tag_match(&self, value_sql: &str, tag_sql: &str) -> String {
        format!(
            "({value_sql} <> '' AND ({tag_sql} = {value_sql} OR {}({tag_sql}, {value_sql} || '.')))",
            self.starts_with()
        )
    }
    /// A boolean expression that raises an error with `message_sql` when evaluated.
    fn deny(&self, message_sql: &str) -> String;
    /// The masked expression for `column_sql`.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] when the engine cannot enforce the mask faithfully.
    fn mask(&self, mask: &Mask, column_sql: &str, ctx: &MaskContext<'_>) -> Result<String>;
    /// The call of a custom mask ([`Mask::Component`]) on `column_sql`: the
    /// function an engine that loads Wasm components registered for its export.
    /// Provided: refused, naming policy, column and what to do; only engines that
    /// load components (DuckDB with `veil_wasm`) write the call.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] on engines that cannot load components.
    fn component_mask(&self, mask: &Mask, column_sql: &str, ctx: &MaskContext<'_>) -> Result<String> {
        let _ = column_sql;
        let what = match mask {
            Mask::Component { component, function, .. } => {
                format!("custom mask `{function}` of component `{}`", component.display())
            }
            other => format!("mask `{}`", other.kind()),
        };
        Err(crate::Error::Unsupported {
            target: self.name(),
            what: format!(
                "policy `{}`, column `{}.{}`: the {what}; custom masks run where veil loads WebAssembly \
                 components (DuckDB with the veil_wasm extension): bind this source to DuckDB, or mask it \
                 with a built-in mask for {}",
                ctx.policy,
                ctx.source,
                ctx.column,
                self.name()
            ),
        })
    }
    /// A row predicate as a boolean expression over the base table's columns:
    /// attribute matches and value lists over the column as text
    /// ([`Target::row_value`]), `where:` clauses printed for the engine, and the
    /// engine's time window and sample.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] when the engine cannot apply it;
    /// [`crate::Error::Invalid`] for a sample percent outside 0..=100.
    fn row_predicate(&self, predicate: &RowPredicate, ctx: &MaskContext<'_>) -> Result<String> {
        Ok(match predicate {
            RowPredicate::MatchAttribute { column, attribute, hierarchical } => {
                self.reader_attribute_match(attribute, &self.row_value(column, *hierarchical), *hierarchical, ctx)
            }
            RowPredicate::ValueIn { column, values, hierarchical } => {
                crate::render::value_in(self, values, &self.row_value(column, *hierarchical), *hierarchical)
            }
            RowPredicate::Sql { predicate } => crate::predicate::print(self, &predicate.tree)?,
            RowPredicate::TimeWindow { column, seconds } => self.time_window(&self.predicate_column(column), *seconds),
            RowPredicate::Sample { percent, key } => {
                let text = |k: &str| self.sample_text(&self.predicate_column(k));
                let row_key = crate::render::sample_key(ctx.policy, *percent, key, &text, &|p| self.sample_join(p))?;
                self.in_sample(&row_key, *percent, ctx)?
            }
            RowPredicate::Nothing => "FALSE".into(),
        })
    }
    /// Rows whose `value_sql` is one of the reader's values for `attribute`
    /// (`hierarchical`: or below one), read from the facts.
    fn reader_attribute_match(
        &self,
        attribute: &str,
        value_sql: &str,
        hierarchical: bool,
        ctx: &MaskContext<'_>,
    ) -> String {
        crate::render::match_attribute(self, attribute, value_sql, hierarchical, ctx)
    }
    /// A dynamic view's refusal, evaluated once per query before any row: TRUE
    /// for a known reader meeting `condition`, else `deny` (an error). It must
    /// stay an uncorrelated scalar subquery, so an empty table refuses too.
    fn access_check(&self, condition: &str, deny: &str) -> String {
        format!(
            "(SELECT CASE WHEN EXISTS (SELECT 1 FROM {} u WHERE u.user_name = {}) AND {condition} THEN TRUE ELSE {deny} END)",
            self.facts_table("users"),
            self.reader()
        )
    }
    /// `expr` as text, as row rules compare it with reader values.
    fn text(&self, expr: &str) -> String {
        self.cast(expr, self.types().text)
    }
    /// A row rule's column as text to compare with reader values
    /// (`hierarchical`: compared by prefix, as [`Target::tag_match`] does).
    fn row_value(&self, column: &str, _hierarchical: bool) -> String {
        self.text(&self.predicate_column(column))
    }
    /// One part of a sample's row key: the column as text, NULL as ''.
    fn sample_text(&self, column_sql: &str) -> String {
        format!("COALESCE({}, '')", self.text(column_sql))
    }
    /// A sample's row key parts joined with `|` (veil-core's row key).
    fn sample_join(&self, parts: &[String]) -> String {
        format!("CONCAT_WS('|', {})", parts.join(", "))
    }
    /// Rows whose `column_sql` lies within the last `seconds`.
    fn time_window(&self, column_sql: &str, seconds: u64) -> String;
    /// Rows whose `row_key` (text) falls in a `percent` sample keyed for the source.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] when the engine cannot sample.
    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String>;
    /// The reader a mask or row rule is evaluated for: the engine's expression
    /// ([`Target::reader`]), or the one known reader as a literal.
    fn reader_of(&self, ctx: &MaskContext<'_>) -> String {
        match &ctx.reader {
            Reader::Dynamic => self.reader(),
            Reader::Known { name, .. } => self.literal(name),
        }
    }
    /// The scope of a keyed hash as text (veil-core's `source:<name>` or
    /// `project:<name>`); NULL for a project-scoped hash of a reader acting under
    /// no project, or under one they are not a member of in the facts (a reader
    /// names the project in the session: naming another project's must not give
    /// its hashes). The hash is then NULL: fail closed.
    fn hash_scope(&self, ctx: &MaskContext<'_>, scope: veil_policy::HashScope) -> String {
        use veil_policy::HashScope;
        match (scope, &ctx.reader) {
            (HashScope::Source, _) => self.literal(&format!("source:{}", ctx.source)),
            (HashScope::Project, Reader::Dynamic) => format!(
                "(SELECT 'project:' || m.project FROM {} m WHERE m.user_name = {} AND m.project = {})",
                self.facts_table("user_projects"),
                self.reader(),
                self.project()
            ),
            (HashScope::Project, Reader::Known { project: Some(p), .. }) => self.literal(&format!("project:{p}")),
            (HashScope::Project, Reader::Known { project: None, .. }) => self.cast("NULL", self.types().text),
        }
    }
    /// One of veil's own schemas (its facts, the secure views), quoted; where
    /// the engine qualifies relations with a database, in veil's database
    /// (the data sources' one, or `--database`), never the session's.
    fn schema_name(&self, schema: &str) -> String {
        self.quote_ident(schema)
    }
    /// A table of veil's facts schema, quoted ([`Target::schema_name`]).
    fn facts_table(&self, table: &str) -> String {
        format!("{}.{}", self.schema_name(crate::render::FACTS_SCHEMA), self.quote_ident(table))
    }
    /// The engine's own expression for a reader condition (e.g. a group as a role
    /// in the session), or `None` to look it up in the facts tables.
    fn native_condition(&self, _condition: &Condition) -> Option<String> {
        None
    }
    /// Statements that must run before the views (e.g. loading an extension).
    fn preamble(&self) -> Vec<String>;
    /// `expr` converted to the engine's type `ty` (from [`Target::sql_type`]).
    fn cast(&self, expr: &str, ty: &str) -> String {
        format!("CAST({expr} AS {ty})")
    }
    /// A column as a `where:` predicate names it: quoted (views), or the
    /// argument naming it where predicates live in functions over the columns
    /// (Snowflake policies, Databricks masks and filters).
    fn predicate_column(&self, column: &str) -> String {
        self.quote_ident(column)
    }
    /// `a % b` (integer remainder).
    fn modulo(&self, a: &str, b: &str) -> String {
        format!("({a} % {b})")
    }
    /// The engine's name for a portable scalar function of a `where` clause
    /// (`length` counts characters everywhere; see veil-policy's `sql::FUNCTIONS`).
    fn function_name(&self, name: &str) -> String {
        name.to_owned()
    }
    /// Text expressions joined end to end.
    fn concat(&self, parts: &[String]) -> String {
        parts.join(" || ")
    }
    /// The statement creating schema `name` (quoted) unless it exists.
    fn create_schema(&self, name: &str) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {name};")
    }
    /// Statements that (re)create table `name` (quoted) with `columns`, empty.
    fn replace_table(&self, name: &str, columns: &str) -> Vec<String> {
        vec![format!("CREATE OR REPLACE TABLE {name} ({columns});")]
    }
    /// Statements that (re)create the facts relation `name` (quoted) with `columns`
    /// (`name TYPE, …`) holding `rows` (each `(…)` of literals): by default
    /// [`Target::replace_table`] and one `INSERT`.
    fn facts_relation(&self, name: &str, columns: &str, rows: &[String]) -> Vec<String> {
        let mut out = self.replace_table(name, columns);
        if !rows.is_empty() {
            out.push(format!("INSERT INTO {name} VALUES\n  {};", rows.join(",\n  ")));
        }
        out
    }
    /// Statements run after the facts tables are written, in the same section:
    /// relations over them that every dynamic view shares. None by default.
    fn facts_views(&self) -> Vec<String> {
        Vec::new()
    }
    /// The SQL creating one secure view, and the query it stands for; `None`
    /// for a plain `CREATE OR REPLACE VIEW` ([`crate::render::plain_view`]).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for names the engine cannot hold.
    fn view(&self, _parts: &ViewParts<'_>) -> Result<Option<(String, String)>> {
        Ok(None)
    }

    /// The statement that must run before `CREATE … VIEW qualified` replaces an
    /// existing view (where the engine cannot replace one in place), if any.
    fn replace_view(&self, _qualified: &str) -> Option<String> {
        None
    }

    // How the engine deploys (the pipeline's hooks).

    /// The engine's way of writing policies attached to tables, for engines that
    /// enforce on the base tables (Snowflake, Databricks); `None` (the default)
    /// for engines that enforce through secure views.
    fn attached(&self) -> Option<&dyn attached::Attached> {
        None
    }
    /// Can the engine hold views for one reader ([`crate::Mode::Reader`])?
    fn binds_one_reader(&self) -> bool {
        false
    }
    /// Refusals of the engine's own, before anything is rendered.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming what the engine cannot hold and what to do.
    fn validate(&self, _engine: &Engine, _options: &BindOptions, _sources: &[&DataSource]) -> Result<()> {
        Ok(())
    }
    /// The engine's own sections (roles, keys table, helper functions, grants),
    /// written after the views or policies are rendered.
    ///
    /// # Errors
    /// As [`Target::validate`]; [`crate::Error::Invalid`] when a helper bundle is missing.
    fn deploy(&self, _bind: &Deployment<'_>, _out: &mut Sections) -> Result<()> {
        Ok(())
    }
}
