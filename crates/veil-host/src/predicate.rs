//! `where:` predicates (row rules, conditional masks) printed in a target's own
//! dialect from veil-policy's syntax tree: each column named by
//! [`Target::predicate_column`], each string by [`Target::literal`], operators and
//! functions written the way that engine reads them, every sub-expression in
//! parentheses so no engine's precedence rules can regroup it.

use veil_policy::sql::{BinaryOp, Predicate};

use crate::targets::Target;
use crate::Result;

/// `predicate` as a boolean SQL expression for `t`.
///
/// # Errors
/// None today (every construct veil-policy admits prints on every target); the
/// `Result` lets a target refuse one it cannot read the same way.
pub fn print<T: Target + ?Sized>(t: &T, predicate: &Predicate) -> Result<String> {
    let p = |e: &Predicate| print(t, e);
    Ok(match predicate {
        Predicate::Column(c) => t.predicate_column(c),
        Predicate::Text(s) => t.literal(s),
        Predicate::Number(n) => n.clone(),
        Predicate::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Predicate::Null => "NULL".into(),
        Predicate::Not(e) => format!("(NOT {})", p(e)?),
        Predicate::Negate(e) => format!("(- {})", p(e)?),
        Predicate::Binary(a, BinaryOp::Concat, b) => format!("({})", t.concat(&[p(a)?, p(b)?])),
        Predicate::Binary(a, BinaryOp::Modulo, b) => t.modulo(&p(a)?, &p(b)?),
        Predicate::Binary(a, op, b) => format!("({} {} {})", p(a)?, op.sql(), p(b)?),
        Predicate::IsNull(e, negated) => format!("({} IS {}NULL)", p(e)?, if *negated { "NOT " } else { "" }),
        Predicate::InList(e, list, negated) => {
            let items = list.iter().map(p).collect::<Result<Vec<_>>>()?;
            format!("({} {}IN ({}))", p(e)?, if *negated { "NOT " } else { "" }, items.join(", "))
        }
        Predicate::Between(e, lo, hi, negated) => {
            format!("({} {}BETWEEN {} AND {})", p(e)?, if *negated { "NOT " } else { "" }, p(lo)?, p(hi)?)
        }
        Predicate::Like { expr, pattern, negated, case_insensitive } => {
            let (value, pattern) = if *case_insensitive {
                (format!("lower({})", p(expr)?), format!("lower({})", p(pattern)?))
            } else {
                (p(expr)?, p(pattern)?)
            };
            format!("({value} {}LIKE {pattern})", if *negated { "NOT " } else { "" })
        }
        Predicate::Extract(part, e) => format!("EXTRACT({} FROM {})", part.sql(), p(e)?),
        Predicate::Substr(e, from, len) => match len {
            Some(len) => format!("{}({}, {}, {})", t.function_name("substr"), p(e)?, p(from)?, p(len)?),
            None => format!("{}({}, {})", t.function_name("substr"), p(e)?, p(from)?),
        },
        Predicate::Function(name, args) => {
            let args = args.iter().map(p).collect::<Result<Vec<_>>>()?;
            format!("{}({})", t.function_name(name), args.join(", "))
        }
    })
}
