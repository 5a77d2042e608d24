//! How engines write identifiers, strings and types: a few styles, so each
//! target states only which one it uses ([`super::Target::ident_quote`],
//! [`super::Target::string_escapes`], [`super::Target::types`]).

use veil_policy::ColumnType;

use crate::Result;

/// How an engine quotes an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentQuote {
    /// `"a""b"` (standard SQL: DuckDB, PostgreSQL, Snowflake).
    DoubleQuote,
    /// `` `a``b` `` (Databricks/Spark, SingleStore/MySQL).
    Backtick,
    /// `` `a\`b` `` with backslash escapes (BigQuery).
    BacktickBackslash,
}

/// How an engine reads a single-quoted string literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringEscapes {
    /// `''` for a quote; a backslash is a backslash (DuckDB; PostgreSQL with
    /// standard_conforming_strings, the default since 9.1).
    Standard,
    /// Backslash escapes, and `''` for a quote (Snowflake).
    BackslashDoubledQuote,
    /// Backslash escapes for both (Spark/Databricks, where `'a''b'` is two
    /// adjacent literals).
    Backslash,
    /// Backslash escapes, with newlines, returns, tabs and other control
    /// characters written as escapes (BigQuery).
    BackslashControls,
    /// `''` for a quote, backslash and NUL escaped (SingleStore/MySQL).
    BackslashNul,
}

/// An engine's names for the column types veil writes.
#[derive(Clone, Copy, Debug)]
pub struct TypeNames {
    /// Character data.
    pub text: &'static str,
    /// Whole numbers.
    pub integer: &'static str,
    /// Binary floating point.
    pub float: &'static str,
    /// Fixed point: the name before `(precision,scale)`.
    pub decimal: &'static str,
    /// Whether `(precision, scale)` has a space after the comma.
    pub decimal_space: bool,
    /// `boolean`.
    pub boolean: &'static str,
    /// Calendar date.
    pub date: &'static str,
    /// Date and time without time zone.
    pub timestamp: &'static str,
    /// Whether a type name written by the catalog may hold `[` `]` (arrays).
    pub brackets: bool,
}

/// The name of column type `ty` in `t`.
///
/// # Errors
/// [`crate::Error::Invalid`] for a catalog type name that is not safe to paste.
pub fn sql_type(t: &TypeNames, ty: &ColumnType) -> Result<String> {
    Ok(match ty {
        ColumnType::Text => t.text.into(),
        ColumnType::Integer => t.integer.into(),
        ColumnType::Float => t.float.into(),
        ColumnType::Decimal { precision, scale } => {
            format!("{}({precision},{}{scale})", t.decimal, if t.decimal_space { " " } else { "" })
        }
        ColumnType::Boolean => t.boolean.into(),
        ColumnType::Date => t.date.into(),
        ColumnType::Timestamp => t.timestamp.into(),
        ColumnType::Other { name } => crate::render::type_name(name, t.brackets)?,
    })
}

/// Quote `ident` in `style`.
pub fn quote_ident(style: IdentQuote, ident: &str) -> String {
    match style {
        IdentQuote::DoubleQuote => format!("\"{}\"", ident.replace('"', "\"\"")),
        IdentQuote::Backtick => format!("`{}`", ident.replace('`', "``")),
        IdentQuote::BacktickBackslash => format!("`{}`", backslash_escape(ident, '`')),
    }
}

/// `text` as a single-quoted literal read with `style`.
pub fn literal(style: StringEscapes, text: &str) -> String {
    match style {
        StringEscapes::Standard => format!("'{}'", text.replace('\'', "''")),
        StringEscapes::BackslashDoubledQuote => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        StringEscapes::Backslash => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        StringEscapes::BackslashControls => format!("'{}'", backslash_escape(text, '\'')),
        StringEscapes::BackslashNul => {
            let mut out = String::with_capacity(text.len() + 2);
            out.push('\'');
            for c in text.chars() {
                match c {
                    '\'' => out.push_str("''"),
                    '\\' => out.push_str("\\\\"),
                    '\0' => out.push_str("\\0"),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
    }
}

/// Backslash escapes for `\`, `quote`, newline, return, tab and other control
/// characters (`\uXXXX`).
fn backslash_escape(text: &str, quote: char) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}
