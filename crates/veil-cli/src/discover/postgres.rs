//! Sampling in PostgreSQL with `TABLESAMPLE`, in a read-only transaction.
//!
//! The planner's row estimate (`pg_class.reltuples`) picks the method and the
//! percentage: a large table (100,000 rows or more) is sampled by `SYSTEM`,
//! which reads only the pages it picks; a smaller one by `BERNOULLI`, row by
//! row. The percentage asks for about twice the rows wanted, and `LIMIT`
//! caps what comes back, so veil never receives more than `sample` rows. A
//! table whose size is not known yet (never analysed), or with fewer rows than
//! asked, is read by `BERNOULLI (100)` up to the limit. Views cannot be
//! sampled by PostgreSQL: their first `sample` rows are read.

use postgres::{Client, NoTls};
use veil_host::render::base_relation;
use veil_host::targets::{Postgres, Target};
use veil_policy::{Catalog, Column, DataSource};

use super::{selected, Discovery, Report};
use crate::{Error, Result};

/// Tables at least this large (estimated rows) are sampled by pages (`SYSTEM`).
const SYSTEM_FROM_ROWS: f64 = 100_000.0;

/// What PostgreSQL knows of a relation's size before reading it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// `pg_class.reltuples`: negative (or 0 before PostgreSQL 14) when never analysed.
    pub rows: f64,
    /// A table or materialized view (`TABLESAMPLE` applies); not a view.
    pub sampleable: bool,
}

/// The sampling query for `columns` of `source`: each cast to text, at most `sample` rows.
///
/// ```
/// use veil_cli::discover::{postgres_sample_query, Estimate};
/// let catalog = veil_policy::Catalog::from_yaml_str(
///     "sources: [{name: s.t, schema: s, columns: [{name: Email, type: text}]}]", "c.yaml").unwrap();
/// let t = catalog.source("s.t").unwrap();
/// let columns: Vec<_> = t.columns.iter().collect();
/// let big = postgres_sample_query(t, &columns, 200, Estimate { rows: 1e7, sampleable: true });
/// assert_eq!(big, "SELECT CAST(\"Email\" AS text) FROM \"s\".\"t\" TABLESAMPLE SYSTEM (0.004) REPEATABLE (42) LIMIT 200");
/// let small = postgres_sample_query(t, &columns, 200, Estimate { rows: 1000.0, sampleable: true });
/// assert!(small.contains("TABLESAMPLE BERNOULLI (40) REPEATABLE (42) LIMIT 200"), "{small}");
/// ```
pub fn sample_query(source: &DataSource, columns: &[&Column], sample: usize, estimate: Estimate) -> String {
    let t = Postgres;
    let columns: Vec<String> = columns.iter().map(|c| format!("CAST({} AS text)", t.quote_ident(&c.name))).collect();
    let wanted = sample as f64;
    let method = if !estimate.sampleable {
        String::new()
    } else if estimate.rows <= wanted {
        " TABLESAMPLE BERNOULLI (100) REPEATABLE (42)".to_owned()
    } else {
        let percent = (100.0 * 2.0 * wanted / estimate.rows).min(100.0);
        let method = if estimate.rows >= SYSTEM_FROM_ROWS { "SYSTEM" } else { "BERNOULLI" };
        // Enough digits for huge tables, no exponent (PostgreSQL reads `1e-5` too, but a person reads this).
        let written = format!("{percent:.6}");
        let written = written.trim_end_matches('0').trim_end_matches('.');
        format!(" TABLESAMPLE {method} ({written}) REPEATABLE (42)")
    };
    format!("SELECT {} FROM {}{method} LIMIT {sample}", columns.join(", "), base_relation(source, &t))
}

fn engine_error(what: &str, e: &postgres::Error) -> Error {
    let detail = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_owned());
    Error::Engine(format!("PostgreSQL: {what}: {detail}"))
}

/// Classify every column of `sources` (every source when empty) from rows
/// sampled inside PostgreSQL; nothing is written to the database.
///
/// # Errors
/// [`Error::Usage`] for a source the catalog lacks; [`Error::Engine`] when
/// PostgreSQL cannot be reached, or a source is missing or cannot be read.
pub fn discover_postgres(url: &str, catalog: &Catalog, sources: &[String], d: &Discovery) -> Result<Report> {
    let mut client = Client::connect(url, NoTls).map_err(|e| engine_error("cannot connect", &e))?;
    let mut tx = client.build_transaction().read_only(true).start().map_err(|e| engine_error("cannot begin", &e))?;
    tx.batch_execute("SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'iso_8601'")
        .map_err(|e| engine_error("cannot set the date style", &e))?;
    let mut report = Report::default();
    for source in selected(catalog, sources)? {
        let relation = base_relation(source, &Postgres);
        let found = tx
            .query_opt(
                "SELECT c.reltuples::float8, c.relkind IN ('r', 'p', 'm') FROM pg_class c WHERE c.oid = to_regclass($1)",
                &[&relation],
            )
            .map_err(|e| engine_error(&format!("cannot look up `{}`", source.name), &e))?;
        let Some(row) = found else {
            return Err(Error::Engine(format!(
                "PostgreSQL: data source `{}` has no relation {relation} in the database",
                source.name
            )));
        };
        let estimate = Estimate {
            rows: row.try_get(0).map_err(|e| engine_error("pg_class.reltuples", &e))?,
            sampleable: row.try_get(1).map_err(|e| engine_error("pg_class.relkind", &e))?,
        };
        let columns: Vec<&Column> = source.columns.iter().collect();
        let sql = sample_query(source, &columns, d.sample, estimate);
        let rows =
            tx.query(sql.as_str(), &[]).map_err(|e| engine_error(&format!("cannot sample `{}`", source.name), &e))?;
        let mut values: Vec<Vec<Option<String>>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut out = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                out.push(row.try_get::<_, Option<String>>(i).map_err(|e| engine_error(&source.name, &e))?);
            }
            values.push(out);
        }
        report.add(columns.len(), values.len(), d.classify(source, &columns, &values, &[]));
    }
    tx.commit().map_err(|e| engine_error("cannot end the read-only transaction", &e))?;
    Ok(report)
}
