//! The `veil:mask` contract (`wit/mask/mask.wit`): which exports may serve as a
//! policy's custom mask, and a policy's `params` checked against one.

use crate::signature::{ErrorType, Exports, Function, ValueType};

/// The cases of veil's `error` variant (`veil:udf` and `veil:mask`); a custom
/// mask's error cases must be among them, so engines report the same kinds.
pub const ERROR_CASES: &[&str] = &[
    "invalid-key",
    "invalid-regex",
    "invalid-argument",
    "constant-type",
    "fpe-domain",
    "parse",
    "token-invalid",
    "other",
];

/// A parameter value as a policy writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
}

impl Arg {
    fn describe(&self) -> String {
        match self {
            Arg::Bool(b) => format!("`{b}`"),
            Arg::Int(i) => format!("`{i}`"),
            Arg::Float(f) => format!("`{f}`"),
            Arg::Text(s) => format!("`{s:?}`"),
        }
    }
}

/// The export `function` of a component, checked to be a custom mask: a text
/// value first, other parameters of plain types, text out, failures as veil's
/// `error`.
///
/// # Errors
/// A message saying what the export is and what a mask must be (or which
/// exports the component has, when it has no `function`).
pub fn check<'a>(exports: &'a Exports, function: &str) -> Result<&'a Function, String> {
    const SHAPE: &str = "a mask is `func(value: string, <params>…) -> result<string, error>` (see wit/mask/mask.wit)";
    let Some(f) = exports.function(function) else {
        if let Some(skipped) = exports.skipped.iter().find(|s| s.name == function) {
            return Err(format!("export `{function}` cannot be called from SQL: {}; {SHAPE}", skipped.reason));
        }
        let names: Vec<String> = exports.functions.iter().map(|f| format!("`{}`", f.name)).collect();
        return Err(format!(
            "the component has no export `{function}`; it exports {}",
            if names.is_empty() { "no function callable from SQL".to_owned() } else { names.join(", ") }
        ));
    };
    let wrong = |what: String| Err(format!("export `{function}` is `{}`: {what}; {SHAPE}", f.wit()));
    match f.params.first() {
        Some(p) if p.ty == ValueType::String && !p.optional => {}
        _ => return wrong("its first parameter must be the value, `string`".into()),
    }
    for p in f.params.iter().skip(1) {
        if p.optional || matches!(p.ty, ValueType::Bytes | ValueType::StringList) {
            return wrong(format!("parameter `{}` must be string, char, bool, s32, s64, u32 or f64", p.name));
        }
    }
    if f.returns.ty != ValueType::String {
        return wrong("it must return text".into());
    }
    match &f.returns.error {
        None => {}
        Some(ErrorType::Variant(cases)) => {
            if let Some(other) = cases.iter().find(|c| !ERROR_CASES.contains(&c.as_str())) {
                return wrong(format!("its error case `{other}` is not one of veil's ({})", ERROR_CASES.join(", ")));
            }
        }
        Some(_) => return wrong("its error type must be veil's `error` variant".into()),
    }
    Ok(f)
}

/// The policy's `params` (name, value, in the order written) checked against
/// mask `f`: every parameter after the value, by name, in the signature's order,
/// each of its type.
///
/// ```
/// # use veil_component_host::{mask::{self, Arg}, Function, Param, Returns, ValueType};
/// let f = Function {
///     interface: None,
///     name: "mask-iban".into(),
///     params: vec![
///         Param { name: "value".into(), ty: ValueType::String, optional: false },
///         Param { name: "keep-last".into(), ty: ValueType::U32, optional: false },
///     ],
///     returns: Returns { ty: ValueType::String, optional: false, error: None },
///     batch: None,
/// };
/// assert!(mask::check_params(&f, &[("keep-last".into(), Arg::Int(4))]).is_ok());
/// assert!(mask::check_params(&f, &[("keep-last".into(), Arg::Int(-1))]).is_err());
/// assert!(mask::check_params(&f, &[]).is_err());
/// ```
///
/// # Errors
/// A message naming the missing, unknown, misplaced or mistyped parameter.
pub fn check_params(f: &Function, given: &[(String, Arg)]) -> Result<(), String> {
    let wanted: Vec<&crate::Param> = f.params.iter().skip(1).collect();
    let names = || wanted.iter().map(|p| format!("`{}`", p.name)).collect::<Vec<_>>().join(", ");
    for (name, _) in given {
        if !wanted.iter().any(|p| p.name == *name) {
            return Err(if wanted.is_empty() {
                format!("`{}` takes no parameters besides the value, not `{name}`", f.name)
            } else {
                format!("`{}` has no parameter `{name}`; it takes {}", f.name, names())
            });
        }
    }
    for (i, p) in wanted.iter().enumerate() {
        let Some((name, arg)) = given.get(i) else {
            return Err(format!(
                "`{}` needs parameter `{}` ({}); give {} in this order",
                f.name,
                p.name,
                p.ty.wit(),
                names()
            ));
        };
        if *name != p.name {
            return Err(format!("give `{}`'s parameters in the order of its signature: {}", f.name, names()));
        }
        if !fits(arg, p.ty) {
            return Err(format!(
                "parameter `{}` of `{}` is `{}`, which {} is not",
                p.name,
                f.name,
                p.ty.wit(),
                arg.describe()
            ));
        }
    }
    Ok(())
}

/// Does a policy value fit a parameter of type `ty` (SQL casts it exactly)?
fn fits(arg: &Arg, ty: ValueType) -> bool {
    match (arg, ty) {
        (Arg::Bool(_), ValueType::Bool) | (Arg::Text(_), ValueType::String) => true,
        (Arg::Text(s), ValueType::Char) => s.chars().count() == 1,
        (Arg::Int(i), ValueType::S32) => i32::try_from(*i).is_ok(),
        (Arg::Int(i), ValueType::U32) => u32::try_from(*i).is_ok(),
        (Arg::Int(_), ValueType::S64) | (Arg::Int(_) | Arg::Float(_), ValueType::F64) => true,
        _ => false,
    }
}
