//! Plain-text explanations for governance people.

use std::fmt::Write;

use crate::condition::Condition;
use crate::mask::{HashScope, Keep, Mask, Rounding};
use crate::plan::{Explanation, RowPredicate};
use crate::policy::Merge;
use crate::users::Subject;

/// A mask in words.
///
/// ```
/// use veil_policy::{describe_mask, Mask};
/// assert_eq!(describe_mask(&Mask::Null), "replaced by NULL");
/// ```
pub fn describe_mask(mask: &Mask) -> String {
    match mask {
        Mask::Hash { scope, per_reader } => format!(
            "hashed (keyed, {} key{})",
            match scope {
                HashScope::Source => "per-source",
                HashScope::Project => "per-project",
            },
            if *per_reader { ", different for each reader" } else { "" }
        ),
        Mask::Null => "replaced by NULL".into(),
        Mask::Constant { value } => format!("replaced by the constant {value:?}"),
        Mask::Regex { pattern, replacement } => {
            format!("with matches of /{pattern}/ replaced by `{replacement}`")
        }
        Mask::Reveal { keep, fill } => match keep {
            Keep::First(n) => format!("showing only the first {n} characters (rest `{fill}`)"),
            Keep::Last(n) => format!("showing only the last {n} characters (rest `{fill}`)"),
        },
        Mask::Email => "with the e-mail local part hidden".into(),
        Mask::Round { rounding } => match rounding {
            Rounding::Width(w) => format!("rounded to the nearest multiple of {w} (halves away from zero)"),
            Rounding::Places(p) => format!("rounded to {p} decimal place(s) (halves away from zero)"),
        },
        Mask::Trunc { unit } => format!("truncated to the {unit:?}").to_lowercase(),
        Mask::Reversible { unmaskers: Condition::Never } => "replaced by a reversible token".into(),
        Mask::Reversible { unmaskers } => {
            format!("replaced by a reversible token (may unmask: {unmaskers})")
        }
        Mask::FormatPreserving => "encrypted keeping its format (FF1)".into(),
        Mask::Component { component, function, .. } => {
            format!("replaced by the custom mask `{function}` of component `{}`", component.display())
        }
    }
}

/// A row filter in words.
///
/// ```
/// use veil_policy::{describe_rows, RowPredicate};
/// let p = RowPredicate::ValueIn { column: "region".into(), values: vec!["Ohio".into()], hierarchical: false };
/// assert_eq!(describe_rows(&p), "rows whose `region` is `Ohio`");
/// ```
pub fn describe_rows(p: &RowPredicate) -> String {
    match p {
        RowPredicate::MatchAttribute { column, attribute, .. } => {
            format!("rows whose `{column}` matches the reader's `{attribute}`")
        }
        RowPredicate::ValueIn { column, values, hierarchical } => format!(
            "rows whose `{column}` is {}{}",
            values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" or "),
            if *hierarchical { " (or below)" } else { "" }
        ),
        RowPredicate::Sql { predicate } => format!("rows where {}", predicate.sql),
        RowPredicate::TimeWindow { column, seconds } => {
            format!("rows whose `{column}` lies in the last {seconds} seconds")
        }
        RowPredicate::Sample { percent, key } => {
            format!("a fixed {percent}% sample of rows (keyed by {})", key.join(", "))
        }
        RowPredicate::Nothing => "no rows (a rule could not be applied)".into(),
    }
}

pub(crate) fn render(subject: &Subject, explanation: &Explanation) -> String {
    let Explanation { decision, plan } = explanation;
    let mut out = String::new();
    let project = subject.project.as_deref().map_or("no project".to_string(), |p| format!("project `{p}`"));
    let _ = writeln!(out, "{} reading {} (acting under {project})", subject.name, decision.source);
    let _ = writeln!(out, "access: {}; {}", if decision.allowed { "ALLOWED" } else { "DENIED" }, decision.rule);
    for r in &decision.reasons {
        let _ = writeln!(
            out,
            "  - {} `{}`: {} -> {}",
            match r.merge {
                Merge::Grant => "grant",
                Merge::Guardrail => "guardrail",
            },
            r.policy,
            r.condition,
            if r.satisfied { "met" } else { "not met" }
        );
    }
    if !decision.allowed {
        return out;
    }
    let _ = writeln!(out, "columns:");
    for c in &plan.columns {
        if c.chain.is_empty() {
            let _ = writeln!(out, "  {} ({}): shown as is", c.name, c.input_type);
            continue;
        }
        for (i, step) in c.chain.iter().enumerate() {
            let lead = if i == 0 {
                format!("  {} ({})", c.name, c.input_type)
            } else {
                format!("  {:width$}  otherwise", "", width = c.name.len())
            };
            let rows = step.rows.as_ref().map_or(String::new(), |r| format!(" where {}", r.sql));
            let _ = writeln!(out, "{lead}: {}{rows} (policy `{}`)", describe_mask(&step.mask), step.policy);
        }
        if c.chain.last().is_some_and(|s| s.rows.is_some()) {
            let _ = writeln!(out, "  {:width$}  other rows shown as is", "", width = c.name.len());
        }
    }
    if plan.row_filters.is_empty() {
        let _ = writeln!(out, "rows: all");
    } else {
        let _ = writeln!(out, "rows: only");
        for f in &plan.row_filters {
            let _ = writeln!(out, "  - {}", describe_rows(f));
        }
    }
    out
}
