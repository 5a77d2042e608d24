//! WHERE clauses of row rules and conditional masks: parsed with `sqlparser`,
//! restricted to plain boolean expressions over the source's own columns, and
//! kept as normalised SQL text plus the columns they read.

use std::ops::ControlFlow;

use serde::Serialize;
use sqlparser::ast::{Expr, InTarget, ObjectName, Query, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// A validated row predicate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SqlPredicate {
    /// Normalised SQL (sqlparser's rendering of the parsed expression).
    pub sql: String,
    /// Columns the predicate reads, in order of first use (unquoted names as
    /// written; compare case-insensitively).
    pub columns: Vec<String>,
}

/// Why a WHERE clause was refused: a 0-based character offset and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// Offset of the problem in the clause (0 when unknown).
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Functions a predicate may call: plain, deterministic scalar functions.
/// Anything else (including veil's own mask functions, which would become a
/// hashing oracle) is refused.
const FUNCTIONS: &[&str] = &[
    "lower",
    "upper",
    "trim",
    "ltrim",
    "rtrim",
    "length",
    "char_length",
    "coalesce",
    "nullif",
    "abs",
    "round",
    "floor",
    "ceil",
    "substr",
    "substring",
    "date_trunc",
    "extract",
    "year",
    "month",
    "day",
];

struct Check {
    columns: Vec<String>,
    problem: Option<SqlError>,
}

fn offset_of(line: u64, column: u64, text: &str) -> usize {
    let (line, column) = (line as usize, column as usize);
    if line == 0 {
        return 0;
    }
    let before: usize = text.split('\n').take(line.saturating_sub(1)).map(|l| l.chars().count() + 1).sum();
    before + column.saturating_sub(1)
}

impl Visitor for Check {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.problem = Some(SqlError { offset: 0, message: "subqueries are not allowed in a row rule".into() });
        ControlFlow::Break(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.problem =
            Some(SqlError { offset: 0, message: format!("a row rule may not read another table (`{relation}`)") });
        ControlFlow::Break(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let refuse = |this: &mut Self, message: String| {
            this.problem = Some(SqlError { offset: 0, message });
            ControlFlow::Break(())
        };
        match expr {
            Expr::Identifier(ident) => {
                if !self.columns.contains(&ident.value) {
                    self.columns.push(ident.value.clone());
                }
                ControlFlow::Continue(())
            }
            Expr::CompoundIdentifier(parts) => {
                let name: Vec<String> = parts.iter().map(|p| p.value.clone()).collect();
                refuse(
                    self,
                    format!(
                        "`{}` names another table; a row rule may read only the source's own columns",
                        name.join(".")
                    ),
                )
            }
            Expr::Subquery(_) | Expr::Exists { .. } => refuse(self, "subqueries are not allowed in a row rule".into()),
            Expr::In { target, .. } if !matches!(target, InTarget::List(_)) => {
                refuse(self, "`IN` over a query, table or array is not allowed in a row rule; list the values".into())
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                if FUNCTIONS.contains(&name.as_str()) {
                    ControlFlow::Continue(())
                } else {
                    refuse(
                        self,
                        format!("function `{name}` is not allowed in a row rule (allowed: {})", FUNCTIONS.join(", ")),
                    )
                }
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Parse and validate a WHERE clause (without the `WHERE` keyword).
///
/// ```
/// use veil_policy::sql::parse_predicate;
/// let p = parse_predicate("passenger_count < 2 and lower(city) = 'nyc'").unwrap();
/// assert_eq!(p.sql, "passenger_count < 2 AND lower(city) = 'nyc'");
/// assert_eq!(p.columns, ["passenger_count", "city"]);
/// assert!(parse_predicate("1=1; drop table t").is_err());
/// assert!(parse_predicate("id in (select id from other)").is_err());
/// ```
///
/// # Errors
/// [`SqlError`] when the text is not a single boolean expression, or uses a
/// subquery, another table's column, or a function outside the allowed list.
pub fn parse_predicate(text: &str) -> Result<SqlPredicate, SqlError> {
    let dialect = GenericDialect {};
    let parse_error = |e: sqlparser::parser::ParserError| {
        let message = e.to_string();
        // sqlparser reports "… at Line: L, Column: C"; turn it into an offset.
        let offset = regex::Regex::new(r"Line: (\d+), Column: (\d+)")
            .ok()
            .and_then(|r| {
                let caps = r.captures(&message)?;
                let line: u64 = caps.get(1)?.as_str().parse().ok()?;
                let column: u64 = caps.get(2)?.as_str().parse().ok()?;
                Some(offset_of(line, column, text))
            })
            .unwrap_or(0);
        SqlError { offset, message: message.replace("sql parser error: ", "") }
    };
    let mut parser = Parser::new(&dialect).try_with_sql(text).map_err(parse_error)?;
    let expr = parser.parse_expr().map_err(parse_error)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(SqlError {
            offset: offset_of(next.span.start.line, next.span.start.column, text),
            message: format!("unexpected `{}` after the expression; a row rule is one boolean expression", next.token),
        });
    }
    let mut check = Check { columns: Vec::new(), problem: None };
    let _ = expr.visit(&mut check);
    if let Some(problem) = check.problem {
        return Err(problem);
    }
    Ok(SqlPredicate { sql: expr.to_string(), columns: check.columns })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_is_refused_at_its_offset() {
        let err = parse_predicate("a = 1; drop table t").unwrap_err();
        assert_eq!(err.offset, 5);
        assert!(err.message.contains("`;`"));
    }

    #[test]
    fn veil_functions_are_refused() {
        let err = parse_predicate("veil_hash(email) = 'x'").unwrap_err();
        assert!(err.message.contains("`veil_hash`"));
    }

    #[test]
    fn compound_names_are_refused() {
        let err = parse_predicate("other.secret = 1").unwrap_err();
        assert!(err.message.contains("`other.secret`"));
    }

    #[test]
    fn columns_are_collected_once() {
        let p = parse_predicate("(a > 1 or b < 2) and a <> 3 and c is not null").unwrap();
        assert_eq!(p.columns, ["a", "b", "c"]);
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let err = parse_predicate("a = = 1").unwrap_err();
        assert_eq!(err.offset, 4);
    }
}
