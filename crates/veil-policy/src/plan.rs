//! What the engine hands to a bindings generator: decisions, plans, and
//! plans specialised to one reader. All `Serialize`, so the CLI prints JSON.

use serde::Serialize;

use crate::catalog::ColumnType;
use crate::condition::Condition;
use crate::mask::{HashScope, Mask};
use crate::policy::Merge;
use crate::sql::SqlPredicate;
use crate::users::Subject;

/// One subscription policy's part in a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Policy key.
    pub policy: String,
    /// Grant or guardrail.
    pub merge: Merge,
    /// Its condition on this source.
    pub condition: Condition,
    /// Whether the reader meets it.
    pub satisfied: bool,
}

/// May a reader read a data source, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Data source.
    pub source: String,
    /// Reader.
    pub reader: String,
    /// The verdict.
    pub allowed: bool,
    /// Every non-staged subscription policy reaching the source, in load order.
    pub reasons: Vec<Reason>,
    /// How the verdict follows from the reasons, in words.
    pub rule: String,
}

/// Who may read a source: the merged subscription condition and its parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Data source.
    pub source: String,
    /// (any grant) and (every guardrail); `Never` when no policy reaches it.
    pub condition: Condition,
    /// The policies merged, in load order: key, grant/guardrail, condition.
    pub parts: Vec<(String, Merge, Condition)>,
}

/// One case of a column's mask chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaskCase {
    /// The reader condition under which this case applies.
    pub when: Condition,
    /// Only rows satisfying this predicate (conditional masking); other rows
    /// fall through to the next case.
    pub rows: Option<SqlPredicate>,
    /// The mask.
    pub mask: Mask,
    /// The type the mask produces.
    pub output_type: ColumnType,
    /// The policy key it comes from.
    pub policy: String,
    /// Where the rule is written (none for veil's own `New`-column lock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<crate::Location>,
}

impl MaskCase {
    /// Which readers this case masks (rows aside): those meeting `when`, and for a
    /// reversible token, not its unmaskers. A reader it does not hold for goes on
    /// to the next case, so an exception in one policy never lifts another's mask.
    /// Dynamic views render this condition; [`ColumnPlan::chain_for`] evaluates it.
    ///
    /// ```
    /// use veil_policy::{ColumnType, Condition, Mask, MaskCase};
    /// let legal = Condition::InGroup { group: "Legal".into() };
    /// let token = MaskCase {
    ///     when: Condition::Always,
    ///     rows: None,
    ///     mask: Mask::Reversible { unmaskers: legal.clone() },
    ///     output_type: ColumnType::Text,
    ///     policy: "ssn-tokens".into(),
    ///     rule: None,
    /// };
    /// assert_eq!(token.applies(), Condition::not(legal));
    /// ```
    pub fn applies(&self) -> Condition {
        match &self.mask {
            Mask::Reversible { unmaskers } => {
                Condition::all(vec![self.when.clone(), Condition::not(unmaskers.clone())])
            }
            _ => self.when.clone(),
        }
    }
}

/// A column in a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnPlan {
    /// Column name.
    pub name: String,
    /// Type in the source.
    pub input_type: ColumnType,
    /// Type in the secure view: the input type when every case keeps it,
    /// otherwise text (the generator casts every branch to text).
    pub output_type: ColumnType,
    /// Ordered cases; the first whose `when` (and `rows`) holds applies;
    /// when none does, the value is shown as is. Sorted by protection, highest
    /// first, so the first match is never weaker than any policy asks.
    pub chain: Vec<MaskCase>,
}

impl ColumnPlan {
    /// The mask chain `subject` gets: the cases that [apply](MaskCase::applies) to
    /// the reader, in order, up to and including the first without a `rows`
    /// predicate (it catches every row left). Reader conditions inside the masks
    /// are folded, and a project-scoped hash for a reader acting under no project
    /// becomes NULL (what the dynamic view computes: the hash of a NULL scope).
    ///
    /// This is the one rule for a column's effective mask: [`Engine::plan_for`],
    /// explanations and the per-reader views use it; dynamic views render the
    /// same chain as `CASE WHEN <applies> [AND <rows>] THEN <mask> … ELSE <value>`.
    ///
    /// [`Engine::plan_for`]: crate::Engine::plan_for
    pub fn chain_for(&self, subject: &Subject) -> Vec<ReaderMask> {
        let mut chain = Vec::new();
        for case in &self.chain {
            if !case.applies().eval(subject) {
                continue;
            }
            let mut mask = case.mask.fold(subject);
            if matches!(mask, Mask::Hash { scope: HashScope::Project, .. }) && subject.project.is_none() {
                mask = Mask::Null;
            }
            let last = case.rows.is_none();
            chain.push(ReaderMask {
                rows: case.rows.clone(),
                mask,
                policy: case.policy.clone(),
                rule: case.rule.clone(),
            });
            if last {
                break;
            }
        }
        chain
    }
}

/// Which rows a row filter keeps.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RowPredicate {
    /// `column` is one of the reader's values for `attribute`.
    MatchAttribute {
        /// Row column.
        column: String,
        /// Reader attribute key.
        attribute: String,
        /// Reader values also reach values below them.
        hierarchical: bool,
    },
    /// `column` is one of `values` (a [`RowPredicate::MatchAttribute`]
    /// resolved for one reader).
    ValueIn {
        /// Row column.
        column: String,
        /// Allowed values.
        values: Vec<String>,
        /// Values also reach values below them.
        hierarchical: bool,
    },
    /// A validated SQL predicate.
    Sql {
        /// The predicate.
        predicate: SqlPredicate,
    },
    /// Event time within the last `seconds` (relative to the query's now).
    TimeWindow {
        /// Event-time column.
        column: String,
        /// Window length.
        seconds: u64,
    },
    /// Reproducible sample (veil-core `rows::in_sample`, key scoped to the source).
    Sample {
        /// Percent kept.
        percent: f64,
        /// Row-key columns.
        key: Vec<String>,
    },
    /// No rows (fail closed: a rule that cannot be applied hides everything).
    Nothing,
}

/// One row filter of a plan: readers meeting `applies_to` see only rows
/// satisfying `keep`. Filters AND together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowFilter {
    /// Whom the filter applies to.
    pub applies_to: Condition,
    /// Rows kept.
    pub keep: RowPredicate,
    /// Policy key.
    pub policy: String,
    /// Where the rule is written.
    pub rule: crate::Location,
}

/// Everything a bindings generator needs for one source and any reader.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// Data source.
    pub source: String,
    /// Who may read it at all.
    pub access: Access,
    /// Every column, in source order.
    pub columns: Vec<ColumnPlan>,
    /// Row filters (AND).
    pub row_filters: Vec<RowFilter>,
    /// Keys of the non-staged data policies reaching the source.
    pub data_policies: Vec<String>,
}

/// One step of a reader's mask chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReaderMask {
    /// Only rows satisfying this (conditional masking); other rows go on.
    pub rows: Option<SqlPredicate>,
    /// The mask (reader conditions inside it folded).
    pub mask: Mask,
    /// Policy key.
    pub policy: String,
    /// Where the rule is written (none for veil's own `New`-column lock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<crate::Location>,
}

/// A column for one reader.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReaderColumn {
    /// Column name.
    pub name: String,
    /// Type in the source.
    pub input_type: ColumnType,
    /// Type shown: the dynamic view's (the column plan's), for every reader.
    pub output_type: ColumnType,
    /// First applicable step wins; empty: shown as is.
    pub chain: Vec<ReaderMask>,
}

/// A plan with the reader's conditions folded away.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReaderPlan {
    /// Data source.
    pub source: String,
    /// Reader.
    pub reader: String,
    /// Project acted under.
    pub project: Option<String>,
    /// May the reader read the source? When not, `columns` is empty.
    pub allowed: bool,
    /// Visible columns.
    pub columns: Vec<ReaderColumn>,
    /// Row predicates (AND).
    pub row_filters: Vec<RowPredicate>,
}

/// What one reader gets from one source and why ([`crate::Engine::explanation`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// May the reader read the source, with every subscription policy's part.
    pub decision: Decision,
    /// The reader's plan (no columns when denied).
    pub plan: ReaderPlan,
}

/// Something suspicious that is not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Where (the policy, or the rule).
    pub location: crate::Location,
    /// What.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: warning: {}", self.location, self.message)
    }
}
