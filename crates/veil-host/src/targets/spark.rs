//! Apache Spark through the Thrift server (HiveServer2): secure views over the
//! Databricks family's SQL, for OSS Spark, which has neither column masks, row
//! filters nor grants.
//!
//! What a bind generates (run it as an admin of veil's guard, `spark.veil.admins`):
//! - schema `veil` with the facts about readers as views over `VALUES` (answered in
//!   the driver), and the key table, dropped and created again (Spark's default
//!   catalog has no `CREATE OR REPLACE TABLE`); an apply names them with a
//!   generation suffix (`veil.users_g…`), so that views are switched one by one from
//!   one consistent set of facts and keys to the next;
//! - `veil.keys` (`key_id`, `purpose`, `scope`, `reader`, `key_hex`): keys derived
//!   per scope (and per reader for per-reader hashes), never the master key, filled
//!   by `veil apply` outside this SQL;
//! - the Hive UDFs `veil.veil_ff1` and `veil.veil_token` (veil-core through JNI,
//!   `USING JAR`), when a policy masks with FF1 or tokens;
//! - one persistent view per source in the secure schema (`WITH SCHEMA BINDING`),
//!   the reader being `current_user()` (the Thrift session's user). Keyed hashes
//!   and samples are `hmac` over the stored derived key, as on Databricks.
//!
//! Spark itself lets any connected user read anything: veil's guard
//! (`spark.sql.extensions=veil.spark.Guard`, engines/spark) makes readers read only
//! the secure views. Readers cannot act under a project (a view cannot read a
//! session variable they set): conditions on purposes are false there, and
//! project-scoped hashes are refused.

use veil_policy::{ColumnType, Engine, HashScope, Mask};

use super::databricks::{hash_text, in_sample, keyed_hash, time_window, trunc, TYPES};
use super::dialect::{IdentQuote, StringEscapes, TypeNames};
use super::warehouse::{self, Dialect};
use super::{MaskContext, Target};
use crate::pipeline::{Deployment, Needed, Sections};
use crate::render::{ViewParts, FACTS_SCHEMA};
use crate::{BindOptions, Result, StatementKind};

const DIALECT: Dialect = Dialect {
    target: "spark",
    decimal: "DECIMAL(38,0)",
    regex_char: warehouse::hex_escape,
    replacement_dollar: "\\$",
    email_domain: warehouse::substring_index_domain,
};

/// Where the UDF jar is, unless told (`scripts/build-spark` builds it).
pub const UDF_JAR: &str = "dist/spark/veil-spark-udf.jar";

/// The Hive UDF classes of the UDF jar, by function name in schema `veil`.
pub const UDFS: [(&str, &str); 2] = [("veil_ff1", "veil.spark.udf.Ff1"), ("veil_token", "veil.spark.udf.Token")];

/// The Spark target.
#[derive(Clone, Debug)]
pub struct Spark {
    key_id: String,
    udf_jar: String,
    generation: Option<u64>,
    one_reader: bool,
}

impl Spark {
    /// The target for key `key_id`, with the UDF jar at `udf_jar` (a URI or path the
    /// Thrift server can read).
    pub fn new(key_id: &str, udf_jar: &str) -> Self {
        Self { key_id: key_id.into(), udf_jar: udf_jar.into(), generation: None, one_reader: false }
    }

    /// With facts and keys tables of generation `g` (`veil.users_g<g>`, …), so an
    /// apply never changes the tables that views already in place read.
    pub fn with_generation(mut self, g: u64) -> Self {
        self.generation = Some(g);
        self
    }

    /// Allowing views for one reader: only to specialise the expected query of a
    /// reader in `veil verify` (such views are never created on Spark, where every
    /// reader could read them).
    pub fn for_verification(mut self) -> Self {
        self.one_reader = true;
        self
    }

    /// The generation of the facts and keys tables, if any.
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }

    /// The key derived for `purpose` in `scope_sql` (and for the reader, when per reader).
    fn key(&self, purpose: &str, scope_sql: &str, reader: Option<String>) -> String {
        let reader = reader.map_or("k.reader IS NULL".into(), |r| format!("k.reader = {r}"));
        format!(
            "(SELECT unhex(k.key_hex) FROM {} k WHERE k.key_id = {} AND k.purpose = '{purpose}' AND k.scope = {scope_sql} AND {reader})",
            self.facts_table("keys"),
            self.literal(&self.key_id)
        )
    }

    fn text_of(&self, c: &str, ctx: &MaskContext<'_>) -> String {
        if *ctx.column_type == ColumnType::Text {
            c.to_string()
        } else {
            self.text(c)
        }
    }
}

/// Spark in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "spark",
    about: "Apache Spark (Thrift server): secure views, derived keys, JNI UDFs; needs veil's guard",
    options: &["udf-jar"],
    make: |_, options, o| Ok(Box::new(Spark::new(&options.key_id, o.udf_jar.as_deref().unwrap_or(UDF_JAR)))),
};

impl Target for Spark {
    fn name(&self) -> &'static str {
        "spark"
    }

    fn binds_one_reader(&self) -> bool {
        self.one_reader
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

    fn reader(&self) -> String {
        "current_user()".into()
    }

    /// No reader acts under a project on Spark (see the module docs).
    fn project(&self) -> String {
        "CAST(NULL AS STRING)".into()
    }

    fn deny(&self, message_sql: &str) -> String {
        format!("raise_error({message_sql})")
    }

    fn facts_table(&self, table: &str) -> String {
        let table = match self.generation {
            Some(g) => format!("{table}_g{g}"),
            None => table.to_string(),
        };
        format!("{}.{}", self.quote_ident(FACTS_SCHEMA), self.quote_ident(&table))
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        if let Some(sql) = warehouse::common_mask(self, &DIALECT, mask, c, ctx)? {
            return Ok(sql);
        }
        let source_scope = self.literal(&format!("source:{}", ctx.source));
        Ok(match mask {
            Mask::Hash { scope, per_reader } => {
                let text = hash_text(self, ctx, c, "Spark", *scope)?;
                let reader = per_reader.then(|| self.reader_of(ctx));
                keyed_hash(&self.key("hash", &self.hash_scope(ctx, HashScope::Source), reader), &text)
            }
            Mask::FormatPreserving => format!(
                "{}.veil_ff1({}, {}, {source_scope})",
                self.quote_ident(FACTS_SCHEMA),
                self.text_of(c, ctx),
                self.key("ff1", &source_scope, None)
            ),
            Mask::Reversible { .. } => format!(
                "{}.veil_token({}, {}, {source_scope})",
                self.quote_ident(FACTS_SCHEMA),
                self.text_of(c, ctx),
                self.key("token", &source_scope, None)
            ),
            Mask::Trunc { unit } => trunc(self, *unit, c, ctx)?,
            _ => {
                return Err(warehouse::unsupported(
                    "spark",
                    ctx,
                    "a mask this target has no translation for; veil never substitutes a weaker one",
                ))
            }
        })
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        time_window(column_sql, seconds)
    }

    fn sample_join(&self, parts: &[String]) -> String {
        format!("concat_ws('|', {})", parts.join(", "))
    }

    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String> {
        let scope = self.literal(&format!("source:{}", ctx.source));
        Ok(in_sample(&self.key("sample", &scope, None), row_key, percent))
    }

    /// Views capture the settings their creator changed: pinning the time zone keeps
    /// time windows and date masks independent of the server's and readers' zones.
    fn preamble(&self) -> Vec<String> {
        vec!["SET spark.sql.session.timeZone = UTC;".into()]
    }

    /// Facts tables: dropped and created again, `STRING` for `VARCHAR`.
    fn replace_table(&self, name: &str, columns: &str) -> Vec<String> {
        vec![
            format!("DROP TABLE IF EXISTS {name};"),
            format!("CREATE TABLE {name} ({}) USING parquet;", columns.replace("VARCHAR", "STRING")),
        ]
    }

    /// Facts are views over `VALUES`: one statement each, and Spark answers a
    /// view's subqueries on them in the driver, without a job.
    fn facts_relation(&self, name: &str, columns: &str, rows: &[String]) -> Vec<String> {
        let names = columns.split(',').filter_map(|c| c.split_whitespace().next());
        let (values, nulls): (Vec<String>, Vec<String>) = names
            .enumerate()
            .map(|(i, n)| {
                let n = self.quote_ident(n);
                (format!("CAST(col{} AS STRING) AS {n}", i + 1), format!("CAST(NULL AS STRING) AS {n}"))
            })
            .unzip();
        let body = if rows.is_empty() {
            format!("SELECT {} WHERE FALSE", nulls.join(", "))
        } else {
            format!("SELECT {} FROM VALUES\n  {}", values.join(", "), rows.join(",\n  "))
        };
        vec![format!("CREATE OR REPLACE VIEW {name} AS\n{body};")]
    }

    fn view(&self, parts: &ViewParts<'_>) -> Result<Option<(String, String)>> {
        let select = parts.select(self);
        Ok(Some((
            format!(
                "CREATE OR REPLACE VIEW {}.{} WITH SCHEMA BINDING AS\n{select};",
                parts.schema,
                self.quote_ident(parts.view)
            ),
            select,
        )))
    }

    /// The keys table, the UDFs the plans call, and how the guard must be set.
    fn deploy(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        let keys = self.facts_table("keys");
        out.keys.extend(
            StatementKind::Setup,
            self.replace_table(
                &keys,
                "key_id STRING NOT NULL, purpose STRING NOT NULL, scope STRING NOT NULL, reader STRING, key_hex STRING NOT NULL",
            ),
        );
        for (needed, (function, class)) in [(Needed::FormatPreserving, UDFS[0]), (Needed::Token, UDFS[1])] {
            if bind.needs.contains(&needed) {
                out.udfs.push(
                    StatementKind::Setup,
                    None,
                    format!(
                        "CREATE OR REPLACE FUNCTION {}.{} AS {} USING JAR {};",
                        self.quote_ident(FACTS_SCHEMA),
                        self.quote_ident(function),
                        self.literal(class),
                        self.literal(&self.udf_jar)
                    ),
                );
            }
        }
        out.setup.push(
            StatementKind::Comment,
            None,
            format!(
                "-- Readers read only through veil's guard: start the Thrift server with\n\
                 -- spark.sql.extensions=veil.spark.Guard, spark.veil.admins=<who runs this SQL>,\n\
                 -- spark.veil.secureSchema={} (dist/spark/veil-spark-guard.jar; see docs/targets.md).",
                bind.options.secure_schema
            ),
        );
        Ok(())
    }
}

/// The keys `veil apply --spark` stores for a bind: (purpose, scope, reader).
/// Per data source the hash, sample, FF1 and token keys; per reader the hash key
/// of each source when a policy hashes per reader.
///
/// # Errors
/// [`crate::Error::Policy`] for an unknown source.
pub fn key_scopes(engine: &Engine, options: &BindOptions) -> Result<Vec<(&'static str, String, Option<String>)>> {
    let sources = crate::pipeline::selected(engine, options)?;
    let mut out = Vec::new();
    let mut per_reader = false;
    for source in &sources {
        let plan = engine.plan(&source.name)?;
        per_reader |= crate::pipeline::needed([&plan]).contains(&Needed::HashPerReader);
        for purpose in ["hash", "sample", "ff1", "token"] {
            out.push((purpose, format!("source:{}", source.name), None));
        }
    }
    if per_reader {
        for user in engine.directory().users() {
            for source in &sources {
                out.push(("hash", format!("source:{}", source.name), Some(user.name.clone())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_name_the_tables() {
        let t = Spark::new("default", UDF_JAR);
        assert_eq!(t.facts_table("users"), "`veil`.`users`");
        assert_eq!(t.with_generation(7).facts_table("users"), "`veil`.`users_g7`");
    }

    #[test]
    fn keys_come_from_the_stored_derived_keys() {
        let t = Spark::new("k1", UDF_JAR);
        let key = t.key("hash", "'source:a'", Some("current_user()".into()));
        assert!(key.contains("k.key_id = 'k1'") && key.contains("k.reader = current_user()"));
        assert!(t.key("sample", "'source:a'", None).contains("k.reader IS NULL"));
    }
}
