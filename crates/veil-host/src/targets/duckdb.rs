//! DuckDB: the veil extension's `veil_*` functions, `getvariable()` readers.

use veil_policy::{ColumnType, HashScope, Keep, Mask, Rounding, TimeUnit};

use super::dialect::TypeNames;
use super::{MaskContext, Target};
use crate::Result;

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

    fn reader(&self) -> String {
        "getvariable('veil_user')".into()
    }

    fn project(&self) -> String {
        "getvariable('veil_project')".into()
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

    fn preamble(&self) -> Vec<String> {
        self.extension.iter().map(|e| format!("LOAD {};", self.literal(e))).collect()
    }
}
