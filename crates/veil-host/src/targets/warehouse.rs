//! What the warehouse targets (Snowflake, Databricks, BigQuery) share: the slim
//! JS UDF bundles, content-addressed policy names, entitled readers, masks every
//! warehouse writes alike, and regexes translated only where they match alike.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use veil_policy::{ColumnPlan, ColumnType, DataSource, Engine, Keep, Mask, Plan, Rounding, TimeUnit};

use super::{MaskContext, Reader, Target};
use crate::pipeline::Needed;
use crate::{Error, Result};

// What replaces an e-mail's local part.
use veil_core::mask::EMAIL_LOCAL_FILL as EMAIL_FILL;

/// Largest repetition count veil writes into a warehouse regex.
const MAX_REGEX_REPEAT: u32 = 255;

/// The JS sources of the slim UDF bundles (`dist/js/slim/veil-<family>.inline.js`,
/// built by `scripts/build-wasm` from crates/veil-js-slim), embedded in UDF bodies.
/// A bundle is needed only when a plan calls its UDF: [`Udfs::load`] keeps going
/// without the missing ones and [`Udfs::bundle`] refuses when one is asked for.
#[derive(Clone, Debug)]
pub struct Udfs {
    /// `veilHash` and `veilInSample`.
    pub hash: String,
    /// The same plus `veilFpeEncrypt`.
    pub ff1: String,
    /// The same plus `veilTokenMask`.
    pub token: String,
    /// `veilHash` alone over the canonical-ABI hash module (`veil-hash-core`),
    /// small enough for BigQuery's 32 KB inline code.
    pub hash_core: String,
    /// Families whose file was not there, with the path looked for.
    pub missing: BTreeMap<&'static str, std::path::PathBuf>,
}

impl Udfs {
    /// Stand-ins naming each bundle, for golden SQL that does not change with every build.
    ///
    /// ```
    /// assert!(veil_host::targets::warehouse::Udfs::placeholders().ff1.contains("veil-ff1"));
    /// ```
    pub fn placeholders() -> Self {
        let stub = |family: &str| format!("/* dist/js/slim/veil-{family}.inline.js */");
        Self {
            hash: stub("hash"),
            ff1: stub("ff1"),
            token: stub("token"),
            hash_core: stub("hash-core"),
            missing: BTreeMap::new(),
        }
    }

    /// No bundle loaded: each is refused, naming `dist/js/slim`, if a plan needs it.
    pub fn absent() -> Self {
        let dir = Path::new("dist/js/slim");
        let missing = ["hash", "ff1", "token", "hash-core"]
            .into_iter()
            .map(|f| (f, dir.join(format!("veil-{f}.inline.js"))))
            .collect();
        Self { hash: String::new(), ff1: String::new(), token: String::new(), hash_core: String::new(), missing }
    }

    /// The JS UDF families (`hash`, `in_sample`, `ff1`, `token`) the plans call.
    pub fn families(needs: &BTreeSet<Needed>) -> BTreeSet<&'static str> {
        needs
            .iter()
            .filter_map(|n| match n {
                Needed::Hash | Needed::HashPerReader => Some("hash"),
                Needed::Sample => Some("in_sample"),
                Needed::FormatPreserving => Some("ff1"),
                Needed::Token => Some("token"),
                Needed::Regex | Needed::Email => None,
            })
            .collect()
    }

    /// The bundles found in a directory (usually `dist/js/slim`); absent ones are
    /// recorded, and refused only if a plan needs them.
    ///
    /// # Errors
    /// [`Error::Invalid`] when a bundle exists but cannot be read.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut missing = BTreeMap::new();
        let mut read = |family: &'static str| -> Result<String> {
            let path = dir.join(format!("veil-{family}.inline.js"));
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    missing.insert(family, path);
                    Ok(String::new())
                }
                Err(e) => Err(Error::Invalid(format!("UDF bundle `{}`: {e}", path.display()))),
            }
        };
        Ok(Self {
            hash: read("hash")?,
            ff1: read("ff1")?,
            token: read("token")?,
            hash_core: read("hash-core")?,
            missing,
        })
    }

    /// The bundle of `family` (`hash`, `ff1`, `token`, `hash-core`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the file when it was not found.
    pub fn bundle(&self, family: &str) -> Result<&str> {
        if let Some(path) = self.missing.get(family) {
            return Err(Error::Invalid(format!(
                "the policies need the {family} UDF bundle, and `{}` does not exist: run scripts/build-wasm, or give --udfs DIR",
                path.display()
            )));
        }
        Ok(match family {
            "hash" => &self.hash,
            "ff1" => &self.ff1,
            "token" => &self.token,
            _ => &self.hash_core,
        })
    }
}

/// A short, stable name for a policy body (FNV-1a, 64 bits): the same body keeps
/// its name across binds, so a warehouse never has to replace a policy in use.
pub fn content_name(prefix: &str, text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{prefix}_{h:016x}")
}

/// The projects serving each purpose (a reader acts under a purpose through one of them).
pub fn projects_by_purpose(engine: &Engine) -> BTreeMap<String, BTreeSet<String>> {
    let mut purposes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (project, ps) in engine.directory().projects() {
        for p in ps {
            purposes.entry(p.clone()).or_default().insert(project.to_string());
        }
    }
    purposes
}

/// Readers entitled to `source` under no project or any of their projects.
///
/// # Errors
/// [`Error::Policy`] when a plan cannot be made.
pub fn entitled(engine: &Engine, source: &str) -> Result<BTreeSet<String>> {
    let directory = engine.directory();
    let mut readers = BTreeSet::new();
    for user in directory.users() {
        let projects = std::iter::once(None).chain(user.projects.iter().map(|p| Some(p.as_str())));
        for project in projects {
            let Ok(subject) = directory.subject(&user.name, project) else { continue };
            if engine.plan_for(&subject, source)?.allowed {
                readers.insert(user.name.clone());
                break;
            }
        }
    }
    Ok(readers)
}

/// Does a user's value reach a data tag (`A` reaches `A` and `A.B`)?
pub fn reaches(value: &str, tag: &str) -> bool {
    !value.is_empty() && (tag == value || tag.strip_prefix(value).is_some_and(|rest| rest.starts_with('.')))
}

/// Names an engine may read as a function or keyword when unquoted.
const RESERVED: &[&str] = &[
    "current_user",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_role",
    "current_schema",
    "current_database",
    "current_catalog",
    "session_user",
    "user",
    "localtime",
    "localtimestamp",
    "null",
    "true",
    "false",
];

/// A truncation unit as the warehouses write it (`DATE_TRUNC('MONTH', …)`,
/// BigQuery's `DATE_TRUNC(…, MONTH)`).
pub fn time_unit(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Minute => "MINUTE",
        TimeUnit::Hour => "HOUR",
        TimeUnit::Day => "DAY",
        TimeUnit::Month => "MONTH",
        TimeUnit::Quarter => "QUARTER",
        TimeUnit::Year => "YEAR",
    }
}

/// A name usable unquoted in every warehouse dialect: ASCII letters, digits and
/// `_`, and not a keyword or niladic function (`current_user`).
pub fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name.to_ascii_lowercase().as_str())
}

/// The refusal every warehouse target gives, naming policy, source and column.
pub fn unsupported(target: &'static str, ctx: &MaskContext<'_>, why: &str) -> Error {
    Error::Unsupported {
        target,
        what: format!("policy `{}`, column `{}.{}`: {why}", ctx.policy, ctx.source, ctx.column),
    }
}

/// How a warehouse writes the pieces of [`common_mask`].
pub struct Dialect {
    /// Target name (for errors).
    pub target: &'static str,
    /// An exact decimal type wide enough for any integer column.
    pub decimal: &'static str,
    /// How a character outside ASCII letters and digits is written in a regex.
    pub regex_char: fn(char) -> String,
    /// How `$` is written in a regex replacement.
    pub replacement_dollar: &'static str,
    /// The text after the last `@` of a text expression; the whole text when it
    /// has no `@`, or `''`.
    pub email_domain: fn(&str) -> String,
}

/// The part after the last `@` (Snowflake).
pub fn split_part_domain(c: &str) -> String {
    format!("SPLIT_PART({c}, '@', -1)")
}

/// The part after the last `@` (Spark SQL).
pub fn substring_index_domain(c: &str) -> String {
    format!("substring_index({c}, '@', -1)")
}

/// The part after the last `@`; `''` without one (BigQuery).
pub fn reverse_strpos_domain(c: &str) -> String {
    format!("SUBSTR({c}, LENGTH({c}) - STRPOS(REVERSE({c}), '@') + 2)")
}

/// The masks every warehouse writes with the same standard functions: null,
/// constants, reveal, rounding of exact numbers, regexes that translate, the
/// e-mail mask (veil-core's: a fixed local part, the domain after the last `@`;
/// no domain hides the whole value). `None`
/// for the others (keyed masks, dates), which each target writes itself.
///
/// # Errors
/// [`Error::Unsupported`] for a mask with no faithful equivalent.
pub fn common_mask(t: &dyn Target, d: &Dialect, mask: &Mask, c: &str, ctx: &MaskContext<'_>) -> Result<Option<String>> {
    let ty = t.sql_type(ctx.column_type)?;
    Ok(Some(match mask {
        Mask::Null => format!("CAST(NULL AS {ty})"),
        Mask::Constant { value } => {
            let literal = crate::render::constant(t, value);
            format!("CAST({literal} AS {ty})")
        }
        Mask::Reveal { keep, fill } => {
            let fill = t.literal(&fill.to_string());
            match keep {
                Keep::First(n) => format!("CONCAT(LEFT({c}, {n}), REPEAT({fill}, GREATEST(LENGTH({c}) - {n}, 0)))"),
                Keep::Last(n) => format!("CONCAT(REPEAT({fill}, GREATEST(LENGTH({c}) - {n}, 0)), RIGHT({c}, {n}))"),
            }
        }
        Mask::Regex { pattern, replacement } => {
            let why = |w: String| unsupported(d.target, ctx, &w);
            let pattern = regex_pattern(pattern, d.regex_char).map_err(why)?;
            let replacement = regex_replacement(replacement, d.replacement_dollar, None).map_err(why)?;
            format!("REGEXP_REPLACE({c}, {}, {})", t.literal(&pattern), t.literal(&replacement))
        }
        Mask::Round { rounding } => {
            let exact = match ctx.column_type {
                ColumnType::Integer => format!("CAST({c} AS {})", d.decimal),
                ColumnType::Decimal { .. } => c.to_string(),
                _ => {
                    return Err(unsupported(
                        d.target,
                        ctx,
                        "rounding a floating-point or non-numeric column: warehouses round binary floats \
                         differently from veil-core; cast the column to decimal in dbt",
                    ))
                }
            };
            match rounding {
                Rounding::Width(w) if w.is_finite() && *w > 0.0 => {
                    format!("CAST(ROUND({exact} / {w:?}) * {w:?} AS {ty})")
                }
                Rounding::Places(p) => format!("CAST(ROUND({exact}, {p}) AS {ty})"),
                Rounding::Width(w) => {
                    return Err(unsupported(d.target, ctx, &format!("a rounding width of `{w}` (must be above 0)")))
                }
            }
        }
        Mask::Email => {
            // With an `@`, the domain is shorter than the value; without one it is the value or ''.
            let domain = (d.email_domain)(c);
            format!(
                "CASE WHEN {c} IS NULL THEN NULL WHEN {domain} <> '' AND {domain} <> {c} THEN CONCAT({}, {domain}) ELSE {} END",
                t.literal(&format!("{EMAIL_FILL}@")),
                t.literal(EMAIL_FILL)
            )
        }
        Mask::Component { .. } => return t.component_mask(mask, c, ctx).map(Some),
        Mask::Hash { .. } | Mask::Trunc { .. } | Mask::Reversible { .. } | Mask::FormatPreserving => return Ok(None),
    }))
}

/// A Rust regex as an equivalent warehouse regex (RE2, Java, Snowflake's POSIX
/// ERE with Perl classes), or why there is none. As for PostgreSQL, only a subset
/// translates with the same matches: literals, classes (written out as code point
/// ranges, so `\d` keeps Rust's Unicode meaning), `^`/`$` at the ends, and greedy
/// repetitions of one character or class, at most one of them variable.
///
/// ```
/// use veil_host::targets::warehouse::{regex_pattern, hex_escape};
/// assert!(regex_pattern(r"^\d{4}", hex_escape).unwrap().starts_with(r"^[0-9\x{0660}-"));
/// assert!(regex_pattern("a|ab", hex_escape).is_err());
/// ```
///
/// # Errors
/// A sentence saying what has no equivalent.
pub fn regex_pattern(pattern: &str, esc: fn(char) -> String) -> std::result::Result<String, String> {
    translate_regex(
        pattern,
        &RegexSyntax { engine: "warehouse", literal: esc, class_char: esc, class_min: '\0', longest_match: "" },
    )
}

/// How one engine writes a translated regex ([`translate_regex`]).
pub struct RegexSyntax {
    /// Whose regex, for refusals (`warehouse`, `PostgreSQL`).
    pub engine: &'static str,
    /// A literal character; empty when the engine has no form for it (refused).
    pub literal: fn(char) -> String,
    /// A class range's end; empty when the engine has no form for it (refused).
    pub class_char: fn(char) -> String,
    /// The first character a class may hold (PostgreSQL text cannot hold NUL).
    pub class_min: char,
    /// Why two variable-length repetitions can match differently there, if the
    /// engine says more than veil's rule (PostgreSQL's longest match).
    pub longest_match: &'static str,
}

/// A Rust regex (the `regex` crate's syntax, as veil-core runs it) in an engine's
/// syntax, or why there is none: the subset described at [`regex_pattern`].
///
/// # Errors
/// A sentence saying what has no equivalent.
pub fn translate_regex(pattern: &str, syntax: &RegexSyntax) -> std::result::Result<String, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| format!("regex `{pattern}` does not parse: {e}"))?;
    if hir.properties().minimum_len().unwrap_or(0) == 0 {
        return Err(format!("regex `{pattern}` can match the empty string; engines replace empty matches differently"));
    }
    let mut variable = 0;
    let out = render_hir(&hir, pattern, syntax, &mut variable)?;
    if variable > 1 {
        return Err(format!(
            "regex `{pattern}` has more than one variable-length repetition{}; use fixed counts like `\\d{{4}}`",
            syntax.longest_match
        ));
    }
    Ok(out)
}

fn render_hir(
    hir: &Hir,
    pattern: &str,
    syntax: &RegexSyntax,
    variable: &mut u32,
) -> std::result::Result<String, String> {
    let refuse = |what: &str| {
        Err(format!("regex `{pattern}`: {what} has no equivalent {} regex veil can vouch for", syntax.engine))
    };
    let written = |form: fn(char) -> String, c: char| {
        let s = form(c);
        if s.is_empty() {
            Err(format!(
                "regex `{pattern}`: character U+{:04X} has no form veil writes for this {}",
                u32::from(c),
                syntax.engine
            ))
        } else {
            Ok(s)
        }
    };
    match hir.kind() {
        HirKind::Empty => Ok(String::new()),
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(text) => text.chars().map(|c| written(syntax.literal, c)).collect(),
            Err(_) => refuse("a non-UTF-8 literal"),
        },
        HirKind::Class(Class::Unicode(class)) => {
            let mut out = String::from("[");
            for r in class.ranges() {
                let start = r.start().max(syntax.class_min);
                if r.end() < start {
                    continue;
                }
                out.push_str(&written(syntax.class_char, start)?);
                if r.end() != start {
                    out.push('-');
                    out.push_str(&written(syntax.class_char, r.end())?);
                }
            }
            if out.len() == 1 {
                return refuse("an empty class");
            }
            out.push(']');
            Ok(out)
        }
        HirKind::Class(Class::Bytes(_)) => refuse("a byte class"),
        HirKind::Look(Look::Start) => Ok("^".into()),
        HirKind::Look(Look::End) => Ok("$".into()),
        HirKind::Look(_) => refuse("a multi-line anchor or word boundary"),
        HirKind::Repetition(rep) => {
            let single = match rep.sub.kind() {
                HirKind::Class(Class::Unicode(_)) => true,
                HirKind::Literal(lit) => std::str::from_utf8(&lit.0).map(|s| s.chars().count() == 1).unwrap_or(false),
                _ => false,
            };
            if !single {
                return refuse("a repetition of more than one character or class");
            }
            let fixed = rep.max == Some(rep.min);
            if !rep.greedy && !fixed {
                return refuse("a lazy repetition");
            }
            if rep.min > MAX_REGEX_REPEAT || rep.max.is_some_and(|m| m > MAX_REGEX_REPEAT) {
                return refuse("a repetition count above 255");
            }
            if !fixed {
                *variable += 1;
            }
            let sub = render_hir(&rep.sub, pattern, syntax, variable)?;
            let bound = match rep.max {
                Some(max) if max == rep.min => format!("{{{max}}}"),
                Some(max) => format!("{{{},{max}}}", rep.min),
                None => format!("{{{},}}", rep.min),
            };
            Ok(format!("{sub}{bound}"))
        }
        HirKind::Capture(_) => refuse("a group"),
        HirKind::Concat(items) => items.iter().map(|i| render_hir(i, pattern, syntax, variable)).collect(),
        HirKind::Alternation(_) => refuse("an alternation"),
    }
}

/// `\x{HHHH}` for characters other than ASCII letters and digits (RE2, Java).
pub fn hex_escape(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{{{:04X}}}", u32::from(c))
    }
}

/// Literal characters, punctuation backslash-escaped (Snowflake); control
/// characters have no literal form veil writes, so [`regex_pattern`] refuses them.
pub fn literal_escape(c: char) -> String {
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_control()) {
        c.to_string()
    } else if c.is_ascii_punctuation() || c == ' ' {
        format!("\\{c}")
    } else {
        String::new()
    }
}

/// A Rust regex replacement (`$$` is a literal `$`) as an engine's: `$` written
/// `dollar`, a backslash written `backslash` (`None`: refused, where the engine
/// would read it as a capture reference). Capture references are refused.
///
/// # Errors
/// A sentence naming what is not translated.
pub fn regex_replacement(
    replacement: &str,
    dollar: &str,
    backslash: Option<&str>,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, backslash) {
            ('$', _) if chars.peek() == Some(&'$') => {
                chars.next();
                out.push_str(dollar);
            }
            ('\\', Some(escaped)) => out.push_str(escaped),
            ('$' | '\\', _) => {
                return Err(format!(
                    "regex replacement `{replacement}` refers to a capture group or holds a backslash, which \
                     this target does not translate"
                ))
            }
            (c, _) => out.push(c),
        }
    }
    Ok(out)
}

/// A column's mask chain as the body of a function of `val` and of the other
/// columns its conditional masks read: what warehouses attach to a column
/// (Snowflake masking policies, Databricks column masks).
pub struct ColumnMask {
    /// `CASE WHEN … THEN … ELSE val END`.
    pub body: String,
    /// `val <type>[, <arg> <type> …]`.
    pub signature: String,
    /// The column's SQL type (a column mask returns it unchanged).
    pub ty: String,
    /// Other columns the chain reads, in order of first use.
    pub extra: Vec<String>,
}

/// Build [`ColumnMask`] for `column` of `source`. `function` says what the
/// engine attaches (e.g. "a Snowflake masking policy") for the error when a mask
/// would change the column's type; `arg_ident` names a function argument.
///
/// # Errors
/// [`Error::Unsupported`] for a type-changing chain or a mask the target refuses;
/// [`Error::Invalid`] when a conditional mask reads a column the source lacks.
#[allow(clippy::too_many_arguments)]
pub fn column_mask(
    t: &dyn Target,
    target: &'static str,
    function: &str,
    source: &DataSource,
    plan: &Plan,
    column: &ColumnPlan,
    key_id: &str,
    arg_ident: &dyn Fn(&str) -> String,
) -> Result<ColumnMask> {
    let ctx = MaskContext {
        source: &source.name,
        column: &column.name,
        policy: column.chain.first().map_or("", |c| c.policy.as_str()),
        key_id,
        column_type: &column.input_type,
        reader: Reader::Dynamic,
    };
    if column.output_type != column.input_type {
        return Err(unsupported(
            target,
            &ctx,
            &format!(
                "a mask that changes the column's type: {function} returns the column's own type; cast the column in \
                 dbt (e.g. to text before hashing)"
            ),
        ));
    }
    let ty = t.sql_type(&column.input_type)?;
    let mut extra: Vec<String> = Vec::new();
    for rows in column.chain.iter().filter_map(|case| case.rows.as_ref()) {
        for c in &rows.columns {
            if !extra.contains(c) && *c != column.name {
                extra.push(c.clone());
            }
        }
    }
    // Inside the function the masked column is its first argument, `val`: a
    // conditional mask's `where` reading the column itself reads `val`.
    let mut own = column.clone();
    for case in &mut own.chain {
        if let Some(rows) = &mut case.rows {
            rows.tree = rows.tree.map_columns(&|c| if c == column.name { "val".to_owned() } else { c.to_owned() });
        }
    }
    let body = crate::render::mask_case(t, &source.name, &own, key_id, "val")?;
    let mut signature = vec![format!("val {ty}")];
    for c in &extra {
        signature.push(argument(t, source, plan, c, arg_ident)?);
    }
    Ok(ColumnMask { body, signature: signature.join(", "), ty, extra })
}

/// `<argument> <type>` for a column of `source` passed to a mask or filter function.
///
/// # Errors
/// [`Error::Invalid`] when the source has no such column.
pub fn argument(
    t: &dyn Target,
    source: &DataSource,
    plan: &Plan,
    column: &str,
    arg_ident: &dyn Fn(&str) -> String,
) -> Result<String> {
    let input = plan.columns.iter().find(|p| p.name == column).ok_or_else(|| {
        Error::Invalid(format!("data source `{}` has no column `{column}` that a policy reads", source.name))
    })?;
    Ok(format!("{} {}", arg_ident(column), t.sql_type(&input.input_type)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_regexes() {
        assert_eq!(content_name("m", "x"), content_name("m", "x"));
        assert_ne!(content_name("m", "x"), content_name("m", "y"));
        assert!(reaches("A", "A.B") && reaches("A", "A") && !reaches("A", "AB") && !reaches("", "A"));
        assert_eq!(regex_pattern(r"a\.b", hex_escape).unwrap(), r"a\x{002E}b");
        assert_eq!(regex_pattern(r"a\.b", literal_escape).unwrap(), r"a\.b");
        for bad in ["a|b|cd", "(ab)+", "x*", r"\bword", "a+b+", "a+?", "(a)"] {
            assert!(regex_pattern(bad, hex_escape).is_err(), "{bad}");
        }
        assert!(regex_pattern("a.b", literal_escape).is_err(), "`.` holds control characters");
        assert_eq!(regex_replacement("X$$", "\\$", None).unwrap(), "X\\$");
        assert!(regex_replacement("$1", "$", None).is_err());
    }
}
