//! The deployment family that enforces on the base tables themselves (Snowflake
//! masking and row access policies, Databricks column masks and row filters):
//! one function per distinct mask chain and per row filter, attached to each
//! table, and SELECT granted to exactly the entitled readers. An engine states
//! only how it writes those statements ([`Attached`]).

use std::collections::BTreeMap;

use veil_policy::{DataSource, Engine, Plan, RowPredicate};

use super::warehouse;
use super::Target;
use crate::render;
use crate::{BindOptions, Result};

/// How an engine writes policies attached to tables.
pub trait Attached: Target {
    /// What a column mask is there, for refusals ("a Snowflake masking policy").
    fn mask_what(&self) -> &'static str;
    /// Principals that read the tables unmasked and unfiltered (e.g. the role
    /// dbt builds with), as the engine names them.
    fn exempt_principals(&self) -> &[String];
    /// A function argument naming a base-table column.
    fn arg_ident(&self, column: &str) -> String;
    /// True for `principal` (a role, user or group that reads unmasked and unfiltered).
    fn exempt(&self, principal: &str) -> String;
    /// The statement creating mask function `name`.
    fn create_mask(&self, name: &str, signature: &str, ty: &str, body: &str) -> String;
    /// The keyword naming `source`'s kind of relation in `ALTER …` and `GRANT … ON …`
    /// (`TABLE`, `VIEW`, `MATERIALIZED VIEW`).
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for a kind of relation the engine cannot attach policies to.
    fn relation(&self, source: &DataSource) -> Result<&'static str>;
    /// The statement attaching mask `name` to `column` of `base` (a `relation`), reading `extra` too.
    fn attach_mask(&self, relation: &str, base: &str, column: &str, name: &str, extra: &[String]) -> String;
    /// The statement creating row filter function `name`.
    fn create_rows(&self, name: &str, signature: &str, body: &str) -> String;
    /// The statements attaching row filter `name` to `base` (a `relation`) over columns `on` (quoted).
    fn attach_rows(&self, relation: &str, base: &str, name: &str, on: &[String]) -> Vec<String>;
    /// GRANT (or REVOKE) SELECT on `base` (a `relation`) to reader `user`.
    fn grant(&self, relation: &str, base: &str, user: &str, allowed: bool) -> String;
    /// Does a row filter need at least one column argument?
    fn rows_need_a_column(&self) -> bool {
        false
    }
}

/// Functions (by name, each created once) and the statements attaching them, per source.
pub struct Attachments {
    /// `CREATE …` per function name.
    pub functions: BTreeMap<String, String>,
    /// (source, statement) in order.
    pub attach: Vec<(String, String)>,
}

/// The exempt principals' condition, or `None` when there are none.
fn exempt(t: &dyn Attached, principals: &[String]) -> Option<String> {
    let items: Vec<String> = principals.iter().map(|p| t.exempt(p)).collect();
    (!items.is_empty()).then(|| format!("({})", items.join(" OR ")))
}

/// Masks, row filters and grants for `sources` (with their `plans`, in the same
/// order); the engine's exempt principals read every table unmasked and unfiltered.
///
/// # Errors
/// As [`warehouse::column_mask`] and [`render::row_filter`].
pub(crate) fn attach(
    engine: &Engine,
    t: &dyn Attached,
    options: &BindOptions,
    sources: &[&DataSource],
    plans: &[Plan],
) -> Result<Attachments> {
    let exempt = exempt(t, t.exempt_principals());
    let mut functions: BTreeMap<String, String> = BTreeMap::new();
    let mut attach = Vec::new();
    for (source, plan) in sources.iter().zip(plans) {
        let base = render::base_relation(source, t);
        let relation = t.relation(source)?;
        for column in plan.columns.iter().filter(|c| !c.chain.is_empty()) {
            let warehouse::ColumnMask { body, signature, ty, extra } =
                warehouse::column_mask(t, t.name(), t.mask_what(), source, plan, column, &options.key_id, &|c| {
                    t.arg_ident(c)
                })?;
            let body = match &exempt {
                Some(e) => format!("CASE WHEN {e} THEN val ELSE {body} END"),
                None => body,
            };
            let name = t.facts_table(&warehouse::content_name("mask", &format!("{signature}|{ty}|{body}")));
            functions.entry(name.clone()).or_insert_with(|| t.create_mask(&name, &signature, &ty, &body));
            attach.push((source.name.clone(), t.attach_mask(relation, &base, &column.name, &name, &extra)));
        }

        // Row filter: an exempt principal, or a known reader, entitled, every filter holding.
        let known = format!("EXISTS (SELECT 1 FROM {} u WHERE u.user_name = {})", t.facts_table("users"), t.reader());
        let mut keep = vec![known, render::condition(&plan.access.condition, t)];
        let mut columns: Vec<String> = Vec::new();
        for filter in &plan.row_filters {
            for c in predicate_columns(&filter.keep) {
                if !columns.contains(&c) {
                    columns.push(c);
                }
            }
            keep.push(render::row_filter(t, &source.name, &options.key_id, filter)?);
        }
        if columns.is_empty() && t.rows_need_a_column() {
            if let Some(first) = plan.columns.first() {
                columns.push(first.name.clone());
            }
        }
        let signature = columns
            .iter()
            .map(|c| warehouse::argument(t, source, plan, c, &|c| t.arg_ident(c)))
            .collect::<Result<Vec<_>>>()?
            .join(", ");
        let mut body = keep.join("\n  AND ");
        if let Some(e) = &exempt {
            body = format!("{e}\n  OR ({body})");
        }
        let name = t.facts_table(&warehouse::content_name("rows", &format!("{signature}|{body}")));
        functions.entry(name.clone()).or_insert_with(|| t.create_rows(&name, &signature, &body));
        let on: Vec<String> = columns.iter().map(|c| t.quote_ident(c)).collect();
        for sql in t.attach_rows(relation, &base, &name, &on) {
            attach.push((source.name.clone(), sql));
        }

        // Grants: exactly the entitled readers may select.
        let readers = warehouse::entitled(engine, &source.name)?;
        for u in engine.directory().users() {
            attach.push((source.name.clone(), t.grant(relation, &base, &u.name, readers.contains(&u.name))));
        }
    }
    Ok(Attachments { functions, attach })
}

/// The columns a row predicate reads (the row filter function's arguments).
pub(crate) fn predicate_columns(p: &RowPredicate) -> Vec<String> {
    match p {
        RowPredicate::MatchAttribute { column, .. }
        | RowPredicate::ValueIn { column, .. }
        | RowPredicate::TimeWindow { column, .. } => vec![column.clone()],
        RowPredicate::Sql { predicate } => predicate.columns.clone(),
        RowPredicate::Sample { key, .. } => key.clone(),
        RowPredicate::Nothing => Vec::new(),
    }
}
