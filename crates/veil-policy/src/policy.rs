//! Policies as written (YAML) and as checked: subscription policies (who may
//! read a source) and data policies (masks and row rules).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use veil_core::rows::tag_matches;

use crate::catalog::{Column, DataSource};
use crate::dsl::{self, Expr};
use crate::error::{Error, Location, Result};
use crate::mask::{Literal, Mask, RawMask};
use crate::sql::{self, SqlPredicate};
use crate::yaml::{self, OneOrMany, Source as Text};

const HELP: &str = "a policy has `name`, `type: subscription|data`, optional `policyKey`, `staged`, `circumstances`, and `actions` (subscription) or `rules` (data); see docs/policies.md";

// ---------------------------------------------------------------- raw YAML

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    name: Spanned<String>,
    policy_key: Option<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    staged: bool,
    #[serde(default)]
    template: bool,
    #[serde(default)]
    description: Option<String>,
    actions: Option<RawActions>,
    circumstance_operator: Option<Operator>,
    circumstances: Option<Vec<RawCircumstance>>,
    rules: Option<Vec<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawActions {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    allow_discovery: Option<bool>,
    automatic_subscription: Option<bool>,
    entitlements: Option<Entitlements>,
    advanced: Option<Spanned<String>>,
    approvers: Option<RawApprovers>,
    users: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovers {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// How the items of a condition or of circumstances combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// At least one.
    #[default]
    Any,
    /// Every one.
    All,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    name: String,
    value: String,
}

/// Groups, attributes, purposes, users and/or an advanced DSL expression:
/// the entitlements of a subscription policy, and the "who" of a data rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entitlements {
    operator: Option<Operator>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    attributes: Vec<RawAttribute>,
    #[serde(default)]
    purposes: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    advanced: Option<Spanned<String>>,
}

/// The "who" of a data rule (same shape as entitlements).
pub(crate) type Who = Entitlements;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCircumstance {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    column_tag: Option<String>,
    tag: Option<String>,
    database: Option<String>,
    schema: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumns {
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    when: Spanned<Who>,
    mask: RawMask,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRule {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    columns: Option<RawColumns>,
    mask: Option<RawMask>,
    except_for: Option<Spanned<Who>>,
    only_for: Option<Spanned<Who>>,
    everyone_who: Option<Vec<RawCase>>,
    otherwise: Option<RawMask>,
    #[serde(rename = "where")]
    row_where: Option<Spanned<String>>,
    sql: Option<Spanned<String>>,
    attribute: Option<String>,
    column: Option<String>,
    hierarchical: Option<bool>,
    within: Option<Spanned<String>>,
    percent: Option<f64>,
    key: Option<OneOrMany<String>>,
}

// ---------------------------------------------------------------- checked model

/// Whether a subscription policy widens (grant) or narrows (guardrail) access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Merge {
    /// Grants on one source OR together.
    Grant,
    /// Guardrails on one source AND together (and with the grants).
    Guardrail,
}

/// Which data sources a policy reaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Circumstance {
    /// Sources with a table tag at or below `tag`.
    Tag {
        /// The tag.
        tag: String,
    },
    /// Sources with a column tagged at or below `tag`.
    ColumnTag {
        /// The tag.
        tag: String,
    },
    /// Every source.
    AllDataSources,
    /// Sources in a database (and schema, if given).
    Database {
        /// Database name.
        database: String,
        /// Schema name.
        schema: Option<String>,
    },
    /// One named source (a local policy).
    DataSource {
        /// Source name.
        name: String,
    },
}

impl Circumstance {
    /// Does this circumstance reach `source`?
    pub fn reaches(&self, source: &DataSource) -> bool {
        match self {
            Circumstance::Tag { tag } => source.tags.iter().any(|t| tag_matches(tag, t)),
            Circumstance::ColumnTag { tag } => {
                source.columns.iter().any(|c| c.tags.iter().any(|t| tag_matches(tag, t)))
            }
            Circumstance::AllDataSources => true,
            Circumstance::Database { database, schema } => {
                source.database.as_deref() == Some(database.as_str())
                    && schema.as_deref().is_none_or(|s| source.schema.as_deref() == Some(s))
            }
            Circumstance::DataSource { name } => source.name == *name,
        }
    }
}

/// Who a subscription policy lets in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Subscribers {
    /// Anyone.
    Anyone,
    /// Anyone who asked and was approved by one of these approvers.
    Approval {
        /// Approving users.
        users: Vec<String>,
        /// Members of these groups approve.
        groups: Vec<String>,
    },
    /// Individually selected users.
    Users {
        /// User names.
        names: Vec<String>,
    },
    /// Users with these entitlements (groups, attributes, DSL).
    Entitled {
        /// The entitlement expression.
        expr: Expr,
    },
}

/// A mask with the place it is written and its unmaskers (for `reversible`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlacedMask {
    /// The mask.
    pub mask: Mask,
    /// Who may unmask a `reversible` mask (compiled per source).
    pub unmaskers: Option<Expr>,
    /// Where it is written.
    pub location: Location,
}

/// Which columns a mask rule targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ColumnTarget {
    /// Columns tagged at or below any of these.
    pub tags: Vec<String>,
    /// Columns with these names (matched as [`crate::column_name_matches`] says).
    pub names: Vec<String>,
}

impl ColumnTarget {
    /// Does the rule target `column`? By name ignoring case, or by tag (exact,
    /// hierarchical).
    pub fn targets(&self, column: &Column) -> bool {
        self.names.iter().any(|n| crate::catalog::column_name_matches(n, &column.name))
            || self.tags.iter().any(|p| column.tags.iter().any(|t| tag_matches(p, t)))
    }
}

/// When a row rule applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Applies {
    /// To everyone.
    Everyone,
    /// To everyone except readers matching the expression.
    EveryoneExcept {
        /// The exception.
        expr: Expr,
    },
    /// Only to readers matching the expression.
    EveryoneWho {
        /// The readers.
        expr: Expr,
    },
}

/// What a row rule keeps.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RowRule {
    /// Rows whose `column` is one of the reader's `attribute` values.
    MatchAttribute {
        /// Reader attribute key.
        attribute: String,
        /// Row column.
        column: String,
        /// A reader value also reaches values below it.
        hierarchical: bool,
    },
    /// Rows satisfying a WHERE clause.
    Where {
        /// The clause.
        predicate: SqlPredicate,
    },
    /// Rows whose event time lies in the last `seconds`.
    TimeWindow {
        /// Event-time column.
        column: String,
        /// Window length in seconds.
        seconds: u64,
    },
    /// A fixed, reproducible `percent` sample keyed by `key` columns.
    Sample {
        /// Percent of rows kept (0–100).
        percent: f64,
        /// Row-key columns.
        key: Vec<String>,
    },
}

/// One rule of a data policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DataRule {
    /// A masking rule: first matching case wins within the rule; `None` means
    /// shown as is.
    Mask {
        /// Target columns.
        columns: ColumnTarget,
        /// `(who, mask)` in order; `None` shows the value (an exception).
        cases: Vec<(Expr, Option<PlacedMask>)>,
        /// For everyone else; `None` shows the value.
        otherwise: Option<PlacedMask>,
        /// Mask only rows satisfying this predicate (conditional masking).
        rows: Option<SqlPredicate>,
        /// Where the rule is written.
        location: Location,
    },
    /// A row rule.
    Rows {
        /// What rows it keeps.
        rule: RowRule,
        /// Whom it applies to.
        applies: Applies,
        /// Where the rule is written.
        location: Location,
    },
}

/// What a policy does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PolicyBody {
    /// A subscription policy.
    Subscription {
        /// Grant or guardrail.
        merge: Merge,
        /// Who it lets in.
        subscribers: Subscribers,
    },
    /// A data policy.
    Data {
        /// Its rules, in order.
        rules: Vec<DataRule>,
    },
}

/// One checked policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Policy {
    /// Display name.
    pub name: String,
    /// Stable key (defaults to the name); unique in a policy set.
    pub key: String,
    /// Staged policies are checked but never apply.
    pub staged: bool,
    /// How circumstances combine.
    pub circumstance_operator: Operator,
    /// Which sources it reaches; empty means all.
    pub circumstances: Vec<Circumstance>,
    /// What it does.
    pub body: PolicyBody,
    /// Where it is written (its `name`).
    pub location: Location,
}

/// A custom mask ([`Mask::Component`]) as a policy names it.
#[derive(Clone, Copy, Debug)]
pub struct ComponentUse<'a> {
    /// The policy's key.
    pub policy: &'a str,
    /// The component file (joined to the policy file's folder).
    pub component: &'a Path,
    /// The export called.
    pub function: &'a str,
    /// The parameters after the value, in the order written.
    pub params: &'a [(String, Literal)],
    /// The prefix of its SQL functions ([`crate::component_prefix`]).
    pub prefix: &'a str,
    /// Where the mask is written.
    pub location: &'a Location,
}

/// Every custom mask `policies` name (staged ones too: `veil check` checks
/// them), in load order.
pub fn component_masks(policies: &[Policy]) -> Vec<ComponentUse<'_>> {
    let mut out = Vec::new();
    for policy in policies {
        let PolicyBody::Data { rules } = &policy.body else { continue };
        for rule in rules {
            let DataRule::Mask { cases, otherwise, .. } = rule else { continue };
            for placed in cases.iter().filter_map(|(_, m)| m.as_ref()).chain(otherwise) {
                if let Mask::Component { component, function, params, prefix } = &placed.mask {
                    out.push(ComponentUse {
                        policy: &policy.key,
                        component,
                        function,
                        params,
                        prefix,
                        location: &placed.location,
                    });
                }
            }
        }
    }
    out
}

/// Check every custom mask of `policies` with `check`, which says what is wrong
/// with one (`(message, help)`), e.g. that its file is not a `veil:mask`
/// component; each failure is an error at the mask's file:line:column.
///
/// # Errors
/// [`Error::Invalid`] (or [`Error::Many`]) for each mask `check` refuses.
pub fn check_components(
    policies: &[Policy],
    mut check: impl FnMut(&ComponentUse<'_>) -> std::result::Result<(), (String, String)>,
) -> Result<()> {
    let errors = component_masks(policies)
        .iter()
        .filter_map(|used| {
            check(used).err().map(|(message, help)| Error::invalid(used.location.clone(), message, help))
        })
        .collect();
    Error::collect(errors)
}

/// Two components whose exports would get the same SQL names: each clash in
/// the policies from index `new` on.
fn prefix_clashes(policies: &[Policy], new: usize) -> Vec<Error> {
    let added: Vec<&str> = policies.iter().skip(new).map(|p| p.key.as_str()).collect();
    let uses = component_masks(policies);
    let mut errors = Vec::new();
    for (i, used) in uses.iter().enumerate() {
        if !added.contains(&used.policy) {
            continue;
        }
        let clash = uses.iter().take(i).find(|u| u.prefix == used.prefix && u.component != used.component);
        if let Some(first) = clash {
            errors.push(Error::invalid(
                used.location.clone(),
                format!(
                    "component `{}` would register its functions as `{}_*`, as component `{}` at {} does",
                    used.component.display(),
                    used.prefix,
                    first.component.display(),
                    first.location
                ),
                "the prefix is the file's name: rename one of the files, or name the same file in both",
            ));
        }
    }
    errors
}

impl Policy {
    /// Does the policy reach `source` (ignoring `staged`)?
    pub fn reaches(&self, source: &DataSource) -> bool {
        if self.circumstances.is_empty() {
            return true;
        }
        match self.circumstance_operator {
            Operator::Any => self.circumstances.iter().any(|c| c.reaches(source)),
            Operator::All => self.circumstances.iter().all(|c| c.reaches(source)),
        }
    }
}

// ---------------------------------------------------------------- checking

impl Entitlements {
    /// The expression these entitlements mean; `at` locates errors.
    fn to_expr(&self, text: &Text<'_>, at: &Location) -> Result<Expr> {
        let mut items = Vec::new();
        let all = self.operator == Some(Operator::All);
        if !self.groups.is_empty() {
            if all {
                items.extend(self.groups.iter().map(|g| Expr::InGroups { groups: vec![g.clone()] }));
            } else {
                items.push(Expr::InGroups { groups: self.groups.clone() });
            }
        }
        items.extend(
            self.attributes.iter().map(|a| Expr::HasAttribute { key: a.name.clone(), values: vec![a.value.clone()] }),
        );
        if !self.purposes.is_empty() {
            items.push(Expr::ActingUnder { purposes: self.purposes.clone() });
        }
        if !self.users.is_empty() {
            items.push(Expr::IsUser { names: self.users.clone() });
        }
        let listed = match (items.len(), all) {
            (0, _) => None,
            (1, _) => items.pop(),
            (_, true) => Some(Expr::And { of: items }),
            (_, false) => Some(Expr::Or { of: items }),
        };
        let advanced = match &self.advanced {
            None => None,
            Some(text_value) => Some(
                dsl::parse(&text_value.value)
                    .map_err(|e| Error::invalid(text.inside(text_value, e.offset), e.message, e.help))?,
            ),
        };
        match (listed, advanced) {
            (Some(l), Some(a)) => Ok(Expr::And { of: vec![l, a] }),
            (Some(e), None) | (None, Some(e)) => Ok(e),
            (None, None) => Err(Error::invalid(
                at.clone(),
                "this condition names no one",
                "list `groups`, `attributes`, `purposes`, `users`, or write `advanced`",
            )),
        }
    }
}

fn where_clause(text: &Text<'_>, clause: &Spanned<String>) -> Result<SqlPredicate> {
    sql::parse_predicate(&clause.value).map_err(|e| {
        Error::invalid(
            text.inside(clause, e.offset),
            format!("invalid WHERE clause: {}", e.message),
            "write one boolean expression over the source's own columns, e.g. `passenger_count < 2`",
        )
    })
}

fn parse_within(text: &Text<'_>, within: &Spanned<String>) -> Result<u64> {
    let s = within.value.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit_seconds = match unit.trim() {
        "s" | "second" | "seconds" => 1,
        "m" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if unit_seconds > 0 && n > 0 => Ok(n.saturating_mul(unit_seconds)),
        _ => Err(Error::invalid(
            text.at(within),
            format!("`{s}` is not a time window"),
            "write a positive number and a unit: `90m`, `12h`, `30d`, `2w`",
        )),
    }
}

fn circumstance(text: &Text<'_>, raw: &RawCircumstance) -> Result<Circumstance> {
    let at = text.at(&raw.kind);
    let need = |v: &Option<String>, field: &str| {
        v.clone().ok_or_else(|| {
            Error::invalid(
                at.clone(),
                format!("circumstance `{}` needs `{field}`", raw.kind.value),
                format!("e.g. `{{type: {}, {field}: …}}`", raw.kind.value),
            )
        })
    };
    match raw.kind.value.as_str() {
        "columnTags" => Ok(Circumstance::ColumnTag { tag: need(&raw.column_tag, "columnTag")? }),
        "tags" | "dataSourceTags" => Ok(Circumstance::Tag { tag: need(&raw.tag, "tag")? }),
        "allDataSources" => Ok(Circumstance::AllDataSources),
        "database" => {
            Ok(Circumstance::Database { database: need(&raw.database, "database")?, schema: raw.schema.clone() })
        }
        "dataSource" => Ok(Circumstance::DataSource { name: need(&raw.name, "name")? }),
        other => Err(Error::invalid(
            at,
            format!("unknown circumstance type `{other}`"),
            "use one of: columnTags, tags, allDataSources, database, dataSource",
        )),
    }
}

fn placed(text: &Text<'_>, raw: &RawMask) -> Result<PlacedMask> {
    let (mask, unmaskers) = raw.build(text)?;
    let location = raw.location(text);
    let unmaskers = match unmaskers {
        Some(who) => Some(who.to_expr(text, &location)?),
        None => None,
    };
    Ok(PlacedMask { mask, unmaskers, location })
}

fn rule(text: &Text<'_>, raw: RawRule) -> Result<DataRule> {
    let at = text.at(&raw.kind);
    let kind = raw.kind.value.as_str();
    let refuse = |field: &str, why: &str| {
        Error::invalid(at.clone(), format!("a `{kind}` rule has no `{field}`"), why.to_string())
    };
    if kind == "mask" {
        for (field, here) in [
            ("onlyFor", raw.only_for.is_some()),
            ("sql", raw.sql.is_some()),
            ("attribute", raw.attribute.is_some()),
            ("column", raw.column.is_some()),
            ("hierarchical", raw.hierarchical.is_some()),
            ("within", raw.within.is_some()),
            ("percent", raw.percent.is_some()),
            ("key", raw.key.is_some()),
        ] {
            if here {
                return Err(refuse(
                    field,
                    "a mask rule has `columns`, then `mask` (+ `exceptFor`) or `everyoneWho` + `otherwise`, and an optional `where`",
                ));
            }
        }
        let columns = raw.columns.ok_or_else(|| {
            Error::invalid(
                at.clone(),
                "a mask rule needs `columns`",
                "e.g. `columns: {tags: [PII]}` or `columns: {names: [email]}`",
            )
        })?;
        if columns.tags.is_empty() && columns.names.is_empty() {
            return Err(Error::invalid(at, "`columns` names no column", "list `tags` and/or `names`"));
        }
        let rows = match &raw.row_where {
            Some(w) => Some(where_clause(text, w)?),
            None => None,
        };
        let (cases, otherwise) = match (raw.mask, raw.everyone_who, raw.otherwise) {
            (Some(mask), None, None) => {
                let cases = match &raw.except_for {
                    Some(who) => vec![(who.value.to_expr(text, &text.at(who))?, None)],
                    None => Vec::new(),
                };
                (cases, Some(placed(text, &mask)?))
            }
            (None, Some(list), Some(otherwise)) => {
                if raw.except_for.is_some() {
                    return Err(refuse("exceptFor", "with `everyoneWho`, exceptions are cases; list them in order"));
                }
                if list.is_empty() {
                    return Err(Error::invalid(
                        at,
                        "`everyoneWho` is empty",
                        "list at least one `{when: …, mask: …}` case",
                    ));
                }
                let mut cases = Vec::new();
                for case in list {
                    let who = case.when.value.to_expr(text, &text.at(&case.when))?;
                    cases.push((who, Some(placed(text, &case.mask)?)));
                }
                (cases, Some(placed(text, &otherwise)?))
            }
            (None, Some(_), None) => {
                return Err(Error::invalid(
                    at,
                    "`everyoneWho` needs an `otherwise` mask",
                    "add `otherwise: {type: …}` for everyone the cases do not name",
                ))
            }
            _ => {
                return Err(Error::invalid(
                    at,
                    "a mask rule needs either `mask` or `everyoneWho` with `otherwise`",
                    "e.g. `mask: {type: hash}` with optional `exceptFor: {groups: [Admins]}`",
                ))
            }
        };
        return Ok(DataRule::Mask {
            columns: ColumnTarget { tags: columns.tags, names: columns.names },
            cases,
            otherwise,
            rows,
            location: at,
        });
    }
    for (field, here) in [
        ("columns", raw.columns.is_some()),
        ("mask", raw.mask.is_some()),
        ("everyoneWho", raw.everyone_who.is_some()),
        ("otherwise", raw.otherwise.is_some()),
        ("where", raw.row_where.is_some()),
    ] {
        if here {
            return Err(refuse(
                field,
                "row rules are `matchAttribute`, `where` (with `sql`), `timeWindow` and `sample`",
            ));
        }
    }
    let applies = match (&raw.except_for, &raw.only_for) {
        (None, None) => Applies::Everyone,
        (Some(w), None) => Applies::EveryoneExcept { expr: w.value.to_expr(text, &text.at(w))? },
        (None, Some(w)) => Applies::EveryoneWho { expr: w.value.to_expr(text, &text.at(w))? },
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                at,
                "a rule has both `exceptFor` and `onlyFor`",
                "keep one; write the combination with `advanced`",
            ))
        }
    };
    let need = |v: Option<String>, field: &str| {
        v.ok_or_else(|| {
            Error::invalid(
                at.clone(),
                format!("a `{kind}` rule needs `{field}`"),
                "see the row rules in docs/policies.md",
            )
        })
    };
    let row_rule = match kind {
        "matchAttribute" => RowRule::MatchAttribute {
            attribute: need(raw.attribute, "attribute")?,
            column: need(raw.column, "column")?,
            hierarchical: raw.hierarchical.unwrap_or(false),
        },
        "where" => {
            let clause = raw.sql.as_ref().ok_or_else(|| {
                Error::invalid(at.clone(), "a `where` rule needs `sql`", "e.g. `sql: \"passenger_count < 2\"`")
            })?;
            RowRule::Where { predicate: where_clause(text, clause)? }
        }
        "timeWindow" => {
            let within = raw.within.as_ref().ok_or_else(|| {
                Error::invalid(at.clone(), "a `timeWindow` rule needs `within`", "e.g. `within: 30d`")
            })?;
            RowRule::TimeWindow { column: need(raw.column, "column")?, seconds: parse_within(text, within)? }
        }
        "sample" => {
            let percent = raw
                .percent
                .ok_or_else(|| Error::invalid(at.clone(), "a `sample` rule needs `percent`", "e.g. `percent: 10`"))?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(Error::invalid(
                    at,
                    format!("sample percent must be between 0 and 100, got `{percent}`"),
                    "e.g. `percent: 10`",
                ));
            }
            let key = raw.key.map(OneOrMany::into_vec).unwrap_or_default();
            if key.is_empty() {
                return Err(Error::invalid(
                    at,
                    "a `sample` rule needs `key` (the row-key columns)",
                    "the key makes the sample reproducible: e.g. `key: [order_id]`",
                ));
            }
            RowRule::Sample { percent, key }
        }
        other => {
            return Err(Error::invalid(
                at,
                format!("unknown rule type `{other}`"),
                "use one of: mask, matchAttribute, where, timeWindow, sample",
            ))
        }
    };
    Ok(DataRule::Rows { rule: row_rule, applies, location: at })
}

fn policy(text: &Text<'_>, raw: RawPolicy) -> Result<Policy> {
    let location = text.at(&raw.name);
    let kind_at = text.at(&raw.kind);
    let circumstances =
        raw.circumstances.unwrap_or_default().iter().map(|c| circumstance(text, c)).collect::<Result<Vec<_>>>()?;
    let body = match raw.kind.value.as_str() {
        "subscription" => {
            if raw.rules.is_some() {
                return Err(Error::invalid(
                    kind_at,
                    "a subscription policy has no `rules`",
                    "masks and row rules belong in a `type: data` policy",
                ));
            }
            let actions = raw.actions.ok_or_else(|| {
                Error::invalid(
                    kind_at.clone(),
                    "a subscription policy needs `actions`",
                    "e.g. `actions: {type: grant, entitlements: {groups: [Analysts]}}`",
                )
            })?;
            let _ = (actions.allow_discovery, actions.automatic_subscription);
            let at = text.at(&actions.kind);
            let entitled = |actions: &RawActions| -> Result<Expr> {
                match (&actions.entitlements, &actions.advanced) {
                    (Some(e), adv) => {
                        let mut e = e.clone();
                        if adv.is_some() && e.advanced.is_none() {
                            e.advanced.clone_from(adv);
                        }
                        e.to_expr(text, &at)
                    }
                    (None, Some(_)) => Entitlements { advanced: actions.advanced.clone(), ..Entitlements::default() }
                        .to_expr(text, &at),
                    (None, None) => Err(Error::invalid(
                        at.clone(),
                        format!("a `{}` subscription needs `entitlements` or `advanced`", actions.kind.value),
                        "e.g. `entitlements: {operator: all, groups: [Employees]}`",
                    )),
                }
            };
            let (merge, subscribers) = match actions.kind.value.as_str() {
                "anyone" => (Merge::Grant, Subscribers::Anyone),
                "approval" => {
                    let a = actions.approvers.unwrap_or_default();
                    if a.users.is_empty() && a.groups.is_empty() {
                        return Err(Error::invalid(
                            at,
                            "an `approval` subscription needs `approvers`",
                            "e.g. `approvers: {users: [dana], groups: [Data Owners]}`",
                        ));
                    }
                    (Merge::Grant, Subscribers::Approval { users: a.users, groups: a.groups })
                }
                "users" => {
                    let names = actions.users.clone().unwrap_or_default();
                    if names.is_empty() {
                        return Err(Error::invalid(
                            at,
                            "a `users` subscription needs `users`",
                            "e.g. `users: [bob, steve]`",
                        ));
                    }
                    (Merge::Grant, Subscribers::Users { names })
                }
                "grant" | "entitlements" => (Merge::Grant, Subscribers::Entitled { expr: entitled(&actions)? }),
                "guardrail" => (Merge::Guardrail, Subscribers::Entitled { expr: entitled(&actions)? }),
                other => {
                    return Err(Error::invalid(
                        at,
                        format!("unknown subscription type `{other}`"),
                        "use one of: anyone, approval, users, grant, entitlements, guardrail",
                    ))
                }
            };
            PolicyBody::Subscription { merge, subscribers }
        }
        "data" => {
            if raw.actions.is_some() {
                return Err(Error::invalid(
                    kind_at,
                    "a data policy has no `actions`",
                    "write its masks and row rules under `rules`",
                ));
            }
            let rules = raw.rules.ok_or_else(|| {
                Error::invalid(
                    kind_at.clone(),
                    "a data policy needs `rules`",
                    "e.g. `rules: [{type: mask, columns: {tags: [PII]}, mask: {type: hash}}]`",
                )
            })?;
            PolicyBody::Data { rules: rules.into_iter().map(|r| rule(text, r)).collect::<Result<Vec<_>>>()? }
        }
        other => {
            return Err(Error::invalid(
                kind_at,
                format!("unknown policy type `{other}`"),
                "use `subscription` or `data`",
            ))
        }
    };
    let _ = (raw.template, raw.description);
    Ok(Policy {
        key: raw.policy_key.unwrap_or_else(|| raw.name.value.clone()),
        name: raw.name.value,
        staged: raw.staged,
        circumstance_operator: raw.circumstance_operator.unwrap_or_default(),
        circumstances,
        body,
        location,
    })
}

/// Checked policies, in load order (files sorted by path, then documents).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicySet {
    policies: Vec<Policy>,
}

impl PolicySet {
    /// Parse and check the policies in one text (one or many YAML documents).
    ///
    /// ```
    /// let set = veil_policy::PolicySet::from_yaml_str(r#"
    /// name: Analysts
    /// type: subscription
    /// actions: {type: grant, entitlements: {groups: [Analysts]}}
    /// circumstances: [{type: tags, tag: Finance}]
    /// "#, "policies.yaml").unwrap();
    /// assert_eq!(set.policies()[0].key, "Analysts");
    /// ```
    ///
    /// # Errors
    /// [`Error::Yaml`] or [`Error::Invalid`] with file:line:column; several at
    /// once as [`Error::Many`]; a repeated `policyKey` is an error.
    pub fn from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        let mut set = PolicySet::default();
        set.add_yaml_str(text, path)?;
        Ok(set)
    }

    /// Add the policies of another text.
    ///
    /// # Errors
    /// As [`PolicySet::from_yaml_str`].
    pub fn add_yaml_str(&mut self, text: &str, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let input = Text { path, text };
        let raws: Vec<RawPolicy> = yaml::documents(path, text, HELP)?;
        let mut errors = Vec::new();
        let before = self.policies.len();
        for raw in raws {
            match policy(&input, raw) {
                Ok(p) => {
                    if let Some(first) = self.policies.iter().find(|q| q.key == p.key) {
                        errors.push(Error::invalid(
                            p.location.clone(),
                            format!("policy key `{}` is already used at {}", p.key, first.location),
                            "give each policy a unique `policyKey`",
                        ));
                    } else {
                        self.policies.push(p);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            errors = prefix_clashes(&self.policies, before);
        }
        Error::collect(errors)
    }

    /// Load a policy file, or every YAML file below a folder.
    ///
    /// # Errors
    /// As [`PolicySet::from_yaml_str`], plus [`Error::Io`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let mut set = PolicySet::default();
        let mut errors = Vec::new();
        for (p, text) in yaml::read_files(path.as_ref())? {
            if let Err(e) = set.add_yaml_str(&text, &p) {
                match e {
                    Error::Many(many) => errors.extend(many),
                    e => errors.push(e),
                }
            }
        }
        Error::collect(errors)?;
        Ok(set)
    }

    /// Build a set from already checked policies (e.g. generated ones).
    ///
    /// # Errors
    /// [`Error::Invalid`] when two policies share a key.
    pub fn from_policies(policies: Vec<Policy>) -> Result<Self> {
        let mut set = PolicySet::default();
        for p in policies {
            if set.policies.iter().any(|q| q.key == p.key) {
                return Err(Error::invalid(
                    p.location.clone(),
                    format!("policy key `{}` is used twice", p.key),
                    "give each policy a unique key",
                ));
            }
            set.policies.push(p);
        }
        Ok(set)
    }

    /// The policies, in load order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }
}
