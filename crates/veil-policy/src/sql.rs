//! WHERE clauses of row rules and conditional masks: parsed with `sqlparser`
//! (standard SQL: `''` in a string is a quote, a backslash is a backslash),
//! restricted to plain boolean expressions over the source's own columns, and
//! kept as a syntax tree ([`Predicate`]) that each target prints in its own
//! dialect: identifiers quoted and string literals escaped as that engine
//! reads them, never pasted as one generic text.

use serde::Serialize;
use sqlparser::ast::{
    BinaryOperator, CeilFloorKind, DateTimeField, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, InTarget,
    Spanned, UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

impl SqlPredicate {
    /// The predicate with its columns renamed by `f` (e.g. to the source's own spelling).
    pub fn with_columns(&self, f: &dyn Fn(&str) -> String) -> SqlPredicate {
        SqlPredicate {
            sql: self.sql.clone(),
            columns: self.columns.iter().map(|c| f(c)).collect(),
            tree: self.tree.map_columns(f),
        }
    }
}

/// A validated row predicate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SqlPredicate {
    /// Normalised SQL (sqlparser's rendering of the parsed expression), for people.
    pub sql: String,
    /// Columns the predicate reads, in order of first use (as written until the
    /// engine resolves them to the source's own names).
    pub columns: Vec<String>,
    /// The expression, for a target to print in its dialect.
    #[serde(skip)]
    pub tree: Predicate,
}

/// Binary operators a predicate may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum BinaryOp {
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `=`
    Eq,
    /// `<>` (also written `!=`)
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Multiply,
    /// `%`
    Modulo,
    /// `||` (string concatenation; engines without it get their own form)
    Concat,
}

impl BinaryOp {
    /// The operator as standard SQL writes it (`||` for [`BinaryOp::Concat`]).
    pub fn sql(self) -> &'static str {
        match self {
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Plus => "+",
            BinaryOp::Minus => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Modulo => "%",
            BinaryOp::Concat => "||",
        }
    }
}

/// Date parts `EXTRACT` (and `year()`, `month()`, `day()`) may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DatePart {
    /// `YEAR`
    Year,
    /// `MONTH`
    Month,
    /// `DAY`
    Day,
    /// `HOUR`
    Hour,
    /// `MINUTE`
    Minute,
    /// `SECOND`
    Second,
}

impl DatePart {
    /// The part's SQL keyword.
    pub fn sql(self) -> &'static str {
        match self {
            DatePart::Year => "YEAR",
            DatePart::Month => "MONTH",
            DatePart::Day => "DAY",
            DatePart::Hour => "HOUR",
            DatePart::Minute => "MINUTE",
            DatePart::Second => "SECOND",
        }
    }
}

/// A predicate's syntax tree: only what every target can print faithfully.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Predicate {
    /// A column of the source (its name, exactly as the source spells it once resolved).
    Column(String),
    /// A string literal (the characters it stands for, unescaped).
    Text(String),
    /// A number literal, as written (digits, an optional point and exponent).
    Number(String),
    /// `TRUE` / `FALSE`.
    Boolean(bool),
    /// `NULL`.
    #[default]
    Null,
    /// `NOT e`.
    Not(Box<Predicate>),
    /// `-e`.
    Negate(Box<Predicate>),
    /// `a op b`.
    Binary(Box<Predicate>, BinaryOp, Box<Predicate>),
    /// `e IS [NOT] NULL`.
    IsNull(Box<Predicate>, bool),
    /// `e [NOT] IN (list)`.
    InList(Box<Predicate>, Vec<Predicate>, bool),
    /// `e [NOT] BETWEEN low AND high`.
    Between(Box<Predicate>, Box<Predicate>, Box<Predicate>, bool),
    /// `e [NOT] LIKE pattern` (`_` and `%` wildcards, no escape character);
    /// case-insensitive for `ILIKE`.
    Like {
        /// The value.
        expr: Box<Predicate>,
        /// The pattern.
        pattern: Box<Predicate>,
        /// `NOT LIKE`.
        negated: bool,
        /// `ILIKE`.
        case_insensitive: bool,
    },
    /// `EXTRACT(part FROM e)` (also `year(e)`, `month(e)`, `day(e)`).
    Extract(DatePart, Box<Predicate>),
    /// `substr(e, from [, for])`, 1-based, in characters.
    Substr(Box<Predicate>, Box<Predicate>, Option<Box<Predicate>>),
    /// A plain scalar function from [`FUNCTIONS`], lower case.
    Function(String, Vec<Predicate>),
}

impl Predicate {
    /// The same predicate with every column name passed through `f`.
    pub fn map_columns(&self, f: &dyn Fn(&str) -> String) -> Predicate {
        let m = |p: &Predicate| Box::new(p.map_columns(f));
        match self {
            Predicate::Column(c) => Predicate::Column(f(c)),
            Predicate::Text(_) | Predicate::Number(_) | Predicate::Boolean(_) | Predicate::Null => self.clone(),
            Predicate::Not(e) => Predicate::Not(m(e)),
            Predicate::Negate(e) => Predicate::Negate(m(e)),
            Predicate::Binary(a, op, b) => Predicate::Binary(m(a), *op, m(b)),
            Predicate::IsNull(e, n) => Predicate::IsNull(m(e), *n),
            Predicate::InList(e, list, n) => {
                Predicate::InList(m(e), list.iter().map(|p| p.map_columns(f)).collect(), *n)
            }
            Predicate::Between(e, lo, hi, n) => Predicate::Between(m(e), m(lo), m(hi), *n),
            Predicate::Like { expr, pattern, negated, case_insensitive } => Predicate::Like {
                expr: m(expr),
                pattern: m(pattern),
                negated: *negated,
                case_insensitive: *case_insensitive,
            },
            Predicate::Extract(part, e) => Predicate::Extract(*part, m(e)),
            Predicate::Substr(e, from, len) => Predicate::Substr(m(e), m(from), len.as_ref().map(|l| m(l))),
            Predicate::Function(name, args) => {
                Predicate::Function(name.clone(), args.iter().map(|p| p.map_columns(f)).collect())
            }
        }
    }
}

/// Why a WHERE clause was refused: a 0-based character offset and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// Offset of the problem in the clause (0 when unknown).
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Functions a predicate may call: plain, deterministic scalar functions every
/// target has (under its own name where it differs). Anything else (including
/// veil's own mask functions, which would become a hashing oracle) is refused.
pub const FUNCTIONS: &[&str] =
    &["lower", "upper", "trim", "ltrim", "rtrim", "length", "coalesce", "nullif", "abs", "round", "floor", "ceil"];

fn offset_of(line: u64, column: u64, text: &str) -> usize {
    let (line, column) = (line as usize, column as usize);
    if line == 0 {
        return 0;
    }
    let before: usize = text.split('\n').take(line.saturating_sub(1)).map(|l| l.chars().count() + 1).sum();
    before + column.saturating_sub(1)
}

struct Convert<'a> {
    text: &'a str,
    columns: Vec<String>,
}

impl Convert<'_> {
    fn refuse(&self, at: &Expr, message: String) -> SqlError {
        let start = at.span().start;
        SqlError { offset: offset_of(start.line, start.column, self.text), message }
    }

    fn boxed(&mut self, e: &Expr) -> Result<Box<Predicate>, SqlError> {
        Ok(Box::new(self.expr(e)?))
    }

    fn expr(&mut self, e: &Expr) -> Result<Predicate, SqlError> {
        Ok(match e {
            Expr::Identifier(ident) => {
                if !self.columns.contains(&ident.value) {
                    self.columns.push(ident.value.clone());
                }
                Predicate::Column(ident.value.clone())
            }
            Expr::CompoundIdentifier(parts) => {
                let name: Vec<String> = parts.iter().map(|p| p.value.clone()).collect();
                return Err(self.refuse(
                    e,
                    format!(
                        "`{}` names another table; a row rule may read only the source's own columns (quote a name holding dots: \"a.b\")",
                        name.join(".")
                    ),
                ));
            }
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Predicate::Text(s.clone()),
                Value::Number(n, false) => Predicate::Number(n.to_string()),
                Value::Boolean(b) => Predicate::Boolean(*b),
                Value::Null => Predicate::Null,
                other => {
                    return Err(self.refuse(
                        e,
                        format!("`{other}` is not a plain literal; write strings in single quotes ('it''s') and numbers as digits"),
                    ))
                }
            },
            Expr::Nested(inner) => self.expr(inner)?,
            Expr::UnaryOp { op: UnaryOperator::Not, expr } => Predicate::Not(self.boxed(expr)?),
            Expr::UnaryOp { op: UnaryOperator::Minus, expr } => Predicate::Negate(self.boxed(expr)?),
            Expr::UnaryOp { op: UnaryOperator::Plus, expr } => self.expr(expr)?,
            Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    BinaryOperator::And => BinaryOp::And,
                    BinaryOperator::Or => BinaryOp::Or,
                    BinaryOperator::Eq => BinaryOp::Eq,
                    BinaryOperator::NotEq => BinaryOp::NotEq,
                    BinaryOperator::Lt => BinaryOp::Lt,
                    BinaryOperator::LtEq => BinaryOp::LtEq,
                    BinaryOperator::Gt => BinaryOp::Gt,
                    BinaryOperator::GtEq => BinaryOp::GtEq,
                    BinaryOperator::Plus => BinaryOp::Plus,
                    BinaryOperator::Minus => BinaryOp::Minus,
                    BinaryOperator::Multiply => BinaryOp::Multiply,
                    BinaryOperator::Divide => {
                        return Err(self.refuse(
                            e,
                            "`/` is not allowed in a row rule: engines divide integers differently (7 / 2 is 3 in some, 3.5 in others); multiply instead".into(),
                        ))
                    }
                    BinaryOperator::Modulo => BinaryOp::Modulo,
                    BinaryOperator::StringConcat => BinaryOp::Concat,
                    other => return Err(self.refuse(e, format!("operator `{other}` is not allowed in a row rule"))),
                };
                Predicate::Binary(self.boxed(left)?, op, self.boxed(right)?)
            }
            Expr::IsNull(inner) => Predicate::IsNull(self.boxed(inner)?, false),
            Expr::IsNotNull(inner) => Predicate::IsNull(self.boxed(inner)?, true),
            Expr::In { expr, target: InTarget::List(list), negated, global: false } => {
                let list = list.iter().map(|p| self.expr(p)).collect::<Result<Vec<_>, _>>()?;
                Predicate::InList(self.boxed(expr)?, list, *negated)
            }
            Expr::In { .. } => {
                return Err(self.refuse(
                    e,
                    "`IN` over a query, table or array is not allowed in a row rule; list the values".into(),
                ))
            }
            Expr::Between { expr, negated, low, high } => {
                Predicate::Between(self.boxed(expr)?, self.boxed(low)?, self.boxed(high)?, *negated)
            }
            Expr::Like { negated, any, expr, pattern, escape_char } | Expr::ILike { negated, any, expr, pattern, escape_char } => {
                if *any || escape_char.is_some() {
                    return Err(self.refuse(e, "`LIKE ANY` and `ESCAPE` are not allowed in a row rule".into()));
                }
                let pattern = self.boxed(pattern)?;
                // A pattern is one plain literal: a backslash (an escape in some
                // engines' LIKE, not in others) or a computed pattern could match
                // differently from engine to engine.
                match &*pattern {
                    Predicate::Text(p) if !p.contains('\\') => {}
                    Predicate::Text(_) => {
                        return Err(self.refuse(
                            e,
                            "a LIKE pattern holding `\\` means different things in different engines (an escape in some); match it with `=` or another pattern".into(),
                        ))
                    }
                    _ => {
                        return Err(self.refuse(
                            e,
                            "a LIKE pattern must be one string literal ('abc%'); a computed pattern can hold characters engines read differently".into(),
                        ))
                    }
                }
                Predicate::Like {
                    expr: self.boxed(expr)?,
                    pattern,
                    negated: *negated,
                    case_insensitive: matches!(e, Expr::ILike { .. }),
                }
            }
            Expr::Extract { field, expr, .. } => Predicate::Extract(self.part(e, field)?, self.boxed(expr)?),
            Expr::Substring { expr, substring_from, substring_for, .. } => {
                let Some(from) = substring_from else {
                    return Err(self.refuse(e, "`substring` needs a start position".into()));
                };
                let len = match substring_for {
                    Some(l) => Some(self.boxed(l)?),
                    None => None,
                };
                Predicate::Substr(self.boxed(expr)?, self.boxed(from)?, len)
            }
            Expr::Trim { trim_where: None, trim_what: None, expr, trim_characters: None } => {
                Predicate::Function("trim".into(), vec![self.expr(expr)?])
            }
            Expr::Ceil { expr, field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) } => {
                Predicate::Function("ceil".into(), vec![self.expr(expr)?])
            }
            Expr::Floor { expr, field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) } => {
                Predicate::Function("floor".into(), vec![self.expr(expr)?])
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                let plain = f.filter.is_none()
                    && f.over.is_none()
                    && f.within_group.is_empty()
                    && f.null_treatment.is_none()
                    && matches!(f.parameters, FunctionArguments::None);
                let args = match &f.args {
                    FunctionArguments::List(list) if plain && list.duplicate_treatment.is_none() && list.clauses.is_empty() => {
                        let mut out = Vec::new();
                        for a in &list.args {
                            match a {
                                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => out.push(self.expr(x)?),
                                _ => return Err(self.refuse(e, format!("`{name}` takes plain arguments here"))),
                            }
                        }
                        out
                    }
                    _ => return Err(self.refuse(e, format!("`{name}` is not a plain function call"))),
                };
                let part = match name.as_str() {
                    "year" => Some(DatePart::Year),
                    "month" => Some(DatePart::Month),
                    "day" => Some(DatePart::Day),
                    _ => None,
                };
                match (part, name.as_str(), args.as_slice()) {
                    (Some(part), _, [arg]) => Predicate::Extract(part, Box::new(arg.clone())),
                    (_, "substr" | "substring", [v, from]) => {
                        Predicate::Substr(Box::new(v.clone()), Box::new(from.clone()), None)
                    }
                    (_, "substr" | "substring", [v, from, len]) => {
                        Predicate::Substr(Box::new(v.clone()), Box::new(from.clone()), Some(Box::new(len.clone())))
                    }
                    (_, "char_length", [arg]) => Predicate::Function("length".into(), vec![arg.clone()]),
                    (None, n, _) if FUNCTIONS.contains(&n) => Predicate::Function(name, args),
                    _ => {
                        return Err(self.refuse(
                            e,
                            format!(
                                "function `{name}` is not allowed in a row rule (allowed: {}, substr, year, month, day, extract)",
                                FUNCTIONS.join(", ")
                            ),
                        ))
                    }
                }
            }
            Expr::Subquery(_) | Expr::Exists { .. } => {
                return Err(self.refuse(e, "subqueries are not allowed in a row rule".into()))
            }
            other => {
                return Err(self.refuse(
                    e,
                    format!("`{other}` is not allowed in a row rule (plain comparisons, AND/OR/NOT, IN lists, BETWEEN, LIKE, IS NULL, arithmetic and simple functions are)"),
                ))
            }
        })
    }

    fn part(&self, at: &Expr, field: &DateTimeField) -> Result<DatePart, SqlError> {
        Ok(match field {
            DateTimeField::Year => DatePart::Year,
            DateTimeField::Month => DatePart::Month,
            DateTimeField::Day => DatePart::Day,
            DateTimeField::Hour => DatePart::Hour,
            DateTimeField::Minute => DatePart::Minute,
            DateTimeField::Second => DatePart::Second,
            other => {
                return Err(self.refuse(
                    at,
                    format!("`EXTRACT({other} …)` is not allowed; use YEAR, MONTH, DAY, HOUR, MINUTE or SECOND"),
                ))
            }
        })
    }
}

/// Parse and validate a WHERE clause (without the `WHERE` keyword).
///
/// ```
/// use veil_policy::sql::{parse_predicate, Predicate};
/// let p = parse_predicate("passenger_count < 2 and lower(city) = 'nyc'").unwrap();
/// assert_eq!(p.sql, "passenger_count < 2 AND lower(city) = 'nyc'");
/// assert_eq!(p.columns, ["passenger_count", "city"]);
/// assert!(matches!(p.tree, Predicate::Binary(..)));
/// assert!(parse_predicate("1=1; drop table t").is_err());
/// assert!(parse_predicate("id in (select id from other)").is_err());
/// ```
///
/// # Errors
/// [`SqlError`] when the text is not a single boolean expression, or uses a
/// subquery, another table's column, a function outside the allowed list, or a
/// construct not every engine reads the same way.
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
    let mut convert = Convert { text, columns: Vec::new() };
    let tree = convert.expr(&expr)?;
    Ok(SqlPredicate { sql: expr.to_string(), columns: convert.columns, tree })
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
    fn like_patterns_are_plain_literals_without_backslashes() {
        assert!(parse_predicate("note LIKE 'a%'").is_ok());
        for bad in [r"note LIKE 'a\%'", r"note NOT LIKE '%' || '\' || '%'", r"note LIKE upper('\%')", "note LIKE note"]
        {
            assert!(parse_predicate(bad).is_err(), "{bad}");
        }
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
