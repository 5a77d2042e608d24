//! Running SQL in a DuckDB database file.
//!
//! veil drives DuckDB through its Python package, the same one dbt-duckdb uses,
//! so the database file is always read by the version that wrote it. The veil
//! extension is loaded with `allow_unsigned_extensions`; the keyring file is
//! handed to it through `VEIL_KEYRING`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Error, Result};

const RUNNER: &str = include_str!("duckdb_runner.py");

/// A DuckDB database and how to reach it.
#[derive(Clone, Debug)]
pub struct DuckDb {
    /// The Python interpreter with the `duckdb` package.
    pub python: String,
    /// The database file.
    pub database: PathBuf,
    /// The veil extension (`dist/veil.duckdb_extension`).
    pub extension: PathBuf,
    /// The keyring file the extension reads key ids from.
    pub keyring: PathBuf,
}

/// A query to run as one reader.
#[derive(Clone, Debug)]
pub struct Query {
    /// Statements run first (e.g. `SET VARIABLE veil_user = …`).
    pub setup: Vec<String>,
    /// The query.
    pub sql: String,
}

/// What a query returned.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer {
    /// Whether it succeeded.
    pub ok: bool,
    /// The engine's error message.
    #[serde(default)]
    pub error: Option<String>,
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows, values as JSON (decimals and dates as text).
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    fatal: Option<String>,
    #[serde(default)]
    answers: Vec<Answer>,
}

impl DuckDb {
    fn run(&self, request: Value) -> Result<Vec<Answer>> {
        if !self.extension.exists() {
            return Err(Error::Engine(format!(
                "the veil DuckDB extension `{}` does not exist; build it with scripts/build-extension",
                self.extension.display()
            )));
        }
        let mut child = Command::new(&self.python)
            .arg("-c")
            .arg(RUNNER)
            .env("VEIL_KEYRING", &self.keyring)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Engine(format!("cannot run `{}` (needed to drive DuckDB): {e}", self.python)))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(request.to_string().as_bytes())
                .map_err(|e| Error::Engine(format!("cannot talk to `{}`: {e}", self.python)))?;
        }
        let output = child.wait_with_output().map_err(|e| Error::Engine(format!("`{}` failed: {e}", self.python)))?;
        let reply: Reply = serde_json::from_slice(&output.stdout).map_err(|_| {
            Error::Engine(format!(
                "`{}` did not answer; it said: {}",
                self.python,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        })?;
        if let Some(fatal) = reply.fatal {
            return Err(Error::Engine(format!("DuckDB `{}`: {fatal}", self.database.display())));
        }
        Ok(reply.answers)
    }

    /// Run statements in order; stop at the first failure.
    ///
    /// # Errors
    /// [`Error::Engine`] naming the failing statement.
    pub fn execute(&self, statements: &[String]) -> Result<()> {
        let request = json!({
            "database": self.database,
            "extension": self.extension,
            "statements": statements,
        });
        for answer in self.run(request)? {
            if !answer.ok {
                return Err(Error::Engine(format!("DuckDB refused a statement: {}", answer.error.unwrap_or_default())));
            }
        }
        Ok(())
    }

    /// Run queries, each after its own setup; failures are answers, not errors.
    ///
    /// # Errors
    /// [`Error::Engine`] when DuckDB cannot be reached at all.
    pub fn query(&self, queries: &[Query]) -> Result<Vec<Answer>> {
        let list: Vec<Value> = queries.iter().map(|q| json!({"setup": q.setup, "sql": q.sql})).collect();
        self.run(json!({"database": self.database, "extension": self.extension, "queries": list}))
    }
}

/// An answer as an aligned text table.
pub fn table(answer: &Answer) -> String {
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = answer.rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = answer.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        format!("{}\n", padded.join(" | ").trim_end())
    };
    let mut out = line(&answer.columns);
    out.push_str(&format!("{}\n", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(&format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" }));
    out
}
