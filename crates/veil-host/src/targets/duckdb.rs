//! DuckDB: the veil extension's `veil_*` functions, `getvariable()` readers.

use veil_policy::{ColumnType, Condition, DataSource, Engine, HashScope, Keep, Mask, Rounding, TimeUnit};

use super::dialect::TypeNames;
use super::{MaskContext, Reader, Target};
use crate::render::{ReaderFacts, ViewParts};
use crate::{BindOptions, Error, Mode, Result};

/// The one-row relation a dynamic view reads its reader from: every fact the
/// view's conditions consult, looked up once per query (a materialized CTE
/// joined to the base relation) instead of one subquery per condition.
/// Names carry a `:` so they cannot be a dbt model's column; sources whose
/// names take the prefix are refused ([`Target::validate`]).
const READER: &str = "veil:reader";
const KNOWN: &str = "veil:known";
const GROUPS: &str = "veil:groups";
const PURPOSES: &str = "veil:purposes";
/// The view in veil's facts schema that [`READER`] reads: one row, the
/// session's reader (`getvariable('veil_user')`), shared by every dynamic view.
pub const READER_VIEW: &str = "reader";
/// The table [`READER_VIEW`] reads: per reader, groups, attribute values by key
/// and purposes by project, derived from the other facts tables when they are written.
pub const READER_FACTS: &str = "reader_facts";
const ATTRIBUTES: &str = "veil:attributes";
/// Reserved prefix of the reader relation's names (compared case-insensitively).
const RESERVED: &str = "veil:";

/// The reader relation's column holding the reader's values of `key` (hex, so
/// keys differing in case stay apart: DuckDB folds identifiers).
fn attribute_column(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("veil:attribute:{hex}")
}

/// The DuckDB target. `extension` is what `LOAD` names (a path or `veil`).
#[derive(Clone, Debug)]
pub struct DuckDb {
    /// Argument of `LOAD`; `None` to leave loading to the caller.
    pub extension: Option<String>,
}

impl Default for DuckDb {
    fn default() -> Self {
        Self { extension: Some("veil".into()) }
    }
}

/// DuckDB in the engine registry.
pub const ENGINE: super::EngineEntry = super::EngineEntry {
    name: "duckdb",
    about: "DuckDB with the veil extension",
    options: &["load"],
    make: |_, _, o| Ok(Box::new(DuckDb { extension: Some(o.load.clone().unwrap_or_else(|| "veil".into())) })),
};

impl Target for DuckDb {
    /// Views for one reader (a masked sandbox) are DuckDB's.
    fn binds_one_reader(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn types(&self) -> TypeNames {
        TypeNames {
            text: "VARCHAR",
            integer: "BIGINT",
            float: "DOUBLE",
            decimal: "DECIMAL",
            decimal_space: false,
            boolean: "BOOLEAN",
            date: "DATE",
            timestamp: "TIMESTAMP",
            brackets: true,
        }
    }

    /// The session's reader as text, in every check alike: a `veil_user` set to
    /// a number (say 42, bound as an integer) is the reader `42`, never a cast of
    /// each user name to a number (`'0042' = 42`).
    fn reader(&self) -> String {
        "CAST(getvariable('veil_user') AS VARCHAR)".into()
    }

    /// The project acted under, as text ([`Target::reader`]).
    fn project(&self) -> String {
        "CAST(getvariable('veil_project') AS VARCHAR)".into()
    }

    fn tag_match(&self, value_sql: &str, tag_sql: &str) -> String {
        format!("veil_tag_match({value_sql}, {tag_sql})")
    }

    fn deny(&self, message_sql: &str) -> String {
        format!("error({message_sql})")
    }

    fn mask(&self, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<String> {
        let key = self.literal(ctx.key_id);
        let text = |c: &str| {
            if *ctx.column_type == ColumnType::Text {
                c.to_string()
            } else {
                format!("CAST({c} AS VARCHAR)")
            }
        };
        let ty = self.sql_type(ctx.column_type)?;
        Ok(match mask {
            Mask::Hash { scope, per_reader } => {
                let scope = self.hash_scope(ctx, *scope);
                if *per_reader {
                    format!("veil_hash({}, {key}, {scope}, {})", text(c), self.reader_of(ctx))
                } else {
                    format!("veil_hash({}, {key}, {scope})", text(c))
                }
            }
            Mask::Null => format!("CAST(NULL AS {ty})"),
            Mask::Constant { value } => {
                let literal = crate::render::constant(self, value);
                format!("CAST({literal} AS {ty})")
            }
            Mask::Regex { pattern, replacement } => {
                format!("veil_mask_regex({c}, {}, {})", self.literal(pattern), self.literal(replacement))
            }
            Mask::Reveal { keep, fill } => {
                let (function, n) = match keep {
                    Keep::First(n) => ("veil_reveal_first", n),
                    Keep::Last(n) => ("veil_reveal_last", n),
                };
                format!("{function}({c}, {n}, {})", self.literal(&fill.to_string()))
            }
            Mask::Email => format!("veil_mask_email({c})"),
            Mask::Round { rounding } => match (rounding, ctx.column_type) {
                (Rounding::Width(w), ColumnType::Integer) if w.fract() == 0.0 => {
                    format!("CAST(veil_round(CAST({c} AS BIGINT), CAST({w} AS BIGINT)) AS {ty})")
                }
                (Rounding::Width(w), ColumnType::Float) => {
                    format!("veil_round(CAST({c} AS DOUBLE), CAST({w:?} AS DOUBLE))")
                }
                // DECIMAL (and fractional widths on integers): DuckDB's decimal
                // arithmetic rounds half away from zero, like veil-core.
                (Rounding::Width(w), _) => format!("CAST(round({c} / {w:?}) * {w:?} AS {ty})"),
                (Rounding::Places(p), ColumnType::Float) => format!("veil_round_places(CAST({c} AS DOUBLE), {p})"),
                (Rounding::Places(p), _) => format!("CAST(round({c}, {p}) AS {ty})"),
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
                format!("veil_trunc_date({c}, '{unit}')")
            }
            Mask::Reversible { .. } => {
                format!("veil_token({}, {key}, {})", text(c), self.hash_scope(ctx, HashScope::Source))
            }
            Mask::FormatPreserving => {
                format!("veil_fpe_encrypt({c}, {key}, {})", self.hash_scope(ctx, HashScope::Source))
            }
            Mask::Component { .. } => return self.component_mask(mask, &text(c), ctx),
        })
    }

    /// `system.main."<prefix>_<export>"(<value as text>, <params>…)`: the function
    /// `veil_wasm` registers for the export (`-` as `_`). Qualified with the
    /// system catalog, where only an extension can create functions, so a
    /// session's macro cannot stand in for it; without `veil_wasm` loaded the
    /// view fails instead of showing the value. NULL stays NULL (the extension
    /// never calls the mask with NULL).
    fn component_mask(&self, mask: &Mask, text_sql: &str, _ctx: &MaskContext<'_>) -> Result<String> {
        let Mask::Component { function, params, prefix, .. } = mask else {
            return Err(crate::Error::Invalid(format!("mask `{}` is not a custom mask", mask.kind())));
        };
        let name = self.quote_ident(&format!("{prefix}_{}", function.replace('-', "_")));
        let args: Vec<String> = std::iter::once(text_sql.to_owned())
            .chain(params.iter().map(|(_, value)| crate::render::constant(self, value)))
            .collect();
        Ok(format!("system.main.{name}({})", args.join(", ")))
    }

    fn time_window(&self, column_sql: &str, seconds: u64) -> String {
        format!(
            "veil_in_window(CAST({column_sql} AS TIMESTAMP), CAST(current_timestamp AS TIMESTAMP), CAST({} AS BIGINT))",
            u128::from(seconds) * 1_000_000
        )
    }

    fn sample_text(&self, column_sql: &str) -> String {
        format!("coalesce({}, '')", self.text(column_sql))
    }

    fn in_sample(&self, row_key: &str, percent: f64, ctx: &MaskContext<'_>) -> Result<String> {
        Ok(format!(
            "veil_in_sample({row_key}, {}, {}, CAST({percent:?} AS DOUBLE))",
            self.literal(ctx.key_id),
            self.literal(&format!("source:{}", ctx.source))
        ))
    }

    fn validate(&self, _engine: &Engine, options: &BindOptions, sources: &[&DataSource]) -> Result<()> {
        if !matches!(options.mode, Mode::Dynamic) {
            return Ok(());
        }
        let reserved = |n: &str| n.to_lowercase().starts_with(RESERVED);
        for source in sources {
            let clash = std::iter::once(source.identifier.as_str())
                .chain(source.columns.iter().map(|c| c.name.as_str()))
                .find(|n| reserved(n));
            if let Some(name) = clash {
                return Err(Error::Invalid(format!(
                    "data source `{}`: the name `{name}` starts with `{RESERVED}`, which DuckDB's secure views reserve for the reader's facts; rename it in the model",
                    source.name
                )));
            }
        }
        Ok(())
    }

    fn native_condition(&self, condition: &Condition) -> Option<String> {
        let column = |name: &str| format!("{}.{}", self.quote_ident(READER), self.quote_ident(name));
        let reaching = |tag: &str| {
            let values: Vec<String> =
                veil_core::rows::tag_reached_by(tag).into_iter().map(|v| self.literal(v)).collect();
            format!("CAST([{}] AS VARCHAR[])", values.join(", "))
        };
        Some(match condition {
            Condition::InGroup { group } => format!("list_contains({}, {})", column(GROUPS), self.literal(group)),
            Condition::GroupReaches { tag } => format!("list_has_any({}, {})", column(GROUPS), reaching(tag)),
            Condition::HasAttribute { key, value } => {
                format!("list_contains({}, {})", column(&attribute_column(key)), self.literal(value))
            }
            Condition::AttributeReaches { key, tag } => {
                format!("list_has_any({}, {})", column(&attribute_column(key)), reaching(tag))
            }
            Condition::ActingUnder { purpose } => {
                format!("list_contains({}, {})", column(PURPOSES), self.literal(purpose))
            }
            _ => return None,
        })
    }

    fn reader_attribute_match(
        &self,
        attribute: &str,
        value_sql: &str,
        hierarchical: bool,
        ctx: &MaskContext<'_>,
    ) -> String {
        if hierarchical || !matches!(ctx.reader, Reader::Dynamic) {
            return crate::render::match_attribute(self, attribute, value_sql, hierarchical, ctx);
        }
        format!(
            "list_contains({}.{}, {value_sql})",
            self.quote_ident(READER),
            self.quote_ident(&attribute_column(attribute))
        )
    }

    fn access_check(&self, condition: &str, deny: &str) -> String {
        let reader = self.quote_ident(READER);
        format!(
            "(SELECT CASE WHEN {reader}.{} AND {condition} THEN TRUE ELSE {deny} END FROM {reader})",
            self.quote_ident(KNOWN)
        )
    }

    fn view(&self, parts: &ViewParts<'_>) -> Result<Option<(String, String)>> {
        let Some(facts) = parts.reader_facts else { return Ok(None) };
        let select = format!(
            "WITH {} AS MATERIALIZED (\n{}\n)\n{}",
            self.quote_ident(READER),
            self.reader_relation(facts),
            parts.select_from(self, &format!("{}, {}", parts.from, self.quote_ident(READER)))
        );
        Ok(Some((
            format!("CREATE OR REPLACE VIEW {}.{} AS\n{select};", parts.schema, self.quote_ident(parts.view)),
            select,
        )))
    }

    /// [`READER_FACTS`], one row per reader, and [`READER_VIEW`] over it: what
    /// every dynamic view reads about its reader, defined once instead of the
    /// same subqueries stored in each view (DuckDB keeps a view's parsed query:
    /// 10,000 copies made its catalog 1.6x larger to write at commit and
    /// checkpoint and to read at every open), and one join instead of three
    /// subqueries to bind.
    fn facts_views(&self) -> Vec<String> {
        let empty_list = "CAST([] AS VARCHAR[])";
        let empty_map = "CAST(MAP {} AS MAP(VARCHAR, VARCHAR[]))";
        let map = |key: &str, value: &str, from: String| {
            format!(
                "coalesce((SELECT map_from_entries(list({{'k': a.k, 'v': a.v}})) FROM \
                 (SELECT {key} AS k, list({value}) AS v FROM {from} GROUP BY {key}) a), {empty_map})"
            )
        };
        let facts = format!(
            "CREATE OR REPLACE TABLE {} AS\nSELECT\n  u.user_name,\n  \
             coalesce((SELECT list(g.group_name) FROM {} g WHERE g.user_name = u.user_name), {empty_list}) AS groups,\n  \
             {} AS attributes,\n  {} AS purposes\nFROM (SELECT DISTINCT user_name FROM {}) u;",
            self.facts_table(READER_FACTS),
            self.facts_table("user_groups"),
            map("f.key", "f.value", format!("{} f WHERE f.user_name = u.user_name", self.facts_table("user_attributes"))),
            map(
                "m.project",
                "p.purpose",
                format!(
                    "{} m JOIN {} p ON p.project = m.project WHERE m.user_name = u.user_name",
                    self.facts_table("user_projects"),
                    self.facts_table("project_purposes")
                )
            ),
            self.facts_table("users"),
        );
        let view = format!(
            "CREATE OR REPLACE VIEW {} AS\nSELECT\n  r.user_name IS NOT NULL AS {},\n  \
             coalesce(r.groups, {empty_list}) AS {},\n  \
             coalesce(r.purposes[{}], {empty_list}) AS {},\n  \
             coalesce(r.attributes, {empty_map}) AS {}\n\
             FROM (SELECT 1) one LEFT JOIN {} r ON r.user_name = {};",
            self.facts_table(READER_VIEW),
            self.quote_ident(KNOWN),
            self.quote_ident(GROUPS),
            self.project(),
            self.quote_ident(PURPOSES),
            self.quote_ident(ATTRIBUTES),
            self.facts_table(READER_FACTS),
            self.reader()
        );
        vec![facts, view]
    }

    fn preamble(&self) -> Vec<String> {
        self.extension.iter().map(|e| format!("LOAD {};", self.literal(e))).collect()
    }
}

impl DuckDb {
    /// The one-row query behind [`READER`]: the shared [`READER_VIEW`] (whether
    /// the reader is known, their groups, the purposes of the project they act
    /// under) and the reader's values of each attribute in `facts`, a column
    /// each; lists never NULL.
    fn reader_relation(&self, facts: &ReaderFacts) -> String {
        let mut columns: Vec<String> =
            [KNOWN, GROUPS, PURPOSES].iter().map(|c| format!("  r.{}", self.quote_ident(c))).collect();
        for key in &facts.attributes {
            columns.push(format!(
                "  coalesce(r.{}[{}], CAST([] AS VARCHAR[])) AS {}",
                self.quote_ident(ATTRIBUTES),
                self.literal(key),
                self.quote_ident(&attribute_column(key))
            ));
        }
        format!("SELECT\n{}\nFROM {} r", columns.join(",\n"), self.facts_table(READER_VIEW))
    }
}
