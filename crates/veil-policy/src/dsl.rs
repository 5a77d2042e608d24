//! The advanced entitlement DSL:
//! `@isInGroups('A','B') and not @hasAttribute('Country','US')`.
//!
//! Grammar (keywords are case-insensitive):
//! ```text
//! expr    = and ( "or" and )*
//! and     = unary ( "and" unary )*
//! unary   = "not" unary | "(" expr ")" | call
//! call    = "@" name "(" string ( "," string )* ")"
//! string  = '…' | "…"          (a quote inside is doubled: 'O''Brien')
//! ```
//! Functions: `isInGroups(group, …)` (any of), `hasAttribute(key, value, …)`
//! (any of the values), `hasTagAsAttribute(key, 'dataSource'|'column')`,
//! `hasTagAsGroup('dataSource'|'column')`, `isActingUnder(purpose, …)`,
//! `isUser(name, …)`.

use std::fmt;

use serde::Serialize;

use crate::catalog::DataSource;
use crate::condition::Condition;

/// Where a tag function looks for tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TagLevel {
    /// The data source's own (table) tags.
    DataSource,
    /// The tags of the source's columns.
    Column,
}

/// A parsed DSL expression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expr {
    /// `@isInGroups('A', 'B')`: member of any.
    InGroups {
        /// Groups.
        groups: Vec<String>,
    },
    /// `@hasAttribute('Country', 'US')`: has the key with any of the values.
    HasAttribute {
        /// Key.
        key: String,
        /// Values.
        values: Vec<String>,
    },
    /// `@hasTagAsAttribute('Access', 'dataSource')`.
    TagAsAttribute {
        /// Attribute key.
        key: String,
        /// Table or column tags.
        level: TagLevel,
    },
    /// `@hasTagAsGroup('column')`.
    TagAsGroup {
        /// Table or column tags.
        level: TagLevel,
    },
    /// `@isActingUnder('Fraud Detection')`.
    ActingUnder {
        /// Purposes (any of).
        purposes: Vec<String>,
    },
    /// `@isUser('bob')`.
    IsUser {
        /// User names (any of).
        names: Vec<String>,
    },
    /// `not e`.
    Not {
        /// Operand.
        of: Box<Expr>,
    },
    /// `a and b`.
    And {
        /// Operands.
        of: Vec<Expr>,
    },
    /// `a or b`.
    Or {
        /// Operands.
        of: Vec<Expr>,
    },
}

/// A DSL syntax error at a character offset of the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 0-based character offset into the expression.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {} ({})", self.offset + 1, self.message, self.help)
    }
}

const FUNCTIONS: &str = "@isInGroups, @hasAttribute, @hasTagAsAttribute, @hasTagAsGroup, @isActingUnder, @isUser";

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

type Parsed<T> = Result<T, ParseError>;

impl Parser {
    fn err(&self, offset: usize, message: impl Into<String>, help: impl Into<String>) -> ParseError {
        ParseError { offset, message: message.into(), help: help.into() }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The identifier-like word at the cursor, without consuming it.
    fn word(&self) -> String {
        self.chars.get(self.pos..).unwrap_or(&[]).iter().take_while(|c| c.is_alphanumeric() || **c == '_').collect()
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let w = self.word();
        if w.eq_ignore_ascii_case(kw) {
            self.pos += w.chars().count();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, help: &str) -> Parsed<()> {
        self.skip_ws();
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            Some(x) => Err(self.err(self.pos, format!("expected `{c}`, found `{x}`"), help)),
            None => Err(self.err(self.pos, format!("expected `{c}`, found the end"), help)),
        }
    }

    fn expr(&mut self) -> Parsed<Expr> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Expr::Or { of: Vec::new() }) } else { Expr::Or { of: items } })
    }

    fn and(&mut self) -> Parsed<Expr> {
        let mut items = vec![self.unary()?];
        while self.keyword("and") {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Expr::And { of: Vec::new() }) } else { Expr::And { of: items } })
    }

    fn unary(&mut self) -> Parsed<Expr> {
        if self.keyword("not") {
            return Ok(Expr::Not { of: Box::new(self.unary()?) });
        }
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(')', "close the parenthesis opened earlier")?;
                Ok(e)
            }
            Some('@') => self.call(),
            Some(c) => Err(self.err(
                self.pos,
                format!("unexpected `{c}`"),
                format!("expected a function call ({FUNCTIONS}), `not` or `(`"),
            )),
            None => Err(self.err(
                self.pos,
                "unexpected end of expression",
                format!("expected a function call ({FUNCTIONS}), `not` or `(`"),
            )),
        }
    }

    fn string(&mut self) -> Parsed<String> {
        self.skip_ws();
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => {
                return Err(self.err(start, "expected a quoted string", "write arguments in quotes, e.g. 'Legal Team'"))
            }
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err(start, "unterminated string", format!("close the string with {quote}"))),
                Some(c) if c == quote => {
                    self.pos += 1;
                    if self.peek() == Some(quote) {
                        out.push(quote);
                        self.pos += 1;
                    } else {
                        return Ok(out);
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn call(&mut self) -> Parsed<Expr> {
        let at = self.pos;
        self.pos += 1; // '@'
        let name = self.word();
        self.pos += name.chars().count();
        self.expect('(', "a function name is followed by its arguments in parentheses")?;
        let mut args = Vec::new();
        let mut arg_at = Vec::new();
        self.skip_ws();
        if self.peek() != Some(')') {
            loop {
                self.skip_ws();
                arg_at.push(self.pos);
                args.push(self.string()?);
                self.skip_ws();
                if self.peek() == Some(',') {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(')', "separate arguments with `,` and close with `)`")?;
        let arity = |min: usize, max: usize, usage: &str| -> Parsed<()> {
            if args.len() < min || args.len() > max {
                Err(self.err(
                    at,
                    format!("`@{name}` takes {usage}, got {} argument(s)", args.len()),
                    format!("write it as `@{name}({usage})`"),
                ))
            } else {
                Ok(())
            }
        };
        let level = |s: &str, offset: usize| -> Parsed<TagLevel> {
            match s {
                "dataSource" => Ok(TagLevel::DataSource),
                "column" => Ok(TagLevel::Column),
                _ => Err(self.err(
                    offset,
                    format!("unknown tag level `{s}`"),
                    "use 'dataSource' (table tags) or 'column' (column tags)",
                )),
            }
        };
        match name.as_str() {
            "isInGroups" => {
                arity(1, usize::MAX, "'group', …")?;
                Ok(Expr::InGroups { groups: args })
            }
            "hasAttribute" => {
                arity(2, usize::MAX, "'key', 'value', …")?;
                let mut it = args.into_iter();
                let key = it.next().unwrap_or_default();
                Ok(Expr::HasAttribute { key, values: it.collect() })
            }
            "hasTagAsAttribute" => {
                arity(2, 2, "'key', 'dataSource'|'column'")?;
                let lv = level(args.get(1).map_or("", String::as_str), arg_at.get(1).copied().unwrap_or(at))?;
                Ok(Expr::TagAsAttribute { key: args.into_iter().next().unwrap_or_default(), level: lv })
            }
            "hasTagAsGroup" => {
                // Some payloads write a leading name argument; only the level counts.
                arity(1, 2, "'dataSource'|'column'")?;
                let i = args.len() - 1;
                let lv = level(args.get(i).map_or("", String::as_str), arg_at.get(i).copied().unwrap_or(at))?;
                Ok(Expr::TagAsGroup { level: lv })
            }
            "isActingUnder" => {
                arity(1, usize::MAX, "'purpose', …")?;
                Ok(Expr::ActingUnder { purposes: args })
            }
            "isUser" => {
                arity(1, usize::MAX, "'name', …")?;
                Ok(Expr::IsUser { names: args })
            }
            _ => Err(self.err(at, format!("unknown function `@{name}`"), format!("known functions: {FUNCTIONS}"))),
        }
    }
}

/// Parse a DSL expression.
///
/// ```
/// use veil_policy::dsl::{parse, Expr};
/// let e = parse("@isInGroups('A','B') and not @hasAttribute('Country','US')").unwrap();
/// assert!(matches!(e, Expr::And { .. }));
/// let err = parse("@isInGroups('A') and @nope('x')").unwrap_err();
/// assert_eq!(err.offset, 21);
/// ```
///
/// # Errors
/// [`ParseError`] with the character offset of the problem.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { chars: text.chars().collect(), pos: 0 };
    let e = p.expr()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(e),
        Some(c) => Err(p.err(
            p.pos,
            format!("unexpected `{c}` after a complete expression"),
            "join expressions with `and` or `or`",
        )),
    }
}

impl Expr {
    /// The condition this expression means on `source` (tag functions are
    /// resolved against its tags; a source without tags at that level
    /// satisfies no tag function: fail closed).
    ///
    /// Tag functions hold when the reader reaches *any* tag at that level (a
    /// table carries many tags: its sensitivity, its domain, dbt's `dbt.*`).
    pub fn to_condition(&self, source: &DataSource) -> Condition {
        match self {
            Expr::InGroups { groups } => {
                Condition::any(groups.iter().map(|g| Condition::InGroup { group: g.clone() }).collect())
            }
            Expr::HasAttribute { key, values } => Condition::any(
                values.iter().map(|v| Condition::HasAttribute { key: key.clone(), value: v.clone() }).collect(),
            ),
            Expr::TagAsAttribute { key, level } => {
                let tags = tags_at(source, *level);
                if tags.is_empty() {
                    return Condition::Never;
                }
                Condition::any(
                    tags.into_iter()
                        .map(|t| Condition::AttributeReaches { key: key.clone(), tag: t.to_string() })
                        .collect(),
                )
            }
            Expr::TagAsGroup { level } => {
                let tags = tags_at(source, *level);
                if tags.is_empty() {
                    return Condition::Never;
                }
                Condition::any(tags.into_iter().map(|t| Condition::GroupReaches { tag: t.to_string() }).collect())
            }
            Expr::ActingUnder { purposes } => {
                Condition::any(purposes.iter().map(|p| Condition::ActingUnder { purpose: p.clone() }).collect())
            }
            Expr::IsUser { names } => {
                Condition::any(names.iter().map(|n| Condition::User { name: n.clone() }).collect())
            }
            Expr::Not { of } => Condition::not(of.to_condition(source)),
            Expr::And { of } => Condition::all(of.iter().map(|e| e.to_condition(source)).collect()),
            Expr::Or { of } => Condition::any(of.iter().map(|e| e.to_condition(source)).collect()),
        }
    }
}

fn tags_at(source: &DataSource, level: TagLevel) -> Vec<&str> {
    match level {
        TagLevel::DataSource => source.tags.iter().map(String::as_str).collect(),
        TagLevel::Column => source.column_tags(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let e = parse("@isUser('a') or @isUser('b') and @isUser('c')").unwrap();
        let Expr::Or { of } = e else { panic!("not an or") };
        assert_eq!(of.len(), 2);
        assert!(matches!(of[1], Expr::And { .. }));
    }

    #[test]
    fn keywords_are_case_insensitive_and_parentheses_group() {
        let e = parse("NOT (@isInGroups('A') OR @isInGroups('B'))").unwrap();
        let Expr::Not { of } = e else { panic!("not a not") };
        assert_eq!(
            *of,
            Expr::Or {
                of: vec![Expr::InGroups { groups: vec!["A".into()] }, Expr::InGroups { groups: vec!["B".into()] },]
            }
        );
    }

    #[test]
    fn doubled_quote_is_a_quote() {
        let e = parse("@hasAttribute('Name', 'O''Brien')").unwrap();
        assert_eq!(e, Expr::HasAttribute { key: "Name".into(), values: vec!["O'Brien".into()] });
    }

    #[test]
    fn unknown_function_points_at_the_at_sign() {
        let err = parse("@isInGroups('A') and @isInGroup('B')").unwrap_err();
        assert_eq!(err.offset, 21);
        assert!(err.message.contains("unknown function `@isInGroup`"));
        assert!(err.help.contains("@isInGroups"));
    }

    #[test]
    fn bad_tag_level_points_at_the_argument() {
        let err = parse("@hasTagAsAttribute('Access', 'table')").unwrap_err();
        assert_eq!(err.offset, 29);
        assert!(err.message.contains("`table`"));
    }

    #[test]
    fn missing_parenthesis_points_at_the_end() {
        let text = "(@isInGroups('A')";
        let err = parse(text).unwrap_err();
        assert_eq!(err.offset, text.chars().count());
        assert!(err.message.contains("expected `)`"));
    }

    #[test]
    fn unterminated_string_points_at_its_start() {
        let err = parse("@isInGroups('A)").unwrap_err();
        assert_eq!(err.offset, 12);
        assert_eq!(err.message, "unterminated string");
    }

    #[test]
    fn trailing_garbage_and_bare_words_are_errors() {
        assert_eq!(parse("@isUser('a') @isUser('b')").unwrap_err().offset, 13);
        assert_eq!(parse("admins").unwrap_err().offset, 0);
        assert_eq!(parse("").unwrap_err().message, "unexpected end of expression");
    }

    #[test]
    fn wrong_arity_is_an_error() {
        let err = parse("@hasAttribute('Country')").unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.message.contains("got 1 argument"));
    }

    #[test]
    fn has_tag_as_group_accepts_the_legacy_two_argument_form() {
        assert_eq!(parse("@hasTagAsGroup('Access', 'column')").unwrap(), Expr::TagAsGroup { level: TagLevel::Column });
    }
}
