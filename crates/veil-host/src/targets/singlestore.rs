//! SingleStore: secure views with masks and row filters, grants on the views,
//! and veil-core's keyed masks as Wasm UDFs.
//!
//! SingleStore runs Wasm UDFs with the older interface-types canonical ABI, not the
//! component model, so its module is `dist/singlestore/veil.wasm` (crates/
//! veil-singlestore, a core module with no imports) with its old-syntax WIT
//! `dist/singlestore/veil.wit`, both embedded as base64 (every UDF but the regex
//! one embeds `veil-lite.wasm`, the same without the regex engine, 146 KB of 1 MB):
//!
//! ```sql
//! CREATE OR REPLACE FUNCTION veil.veil_hash AS WASM ABI CANONICAL
//!   FROM BASE64 '…' WITH WIT FROM BASE64 '…' USING EXPORT 'veil-hash';
//! ```
//!
//! What [`bind`] generates (run it as the user that owns veil's databases):
//! - database `veil` with the facts about readers (binary collation: names and
//!   tags compare byte for byte, never case-insensitively), the key table
//!   `veil.keys` (`key_id`, `key_hex`: filled by the operator, never by this SQL),
//!   the Wasm UDFs the views use and `veil.veil_deny`, a procedural function that
//!   raises the refusal. Readers get no privilege on database `veil`: the views
//!   run with their definer's rights (SingleStore's only kind), so a reader has
//!   neither the key nor a hashing oracle;
//! - database `secure` (the bind's secure schema) with one view per source
//!   (`DROP VIEW IF EXISTS` then `CREATE VIEW`: SingleStore has no `OR REPLACE`
//!   for views), masks as `CASE` over the facts with the reader taken from
//!   `SESSION_USER()` (the name before its last `@`), row filters, and a refusal
//!   for a reader the subscription policies do not entitle;
//! - `GRANT SELECT` on each view to exactly the entitled readers (`'name'@'%'`,
//!   or another host pattern).
//!   A grant left from an earlier bind opens nothing: the view itself refuses a
//!   reader who is no longer entitled.
//!
//! A Wasm UDF never traps on bad input: it returns `veil-error:<kind>: …` text,
//! which a view shows in place of the value (never the value itself); a
//! `veil_in_sample` error keeps the row out.

use std::path::Path;

use veil_policy::{ColumnType, Condition, Engine, HashScope, Keep, Mask, Rounding, TimeUnit};

use super::dialect::{IdentQuote, StringEscapes, TypeNames};
use super::{warehouse, MaskContext, Target};
use crate::pipeline::{Deployment, Needed, Sections};
use crate::render::{ViewParts, FACTS_SCHEMA};
use crate::{BindOptions, Bindings, Error, Result, StatementKind};

/// The UDFs the module exports: (SQL function name, Wasm export name).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("veil_hash", "veil-hash"),
    ("veil_hash_reader", "veil-hash-reader"),
    ("veil_fpe_encrypt", "veil-fpe-encrypt"),
    ("veil_token_mask", "veil-token-mask"),
    ("veil_in_sample", "veil-in-sample"),
    ("veil_regex_replace", "veil-regex-replace"),
    ("veil_email_mask", "veil-email-mask"),
];

/// The host part of the accounts views are granted to, by default (any host).
pub const ACCOUNT_HOST: &str = "%";

/// Binary collation of the facts tables.
const BIN: &str = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";

/// The module and its WIT (usually from `dist/singlestore`).
#[derive(Clone, Debug)]
pub struct Module {
    /// The core module's bytes.
    pub wasm: Vec<u8>,
    /// The WIT text.
    pub wit: String,
}

impl Module {
    /// Read `<stem>.wasm` and `<stem>.wit` from `dir`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when either is missing (run `scripts/build-wasm`) or the
    /// file is not a Wasm core module.
    pub fn load(dir: &Path, stem: &str) -> Result<Self> {
        let missing = |path: &Path, e: std::io::Error| {
            Error::Invalid(format!("SingleStore module `{}`: {e}; run scripts/build-wasm", path.display()))
        };
        let wasm_path = dir.join(format!("{stem}.wasm"));
        let wasm = std::fs::read(&wasm_path).map_err(|e| missing(&wasm_path, e))?;
        // A core module: magic + version 1 (a component has a different version/layer).
        if wasm.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
            return Err(Error::Invalid(format!(
                "`{}` is not a Wasm core module (SingleStore cannot load a component)",
                wasm_path.display()
            )));
        }
        let wit_path = dir.join(format!("{stem}.wit"));
        let wit = std::fs::read_to_string(&wit_path).map_err(|e| missing(&wit_path, e))?;
        Ok(Self { wasm, wit })
    }

    fn placeholder(stem: &str) -> Self {
        Self { wasm: b"\0asm\x01\0\0\0".to_vec(), wit: format!("// dist/singlestore/{stem}.wit\n") }
    }
}

/// The two builds of the module: `veil` with every export, and `veil-lite`
/// without the regex engine (about a seventh of the size), which every UDF but
/// `veil_regex_replace` embeds.
#[derive(Clone, Debug)]
pub struct Modules {
    /// `veil.wasm`: every export.
    pub full: Module,
    /// `veil-lite.wasm`: every export but `veil-regex-replace`.
    pub lite: Module,
}

impl Modules {
    /// Read both from `dir` (usually `dist/singlestore`).
    ///
    /// # Errors
    /// As [`Module::load`].
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(Self { full: Module::load(dir, "veil")?, lite: Module::load(dir, "veil-lite")? })
    }

    /// Empty modules and one-line WITs, for golden SQL that does not change with
    /// every build.
    pub fn placeholder() -> Self {
        Self { full: Module::placeholder("veil"), lite: Module::placeholder("veil-lite") }
    }

    /// The module UDF `name` embeds.
    pub fn for_function(&self, name: &str) -> &Module {
        if name == "veil_regex_replace" {
            &self.full
        } else {
            &self.lite
        }
    }
}

/// Standard base64 with padding (the alphabet needs no escaping in a SQL literal).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| ALPHABET.get(((n >> shift) & 63) as usize).map_or('=', |&c| char::from(c));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        out.push(if chunk.len() > 1 { sextet(n, 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(n, 0) } else { '=' });
    }
    out
}

/// Backtick-quoted identifier (MySQL dialect).
pub fn quote_ident(ident: &str) -> String {
    super::dialect::quote_ident(IdentQuote::Backtick, ident)
}

/// A string literal: `'` doubled, backslashes and NUL escaped (SingleStore reads
/// backslash escapes in literals, as MySQL does by default).
pub fn literal(text: &str) -> String {
    super::dialect::literal(StringEscapes::BackslashNul, text)
}

/// `CREATE OR REPLACE FUNCTION` for one UDF of the module, in database `schema`.
pub fn function_statement(schema: &str, module: &Module, name: &str, export: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {}.{} AS WASM ABI CANONICAL FROM BASE64 '{}' \
         WITH WIT FROM BASE64 '{}' USING EXPORT '{export}';",
        quote_ident(schema),
        quote_ident(name),
        base64(&module.wasm),
        base64(module.wit.as_bytes())
    )
}

/// `CREATE OR REPLACE FUNCTION` for every UDF, each embedding its module, in database `schema`.
pub fn function_statements(schema: &str, modules: &Modules) -> Vec<String> {
    FUNCTIONS
        .iter()
        .map(|(name, export)| function_statement(schema, modules.for_function(name), name, export))
        .collect()
}

/// The SingleStore target.
#[derive(Debug)]
pub struct SingleStore {
    key_id: String,
    modules: ModuleSource,
    account_host: String,
}

/// Where the UDFs' Wasm modules come from: read when a plan needs a UDF.
#[derive(Debug)]
enum ModuleSource {
    None,
    Loaded(Modules),
    Folder(std::path::PathBuf),
}

impl SingleStore {
    /// The target for a key id.
    pub fn new(key_id: &str) -> Self {
        Self { key_id: key_id.to_string(), modules: ModuleSource::None, account_host: ACCOUNT_HOST.to_string() }
    }

    /// With the Wasm modules the UDFs embed, granting the views to
    /// `'<reader>'@'<account_host>'` (usually [`ACCOUNT_HOST`]).
    pub fn with(mut self, modules: Modules, account_host: &str) -> Self {
        self.modules = ModuleSource::Loaded(modules);
        self.account_host = account_host.to_string();
        self
    }

    /// With the folder of the Wasm modules (usually `dist/singlestore`), read only
    /// when the plans call a UDF.
    pub fn with_folder(mut self, folder: &Path, account_host: &str) -> Self {
        self.modules = ModuleSource::Folder(folder.to_path_buf());
        self.account_host = account_host.to_string();
        self
    }

    /// The SQL name of the UDF each helper function is.
    fn udf_name(needed: Needed) -> &'static str {
        match needed {
            Needed::Hash => "veil_hash",
            Needed::HashPerReader => "veil_hash_reader",
            Needed::FormatPreserving => "veil_fpe_encrypt",
            Needed::Token => "veil_token_mask",
            Needed::Sample => "veil_in_sample",
            Needed::Regex => "veil_regex_replace",
            Needed::Email => "veil_email_mask",
        }
    }

    /// The key for the bind's key id; `''` when missing (every keyed UDF then
    /// returns an error text, and no row is in a sample).
    fn key(&self) -> String {
        format!(
            "COALESCE((SELECT k.key_hex FROM {} k WHERE k.key_id = {}), '')",
            self.facts_table("keys"),
            literal(&self.key_id)
        )
    }

    /// A call of UDF `name` (created when the plans need it: [`SingleStore::udf_name`]).
    fn udf(&self, name: &'static str, args: &[String]) -> String {
        format!("{}({})", self.facts_table(name), args.join(", "))
    }

    /// A masking UDF applied to a column: NULL stays NULL without a call (the
    /// canonical ABI has no NULL string).
    fn guarded(&self, c: &str, name: &'static str, args: &[String]) -> String {
        format!("CASE WHEN {c} IS NULL THEN NULL ELSE {} END", self.udf(name, args))
    }
}

/// The column as text veil-core would hash, or why not.
fn hash_input(c: &str, ty: &ColumnType) -> std::result::Result<String, &'static str> {
    match ty {
        ColumnType::Text => Ok(c.to_string()),
        ColumnType::Integer => Ok(format!("({c} :> TEXT)")),
        _ => Err("a keyed hash of a column that is not text or integer: SingleStore writes these values as text \
                  differently from veil-core; cast the column to text in dbt"),
    }
}

fn date_format(unit: TimeUnit, timestamp: bool) -> &'static str {
    match (unit, timestamp) {
        (TimeUnit::Year, _) => "%Y-01-01",
        (TimeUnit::Quarter | TimeUnit::Month, _) => "%Y-%m-01",
        (_, false) | (TimeUnit::Day, true) => "%Y-%m-%d",
        (TimeUnit::Hour, true) => "%Y-%m-%d %H:00:00",
        (TimeUnit::Minute, true) => "%Y-%m-%d %H:%i:00",
    }
}

/// SingleStore in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "singlestore",
    about: "SingleStore: secure views, grants on them, Wasm UDFs (older canonical ABI)",
    options: &["account-host", "module"],
    make: |_, options, o| {
        let folder = o.modules.as_deref().unwrap_or(Path::new("dist/singlestore"));
        let host = o.account_host.as_deref().unwrap_or(ACCOUNT_HOST);
        Ok(Box::new(SingleStore::new(&options.key_id).with_folder(folder, host)))
    },
};

impl Target for SingleStore {
    fn validate(&self, _engine: &Engine, _options: &BindOptions, _sources: &[&veil_policy::DataSource]) -> Result<()> {
        self.check()
    }

    fn deploy(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        self.deploy_sections(bind, out)
    }

    /// A view is replaced by dropping it first (each view replaces the old one).
    fn replace_view(&self, qualified: &str) -> Option<String> {
        Some(format!("DROP VIEW IF EXISTS {qualified};"))
    }

    fn name(&self) -> &'static str {
        "singlestore"
    }

    fn types(&self) -> TypeNames {
        TypeNames {
            text: "TEXT",
            integer: "BIGINT",
            float: "DOUBLE",
            decimal: "DECIMAL",
            decimal_space: true,
            boolean: "BOOL",
            date: "DATE",
            timestamp: "DATETIME(6)",
            brackets: false,
        }
    }

    fn ident_quote(&self) -> IdentQuote {
        IdentQuote::Backtick
    }

    fn string_escapes(&self) -> StringEscapes {
        StringEscapes::BackslashNul
    }

    /// `LENGTH` counts bytes in SingleStore (as in MySQL); `CHAR_LENGTH` counts characters.
    fn function_name(&self, name: &str) -> String {
        match name {
            "length" => "CHAR_LENGTH".into(),
            other => other.to_owned(),
        }
    }

    /// The account's user name: `SESSION_USER()` up to its last `@` (the host).
    fn reader(&self) -> String {
        "LEFT(SESSION_USER(), CHAR_LENGTH(SESSION_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(SESSION_USER(), '@', -1)) - 1)"
            .into()
    }

    /// Views cannot read session variables; acting under a project is being a
    /// member of it ([`Target::native_condition`]); project-scoped hashes are refused.
    fn project(&self) -> String {
        "NULL".into()
    }

    /// Byte for byte: `tag` is `value` or starts with `value.` (the prefix cut in
    /// characters, then compared as bytes).
    fn tag_match(&self, value_sql: &str, tag_sql: &str) -> String {
        format!(
            "({value_sql} <> '' AND (BINARY {tag_sql} = BINARY {value_sql} \
             OR BINARY LEFT({tag_sql}, CHAR_LENGTH({value_sql}) + 1) = BINARY CONCAT({value_sql}, '.')))"
        )
    }

    fn deny(&self, message_sql: &str) -> String {
        format!("{}({message_sql})", self.facts_table("veil_deny"))
    }

    fn native_condition(&self, c: &Condition) -> Option<String> {
        match c {
            Condition::ActingUnder { purpose } => Some(format!(
                "EXISTS (SELECT 1 FROM {} m JOIN {} p ON p.project = m.project WHERE m.user_name = {} AND p.purpose = {})",
                self.facts_table("user_projects"),
                self.facts_table("project_purposes"),
                self.reader(),
                literal(purpose)
            )),
            _ => None,
        }
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        let refuse = |why: &str| warehouse::unsupported("singlestore", ctx, why);
        let ty = self.sql_type(ctx.column_type)?;
        let text_only = |what: &str| -> Result<()> {
            if *ctx.column_type == ColumnType::Text {
                Ok(())
            } else {
                Err(refuse(&format!("{what} applies to text columns only; cast the column to text in dbt")))
            }
        };
        let scope = literal(&format!("source:{}", ctx.source));
        Ok(match mask {
            Mask::Component { .. } => return self.component_mask(mask, c, ctx),
            Mask::Null => format!("(NULL :> {ty})"),
            Mask::Constant { value } => {
                let value = crate::render::constant(self, value);
                format!("({value} :> {ty})")
            }
            Mask::Reveal { keep, fill } => {
                let fill = literal(&fill.to_string());
                match keep {
                    Keep::First(n) => {
                        format!("CONCAT(LEFT({c}, {n}), REPEAT({fill}, GREATEST(CHAR_LENGTH({c}) - {n}, 0)))")
                    }
                    Keep::Last(n) => {
                        format!("CONCAT(REPEAT({fill}, GREATEST(CHAR_LENGTH({c}) - {n}, 0)), RIGHT({c}, {n}))")
                    }
                }
            }
            Mask::Round { rounding } => {
                if !matches!(ctx.column_type, ColumnType::Integer | ColumnType::Decimal { .. }) {
                    return Err(refuse(
                        "rounding a floating-point or non-numeric column: SingleStore rounds binary floats \
                         differently from veil-core; cast the column to decimal in dbt",
                    ));
                }
                // Exact decimals: ROUND of an exact value rounds half away from zero.
                let exact = format!("({c} :> DECIMAL(65, 20))");
                match rounding {
                    Rounding::Width(w) if w.is_finite() && *w > 0.0 => {
                        // `:>` binds tighter than `*`: the product is parenthesised.
                        format!("((ROUND({exact} / {w:?}) * {w:?}) :> {ty})")
                    }
                    Rounding::Places(p) => format!("(ROUND({exact}, {p}) :> {ty})"),
                    Rounding::Width(w) => return Err(refuse(&format!("a rounding width of `{w}` (must be above 0)"))),
                }
            }
            Mask::Trunc { unit } => match ctx.column_type {
                ColumnType::Date if matches!(unit, TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day) => c.to_string(),
                ColumnType::Date | ColumnType::Timestamp => {
                    let timestamp = *ctx.column_type == ColumnType::Timestamp;
                    let text = if *unit == TimeUnit::Quarter {
                        format!(
                            "CONCAT(LPAD((YEAR({c}) :> TEXT), 4, '0'), '-', \
                             LPAD((((QUARTER({c}) - 1) * 3 + 1) :> TEXT), 2, '0'), '-01')"
                        )
                    } else {
                        format!("DATE_FORMAT({c}, {})", literal(date_format(*unit, timestamp)))
                    };
                    format!("({text} :> {ty})")
                }
                _ => {
                    return Err(refuse(
                        "date truncation of a column that is not a date or timestamp; type the column in dbt",
                    ))
                }
            },
            Mask::Regex { pattern, replacement } => {
                text_only("a regex mask")?;
                self.guarded(c, "veil_regex_replace", &[c.to_string(), literal(pattern), literal(replacement)])
            }
            Mask::Email => {
                text_only("the e-mail mask")?;
                self.guarded(c, "veil_email_mask", &[c.to_string()])
            }
            Mask::Hash { scope: hash_scope, per_reader } => {
                if *hash_scope == HashScope::Project {
                    return Err(refuse(
                        "a project-scoped hash: a SingleStore view cannot read which project a reader acts under; \
                         use the source scope, or bind this policy to DuckDB",
                    ));
                }
                let text = hash_input(c, ctx.column_type).map_err(refuse)?;
                if *per_reader {
                    self.guarded(c, "veil_hash_reader", &[text, self.key(), scope, self.reader()])
                } else {
                    self.guarded(c, "veil_hash", &[text, self.key(), scope])
                }
            }
            Mask::FormatPreserving => {
                text_only("format-preserving encryption")?;
                self.guarded(c, "veil_fpe_encrypt", &[c.to_string(), self.key(), scope])
            }
            Mask::Reversible { .. } => {
                text_only("a reversible token")?;
                self.guarded(c, "veil_token_mask", &[c.to_string(), self.key(), scope])
            }
        })
    }

    fn text(&self, expr: &str) -> String {
        format!("({expr} :> TEXT)")
    }

    /// Byte-exact (`BINARY`) for equality; hierarchical matches compare bytes
    /// themselves ([`Target::tag_match`]).
    fn row_value(&self, column: &str, hierarchical: bool) -> String {
        let text = self.text(&quote_ident(column));
        if hierarchical {
            text
        } else {
            format!("BINARY {text}")
        }
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        format!("({column_sql} :> DATETIME(6)) >= DATE_SUB(NOW(6), INTERVAL {seconds} SECOND)")
    }

    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String> {
        let scope = literal(&format!("source:{}", ctx.source));
        Ok(format!(
            "{} = 1",
            self.udf("veil_in_sample", &[row_key.to_string(), self.key(), scope, format!("{percent:?}")])
        ))
    }

    fn preamble(&self) -> Vec<String> {
        Vec::new()
    }

    /// `:>` binds tighter than arithmetic, so `expr` is parenthesised.
    fn cast(&self, expr: &str, ty: &str) -> String {
        format!("(({expr}) :> {ty})")
    }

    fn concat(&self, parts: &[String]) -> String {
        format!("CONCAT({})", parts.join(", "))
    }

    fn create_schema(&self, name: &str) -> String {
        format!("CREATE DATABASE IF NOT EXISTS {name};")
    }

    /// Kept, emptied and refilled (a table a view reads cannot be dropped under
    /// it); text columns in binary collation.
    fn replace_table(&self, name: &str, columns: &str) -> Vec<String> {
        let columns: Vec<String> = columns
            .split(", ")
            .map(|def| match def.split_once(' ') {
                Some((column, rest)) => {
                    format!("{} {}", quote_ident(column), rest.replace("VARCHAR", &format!("TEXT {BIN}")))
                }
                None => def.to_string(),
            })
            .collect();
        vec![format!("CREATE TABLE IF NOT EXISTS {name} ({});", columns.join(", ")), format!("DELETE FROM {name};")]
    }

    /// `CREATE VIEW` ([`bind`] drops the old view first).
    fn view(&self, parts: &ViewParts<'_>) -> Result<Option<(String, String)>> {
        let select = parts.select(self);
        Ok(Some((format!("CREATE VIEW {}.{} AS\n{select};", parts.schema, quote_ident(parts.view)), select)))
    }
}

/// The procedural function views call to refuse a reader.
fn deny_function() -> String {
    format!(
        "DELIMITER //\nCREATE OR REPLACE FUNCTION {}(message TEXT) RETURNS BOOL AS\nBEGIN\n  \
         RAISE user_exception(message);\n  RETURN FALSE;\nEND //\nDELIMITER ;",
        SingleStore::new("").facts_table("veil_deny")
    )
}

/// Generate the SingleStore bindings: facts, key table, UDFs and the refusal in
/// database `veil`, one secure view per source in the secure database, grants on
/// the views. `modules` are the Wasm modules the UDFs embed; grants go to
/// `'<reader>'@'<account_host>'` (usually [`ACCOUNT_HOST`]). Shorthand for
/// [`crate::bind`] with `SingleStore::new(&options.key_id).with(modules, account_host)`.
///
/// # Errors
/// [`Error::Unsupported`] for a mask SingleStore cannot enforce faithfully
/// (naming policy and column); [`Error::Invalid`] for `--user` mode or unusable
/// names or an account host with characters other than letters, digits, `.`,
/// `-`, `_`, `%` and `:`; [`Error::Policy`] for unknown sources.
pub fn bind(engine: &Engine, options: &BindOptions, modules: &Modules, account_host: &str) -> Result<Bindings> {
    crate::bind(engine, &SingleStore::new(&options.key_id).with(modules.clone(), account_host), options)
}

impl SingleStore {
    /// The account host grants name.
    fn check(&self) -> Result<()> {
        let host = &self.account_host;
        if host.is_empty()
            || !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '%' | ':'))
        {
            return Err(Error::Invalid(format!(
                "account host `{host}`: give a host name, an address or a pattern such as % or 10.0.%"
            )));
        }
        Ok(())
    }

    /// Key table, the UDFs the plans call, the refusal, and grants on the views.
    fn deploy_sections(&self, bind: &Deployment<'_>, out: &mut Sections) -> Result<()> {
        out.keys.push(
            StatementKind::Setup,
            None,
            format!(
                "CREATE TABLE IF NOT EXISTS {} (key_id VARCHAR(255) {BIN} NOT NULL, key_hex TEXT NOT NULL);",
                self.facts_table("keys")
            ),
        );
        let names: std::collections::BTreeSet<&str> = bind.needs.iter().map(|n| Self::udf_name(*n)).collect();
        if !names.is_empty() {
            let read;
            let modules = match &self.modules {
                ModuleSource::Loaded(modules) => modules,
                ModuleSource::Folder(folder) => {
                    read = Modules::load(folder)?;
                    &read
                }
                ModuleSource::None => {
                    return Err(Error::Invalid(
                        "the policies need veil's SingleStore UDFs: give the modules (dist/singlestore, built by scripts/build-wasm)".into(),
                    ))
                }
            };
            for name in names {
                let export = FUNCTIONS.iter().find(|(n, _)| *n == name).map_or(name, |(_, e)| *e);
                out.udfs.push(
                    StatementKind::Setup,
                    None,
                    function_statement(FACTS_SCHEMA, modules.for_function(name), name, export),
                );
            }
        }
        out.udfs.push(StatementKind::Setup, None, deny_function());
        // Grants on the views: exactly the entitled readers.
        let schema = quote_ident(&bind.options.secure_schema);
        for source in bind.sources {
            let Some(view) = bind.views.get(&source.name) else { continue };
            let view = format!("{schema}.{}", quote_ident(view));
            for reader in warehouse::entitled(bind.engine, &source.name)? {
                out.grants.push(
                    StatementKind::Access,
                    Some(&source.name),
                    format!("GRANT SELECT ON {view} TO {}@{};", literal(&reader), literal(&self.account_host)),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_statements() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
        let m = Module { wasm: b"\0asm\x01\0\0\0".to_vec(), wit: "veil-hash: func() -> string\n".into() };
        let s = function_statements("veil", &Modules { full: Module { wasm: vec![1], wit: String::new() }, lite: m });
        assert_eq!(s.len(), FUNCTIONS.len());
        assert_eq!(
            s[..1],
            ["CREATE OR REPLACE FUNCTION `veil`.`veil_hash` AS WASM ABI CANONICAL FROM BASE64 'AGFzbQEAAAA=' \
             WITH WIT FROM BASE64 'dmVpbC1oYXNoOiBmdW5jKCkgLT4gc3RyaW5nCg==' USING EXPORT 'veil-hash';"
                .to_string()]
        );
        assert!(s[1].ends_with("USING EXPORT 'veil-hash-reader';"));
        let regex = s.iter().find(|s| s.contains("`veil_regex_replace`")).unwrap();
        assert!(regex.contains("FROM BASE64 'AQ=='"), "the regex UDF embeds the full module");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(literal("o'b\\\0x"), r"'o''b\\\0x'");
    }
}
