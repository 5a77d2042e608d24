//! BigQuery: secure views (to be authorized on the source datasets) with masks
//! and row filters, `GRANT` on the views from subscription decisions, and
//! JavaScript UDFs running veil's Wasm: the keyed hash inline, the others from
//! slim bundles loaded as library files.
//!
//! What a bind generates (run it as the principal that owns veil's datasets):
//! - dataset `veil` with the facts about readers, the key table `veil.keys`
//!   (`key_id`, `key_hex`: filled by the operator with query parameters, never by
//!   this SQL; no reader gets any role on dataset `veil`) and the JS UDFs
//!   `veil.veil_hash`, `veil.veil_in_sample`, `veil.veil_ff1`, `veil.veil_token`
//!   (only those the views use): `veil_hash` embeds `veil-hash-core.inline.js`
//!   (the canonical-ABI hash module with its own glue, 26 KB, under BigQuery's
//!   32 KB inline limit); the others load a slim bundle from
//!   `<library>/veil-<family>.inline.js` (each over 32 KB, so a library file in
//!   Cloud Storage);
//! - dataset `secure` (the bind's secure schema) with one view per source:
//!   masks as `CASE` over the facts with `SESSION_USER()`, row filters, and an
//!   `ERROR(…)` for a reader the subscription policies do not entitle;
//! - `GRANT roles/bigquery.dataViewer ON VIEW` to exactly the entitled readers,
//!   `REVOKE` from the others.
//!
//! The views must then be authorized on the source datasets and on dataset
//! `veil` (dataset access entries; not SQL: see docs/targets.md).

use veil_policy::{ColumnType, Condition, DataSource, Engine, HashScope, Mask, Rounding, RowPredicate, TimeUnit};

use super::dialect::{IdentQuote, StringEscapes, TypeNames};
use super::warehouse::{self, Dialect, Udfs};
use super::{MaskContext, Target};
use crate::pipeline::{self, Deployment, Needed, Sections};
use crate::render::{self};
use crate::{BindOptions, Bindings, Error, Result, StatementKind};

/// The role granted on each view to entitled readers.
pub const VIEWER_ROLE: &str = "roles/bigquery.dataViewer";

const DIALECT: Dialect = Dialect {
    target: "bigquery",
    decimal: "BIGNUMERIC",
    regex_char: warehouse::hex_escape,
    replacement_dollar: "$",
    email_domain: warehouse::reverse_strpos_domain,
};

/// The BigQuery target.
#[derive(Debug)]
pub struct BigQuery {
    key_id: String,
    udfs: Udfs,
    library: Option<String>,
    rap_grantees: Option<Vec<String>>,
    database: Option<String>,
}

impl BigQuery {
    /// The target for a key id.
    pub fn new(key_id: &str) -> Self {
        Self { key_id: key_id.to_string(), udfs: Udfs::absent(), library: None, rap_grantees: None, database: None }
    }

    /// With the JS UDF bundles (the keyed hash is inline) and the Cloud Storage
    /// folder the others load from (`gs://bucket/path`, holding dist/js/slim).
    pub fn with_udfs(mut self, udfs: Udfs, library: Option<&str>) -> Self {
        self.udfs = udfs;
        self.library = library.map(str::to_owned);
        self
    }

    /// With veil's datasets (facts, secure views) in project `database` (else the
    /// job's default project).
    pub fn in_database(mut self, database: Option<String>) -> Self {
        self.database = database;
        self
    }

    /// Also row access policies on the base tables ([`row_access_policies`]),
    /// granting every row to `grantees`.
    pub fn with_row_access_policies(mut self, grantees: &[String]) -> Self {
        self.rap_grantees = Some(grantees.to_vec());
        self
    }

    /// The key for the bind's key id, read through the authorized view from `veil.keys`.
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

    fn exact(w: f64) -> String {
        format!("CAST('{w:?}' AS BIGNUMERIC)")
    }
}

/// BigQuery in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "bigquery",
    about: "BigQuery: secure views (to authorize), grants on them, JS UDFs from library files",
    options: &["udfs", "udf-library", "row-access-policies", "rap-grantee", "database"],
    make: |engine, options, o| {
        let udfs = Udfs::load(o.udfs.as_deref().unwrap_or(std::path::Path::new("dist/js/slim")))?;
        let database = super::own_database(engine, options, o.database.as_deref())?;
        let t = BigQuery::new(&options.key_id).with_udfs(udfs, o.udf_library.as_deref()).in_database(database);
        Ok(Box::new(match &o.row_access_policies {
            Some(grantees) => t.with_row_access_policies(grantees),
            None => t,
        }))
    },
};

impl Target for BigQuery {
    /// veil's schemas in veil's database ([`super::own_database`]).
    fn schema_name(&self, schema: &str) -> String {
        super::in_database(self, self.database.as_deref(), schema)
    }

    fn validate(&self, _engine: &Engine, options: &BindOptions, sources: &[&DataSource]) -> Result<()> {
        self.check(options, sources)
    }

    fn deploy(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        self.deploy_sections(bind, out)
    }

    fn name(&self) -> &'static str {
        "bigquery"
    }

    fn types(&self) -> TypeNames {
        TypeNames {
            text: "STRING",
            integer: "INT64",
            float: "FLOAT64",
            decimal: "NUMERIC",
            decimal_space: true,
            boolean: "BOOL",
            date: "DATE",
            timestamp: "DATETIME",
            brackets: false,
        }
    }

    fn ident_quote(&self) -> IdentQuote {
        IdentQuote::BacktickBackslash
    }

    fn string_escapes(&self) -> StringEscapes {
        StringEscapes::BackslashControls
    }

    fn starts_with(&self) -> &'static str {
        "STARTS_WITH"
    }

    /// BigQuery has no `%` operator.
    fn modulo(&self, a: &str, b: &str) -> String {
        format!("MOD({a}, {b})")
    }

    /// Quoted identifiers are case-sensitive.
    fn fold_ident(&self, ident: &str) -> String {
        ident.to_owned()
    }

    fn qualifies_database(&self) -> bool {
        true
    }

    /// NUMERIC holds 29 integer and 9 fractional digits; wider decimals are BIGNUMERIC.
    fn sql_type(&self, ty: &ColumnType) -> Result<String> {
        match ty {
            ColumnType::Decimal { precision, scale } if *scale > 9 || precision.saturating_sub(*scale) > 29 => {
                Ok(format!("BIGNUMERIC({precision}, {scale})"))
            }
            other => super::dialect::sql_type(&self.types(), other),
        }
    }

    fn reader(&self) -> String {
        "SESSION_USER()".into()
    }

    /// Views cannot read session variables; acting under a project is being a
    /// member of it ([`Target::native_condition`]); project-scoped hashes are refused.
    fn project(&self) -> String {
        "CAST(NULL AS STRING)".into()
    }

    fn deny(&self, message_sql: &str) -> String {
        format!("ERROR({message_sql})")
    }

    fn native_condition(&self, c: &Condition) -> Option<String> {
        match c {
            Condition::ActingUnder { purpose } => Some(format!(
                "EXISTS (SELECT 1 FROM {} m JOIN {} p ON p.project = m.project WHERE m.user_name = {} AND p.purpose = {})",
                self.facts_table("user_projects"),
                self.facts_table("project_purposes"),
                self.reader(),
                self.literal(purpose)
            )),
            _ => None,
        }
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        let refuse = |why: &str| warehouse::unsupported("bigquery", ctx, why);
        let ty = self.sql_type(ctx.column_type)?;
        // Rounding with exact BIGNUMERIC constants (a literal `10.0` is FLOAT64 here).
        if let Mask::Round { rounding } = mask {
            let exact = match ctx.column_type {
                ColumnType::Integer | ColumnType::Decimal { .. } => format!("CAST({c} AS BIGNUMERIC)"),
                _ => {
                    return Err(refuse(
                        "rounding a floating-point or non-numeric column: BigQuery rounds binary floats \
                         differently from veil-core; cast the column to decimal in dbt",
                    ))
                }
            };
            return Ok(match rounding {
                Rounding::Width(w) if w.is_finite() && *w > 0.0 => {
                    let w = Self::exact(*w);
                    format!("CAST(ROUND({exact} / {w}) * {w} AS {ty})")
                }
                Rounding::Places(p) => format!("CAST(ROUND({exact}, {p}) AS {ty})"),
                Rounding::Width(w) => return Err(refuse(&format!("a rounding width of `{w}` (must be above 0)"))),
            });
        }
        if let Some(sql) = warehouse::common_mask(self, &DIALECT, mask, c, ctx)? {
            return Ok(sql);
        }
        let scope = self.literal(&format!("source:{}", ctx.source));
        Ok(match mask {
            Mask::Hash { scope: hash_scope, per_reader } => {
                if *hash_scope == HashScope::Project {
                    return Err(refuse(
                        "a project-scoped hash: a BigQuery view cannot read which project a reader acts under \
                         as text; use the source scope, or bind this policy to DuckDB",
                    ));
                }
                let text = match ctx.column_type {
                    ColumnType::Text => c.to_string(),
                    ColumnType::Integer => format!("CAST({c} AS STRING)"),
                    _ => {
                        return Err(refuse(
                            "a keyed hash of a column that is not text or integer: BigQuery writes these values \
                             as text differently from veil-core; cast the column to text in dbt",
                        ))
                    }
                };
                let reader = if *per_reader { self.reader() } else { "CAST(NULL AS STRING)".into() };
                format!("{}({text}, {}, {scope}, {reader})", self.udf("hash"), self.key())
            }
            Mask::FormatPreserving | Mask::Reversible { .. } => {
                if *ctx.column_type != ColumnType::Text {
                    return Err(refuse("format-preserving encryption and tokens apply to text columns only"));
                }
                let family = if matches!(mask, Mask::FormatPreserving) { "ff1" } else { "token" };
                format!("{}({c}, {}, {scope})", self.udf(family), self.key())
            }
            Mask::Trunc { unit } => match (ctx.column_type, unit) {
                (ColumnType::Date, TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day) => c.to_string(),
                (ColumnType::Date, unit) => format!("DATE_TRUNC({c}, {})", warehouse::time_unit(*unit)),
                (ColumnType::Timestamp, unit) => format!("DATETIME_TRUNC({c}, {})", warehouse::time_unit(*unit)),
                _ => {
                    return Err(refuse(
                        "date truncation of a column that is not a date or timestamp; type the column in dbt",
                    ))
                }
            },
            _ => return Err(refuse("a mask this target has no translation for; veil never substitutes a weaker one")),
        })
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        format!("CAST({column_sql} AS DATETIME) >= DATETIME_SUB(CURRENT_DATETIME(), INTERVAL {seconds} SECOND)")
    }

    /// BigQuery has no CONCAT_WS.
    fn sample_join(&self, parts: &[String]) -> String {
        format!("CONCAT({})", parts.join(", '|', "))
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

    fn replace_table(&self, name: &str, columns: &str) -> Vec<String> {
        vec![format!("CREATE OR REPLACE TABLE {name} ({});", columns.replace("VARCHAR", "STRING"))]
    }
}

/// BigQuery quoted text: backslash escapes, control characters as `\uXXXX`.
/// BigQuery reads a dot inside a backtick-quoted name as a path separator
/// (`` `a.b` `` is `a`.`b`; a column `` `a.b` `` is field `b` of `a`), so a name
/// holding one would be read as another name: refused. (Other characters BigQuery
/// does not allow are escaped, and fail when run.)
///
/// # Errors
/// [`Error::Invalid`] naming the data source and the part.
fn check_path_names(source: &DataSource) -> Result<()> {
    let parts = [("project", source.database.as_deref()), ("dataset", source.schema.as_deref())];
    let columns = source.columns.iter().map(|c| ("column", Some(c.name.as_str())));
    for (what, name) in parts.into_iter().chain([("table", Some(source.identifier.as_str()))]).chain(columns) {
        let Some(name) = name else { continue };
        let why = if name.is_empty() {
            "an empty name"
        } else if name.contains('.') {
            "a dot inside backticks is a path separator there"
        } else {
            continue;
        };
        return Err(Error::Invalid(format!(
            "data source `{}`: BigQuery cannot name the {what} `{name}` ({why}); rename it or leave the source out (--source)",
            source.name
        )));
    }
    Ok(())
}

/// BigQuery's limit on a JS UDF's inline code.
pub const INLINE_LIMIT: usize = 32_000;

/// The JS UDF statements for the families the views use: the keyed hash inline
/// (its canonical-ABI bundle fits BigQuery's 32 KB), the others loading their slim
/// bundle from `library` (a `gs://` prefix).
///
/// # Errors
/// [`Error::Invalid`] when a family needs the library and none is given, or the
/// inline bundle does not fit (or holds `"""`, which would end the body).
fn udf_statements(
    t: &BigQuery,
    udfs: &Udfs,
    library: Option<&str>,
    needs: &std::collections::BTreeSet<Needed>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for family in Udfs::families(needs) {
        let (bundle, args, returns, call) = match family {
            "hash" => ("hash", "v STRING, k STRING, s STRING, r STRING", "STRING", "veilHash(v, k, s, r)"),
            "in_sample" => ("hash", "v STRING, k STRING, s STRING, p FLOAT64", "BOOL", "veilInSample(v, k, s, p)"),
            "ff1" => ("ff1", "v STRING, k STRING, s STRING", "STRING", "veilFpeEncrypt(v, k, s)"),
            _ => ("token", "v STRING, k STRING, s STRING", "STRING", "veilTokenMask(v, k, s)"),
        };
        let head = format!(
            "CREATE OR REPLACE FUNCTION {}({args})\nRETURNS {returns}\nDETERMINISTIC\nLANGUAGE js\n",
            t.facts_table(&format!("veil_{family}"))
        );
        if family == "hash" {
            let body = format!("{}\nreturn {call};", udfs.bundle("hash-core")?.trim_end());
            if body.len() >= INLINE_LIMIT || body.contains("\"\"\"") {
                return Err(Error::Invalid(format!(
                    "the inline hash bundle is {} bytes (BigQuery takes under {INLINE_LIMIT}) or holds \"\"\"; \
                     rebuild it with scripts/build-wasm",
                    body.len()
                )));
            }
            out.push(format!("{head}AS r\"\"\"\n{body}\n\"\"\";"));
            continue;
        }
        let Some(library) = library else {
            return Err(Error::Invalid(format!(
                "the policies use `veil_{family}`, whose bundle BigQuery loads as a library file: \
                 upload dist/js/slim to Cloud Storage and give --udf-library gs://bucket/path"
            )));
        };
        let file = t.literal(&format!("{}/veil-{bundle}.inline.js", library.trim_end_matches('/')));
        out.push(format!("{head}OPTIONS (library = [{file}])\nAS r\"\"\"\nreturn {call};\n\"\"\";"));
    }
    Ok(out)
}

/// Generate the BigQuery bindings: facts, keys table and JS UDFs in dataset
/// `veil`, one secure view per source in the secure dataset, grants on the views.
/// The keyed hash is an inline UDF from `udfs`; the other UDFs load their slim
/// bundle from `library`, where dist/js/slim is stored (`gs://bucket/path`),
/// needed only when the policies use FF1, tokens or samples. Shorthand for
/// [`crate::bind`] with `BigQuery::new(&options.key_id).with_udfs(udfs, library)`.
///
/// # Errors
/// [`Error::Unsupported`] for a mask BigQuery cannot enforce faithfully (naming
/// policy and column); [`Error::Invalid`] for `--user` mode, a library that is
/// not a `gs://` URI or missing when needed, or unusable names;
/// [`Error::Policy`] for unknown sources.
pub fn bind(engine: &Engine, options: &BindOptions, udfs: &Udfs, library: Option<&str>) -> Result<Bindings> {
    let database = super::own_database(engine, options, None)?;
    crate::bind(engine, &BigQuery::new(&options.key_id).with_udfs(udfs.clone(), library).in_database(database), options)
}

impl BigQuery {
    /// The library folder, the secure dataset's name and every name of the sources.
    fn check(&self, options: &BindOptions, sources: &[&DataSource]) -> Result<()> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.');
        if let Some(library) = self
            .library
            .as_deref()
            .filter(|l| !l.starts_with("gs://") || !l.chars().all(|c| plain(c) || c == ':') || l.contains(".."))
        {
            return Err(Error::Invalid(format!(
                "UDF library `{library}`: give the Cloud Storage folder holding dist/js/slim, e.g. gs://bucket/veil"
            )));
        }
        if options.secure_schema.is_empty() || options.secure_schema.contains('.') {
            return Err(Error::Invalid(format!(
                "BigQuery cannot name the dataset `{}` of the secure views (a dot inside backticks is a path separator there); give --schema a plain dataset name",
                options.secure_schema
            )));
        }
        sources.iter().try_for_each(|s| check_path_names(s))
    }

    /// Keys table, UDFs, grants on the views (and row access policies when asked).
    fn deploy_sections(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        out.keys.push(
            StatementKind::Setup,
            None,
            format!(
                "CREATE TABLE IF NOT EXISTS {} (key_id STRING NOT NULL, key_hex STRING NOT NULL);",
                self.facts_table("keys")
            ),
        );
        out.udfs.extend(StatementKind::Setup, udf_statements(self, &self.udfs, self.library.as_deref(), bind.needs)?);
        // Grants on the views: exactly the entitled readers.
        let schema = self.schema_name(&bind.options.secure_schema);
        let role = self.quote_ident(VIEWER_ROLE);
        for source in bind.sources {
            let Some(view) = bind.views.get(&source.name) else { continue };
            let view = format!("{schema}.{}", self.quote_ident(view));
            let readers = warehouse::entitled(bind.engine, &source.name)?;
            for u in bind.engine.directory().users() {
                let who = self.literal(&format!("user:{}", u.name));
                out.grants.push(
                    StatementKind::Access,
                    Some(&source.name),
                    if readers.contains(&u.name) {
                        format!("GRANT {role} ON VIEW {view} TO {who};")
                    } else {
                        format!("REVOKE {role} ON VIEW {view} FROM {who};")
                    },
                );
            }
        }
        if let Some(grantees) = &self.rap_grantees {
            let policies = access_policies(self, bind.engine, bind.options, bind.sources, grantees)?;
            out.after.extend(StatementKind::Access, policies);
        }
        Ok(())
    }
}

/// Name of the row access policy for entitled readers.
pub const READERS_POLICY: &str = "veil_readers";
/// Name of the row access policy for `grantees` (pipelines, owners): every row.
pub const UNFILTERED_POLICY: &str = "veil_unfiltered";

/// Row access policies on the base tables (`--row-access-policies`): a table
/// then shows rows only to the principals its policies grant, whatever dataset
/// access they hold. `veil_readers` grants the entitled readers the rows their
/// row filters keep (the views filter the same way); `veil_unfiltered` grants
/// `grantees` every row: list there whatever else reads the tables (dbt's service
/// account, the table owners), or it sees none. A policy with nobody to grant is
/// dropped, so a grant from an earlier bind never lingers.
///
/// # Errors
/// [`Error::Unsupported`] for a sample filter (its JS UDF cannot be called from
/// a row access policy); [`Error::Invalid`] for a grantee that is not
/// `user:`, `group:`, `serviceAccount:` or `domain:`, or a table nobody would be
/// granted; [`Error::Policy`] for unknown sources.
pub fn row_access_policies(engine: &Engine, options: &BindOptions, grantees: &[String]) -> Result<Vec<String>> {
    let sources = pipeline::selected(engine, options)?;
    let t = BigQuery::new(&options.key_id).in_database(super::own_database(engine, options, None)?);
    access_policies(&t, engine, options, &sources, grantees)
}

fn access_policies(
    t: &BigQuery,
    engine: &Engine,
    options: &BindOptions,
    sources: &[&DataSource],
    grantees: &[String],
) -> Result<Vec<String>> {
    for g in grantees {
        let kind = g.split_once(':').map(|(k, _)| k);
        if !matches!(kind, Some("user" | "group" | "serviceAccount" | "domain")) || g.ends_with(':') {
            return Err(Error::Invalid(format!(
                "row access policy grantee `{g}`: write user:…, group:…, serviceAccount:… or domain:…"
            )));
        }
    }
    let list = |items: &mut dyn Iterator<Item = String>| items.map(|i| t.literal(&i)).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for source in sources {
        let plan = engine.plan(&source.name)?;
        let base = render::base_relation(source, t);
        let mut keep = Vec::new();
        for filter in &plan.row_filters {
            if matches!(filter.keep, RowPredicate::Sample { .. }) {
                return Err(Error::Unsupported {
                    target: "bigquery",
                    what: format!(
                        "policy `{}`, source `{}`: a sample in a row access policy (a policy cannot call veil's JS \
                         UDF); bind this source without --row-access-policies, and its view samples",
                        filter.policy, source.name
                    ),
                });
            }
            keep.push(render::row_filter(t, &source.name, &options.key_id, filter)?);
        }
        let readers = warehouse::entitled(engine, &source.name)?;
        if readers.is_empty() && grantees.is_empty() {
            return Err(Error::Invalid(format!(
                "no reader is entitled to `{}` and no --rap-grantee is given: a row access policy needs a grantee \
                 (add the table's owner with --rap-grantee, or bind the other sources with --source)",
                source.name
            )));
        }
        let drop = |name: &str| format!("DROP ROW ACCESS POLICY IF EXISTS {} ON {base};", t.quote_ident(name));
        if readers.is_empty() {
            out.push(drop(READERS_POLICY));
        } else {
            let filter = if keep.is_empty() { "TRUE".to_string() } else { keep.join("\n  AND ") };
            out.push(format!(
                "CREATE OR REPLACE ROW ACCESS POLICY {} ON {base}\nGRANT TO ({})\nFILTER USING ({filter});",
                t.quote_ident(READERS_POLICY),
                list(&mut readers.iter().map(|r| format!("user:{r}")))
            ));
        }
        if grantees.is_empty() {
            out.push(drop(UNFILTERED_POLICY));
        } else {
            out.push(format!(
                "CREATE OR REPLACE ROW ACCESS POLICY {} ON {base}\nGRANT TO ({})\nFILTER USING (TRUE);",
                t.quote_ident(UNFILTERED_POLICY),
                list(&mut grantees.iter().cloned())
            ));
        }
    }
    Ok(out)
}
