//! The engine: policies + users + catalog -> decisions, plans, explanations.

use std::collections::{BTreeSet, HashMap};

use veil_core::rows::tag_matches;

use crate::catalog::{Catalog, ColumnType, DataSource};
use crate::condition::Condition;
use crate::error::{Error, Result};
use crate::mask::Mask;
use crate::plan::{
    Access, ColumnPlan, Decision, Explanation, MaskCase, Plan, ReaderColumn, ReaderPlan, Reason, RowFilter,
    RowPredicate, Warning,
};
use crate::policy::{Applies, DataRule, Merge, Policy, PolicyBody, PolicySet, RowRule, Subscribers};
use crate::sql::SqlPredicate;
use crate::users::{Directory, Subject};

/// The tag that schema monitoring puts on new columns: locked (NULL for
/// everyone) until someone tags them properly.
pub const NEW_COLUMN_TAG: &str = "New";

/// The pseudo policy key of the new-column lockdown.
pub const NEW_COLUMN_POLICY: &str = "veil:new-column-lockdown";

/// Policies indexed by what they name, so finding the policies that reach a
/// source costs a look-up per tag level, not a pass over every policy.
#[derive(Debug, Default)]
struct Index {
    table_tags: HashMap<String, Vec<usize>>,
    column_tags: HashMap<String, Vec<usize>>,
    sources: HashMap<String, Vec<usize>>,
    /// Policies reaching all sources, or reaching by database (checked directly).
    everywhere: Vec<usize>,
}

impl Index {
    fn build(policies: &[Policy]) -> Self {
        let mut index = Index::default();
        for (i, p) in policies.iter().enumerate() {
            if p.staged {
                continue;
            }
            if p.circumstances.is_empty() {
                index.everywhere.push(i);
                continue;
            }
            for c in &p.circumstances {
                use crate::policy::Circumstance as C;
                match c {
                    C::Tag { tag } => index.table_tags.entry(tag.clone()).or_default().push(i),
                    C::ColumnTag { tag } => index.column_tags.entry(tag.clone()).or_default().push(i),
                    C::DataSource { name } => index.sources.entry(name.clone()).or_default().push(i),
                    C::AllDataSources | C::Database { .. } => index.everywhere.push(i),
                }
            }
        }
        index
    }

    /// Candidate policies for a source (a superset; callers verify).
    fn candidates(&self, source: &DataSource, out: &mut Vec<usize>) {
        out.extend_from_slice(&self.everywhere);
        if let Some(v) = self.sources.get(&source.name) {
            out.extend_from_slice(v);
        }
        // A policy tag reaches a data tag when it equals it or one of its
        // ancestors: look up every ancestor of every data tag.
        let lookup = |map: &HashMap<String, Vec<usize>>, tag: &str, out: &mut Vec<usize>| {
            for (i, c) in tag.char_indices() {
                if c == veil_core::rows::TAG_SEPARATOR {
                    if let Some(v) = tag.get(..i).and_then(|p| map.get(p)) {
                        out.extend_from_slice(v);
                    }
                }
            }
            if let Some(v) = map.get(tag) {
                out.extend_from_slice(v);
            }
        };
        if !self.table_tags.is_empty() {
            for t in &source.tags {
                lookup(&self.table_tags, t, out);
            }
        }
        if !self.column_tags.is_empty() {
            for t in source.columns.iter().flat_map(|c| c.tags.iter()) {
                lookup(&self.column_tags, t, out);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Decisions, plans and explanations over one set of policies, users and data.
#[derive(Debug)]
pub struct Engine {
    policies: PolicySet,
    directory: Directory,
    catalog: Catalog,
    index: Index,
    warnings: Vec<Warning>,
}

struct Built {
    plan: Plan,
    errors: Vec<Error>,
    warnings: Vec<Warning>,
}

impl Engine {
    /// Check everything against everything and build the indexes.
    ///
    /// Fails on masks that do not fit their columns (with the mask's
    /// file:line:column) and on time windows over non-temporal columns.
    /// Collects warnings for policies that reach nothing, groups that no user
    /// has, and rules naming columns a source lacks (those fail closed).
    ///
    /// # Errors
    /// [`Error::Invalid`] or [`Error::Many`].
    pub fn new(policies: PolicySet, directory: Directory, catalog: Catalog) -> Result<Self> {
        let index = Index::build(policies.policies());
        let mut engine = Engine { policies, directory, catalog, index, warnings: Vec::new() };
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut reached = vec![false; engine.policies.policies().len()];
        let mut seen_errors = BTreeSet::new();
        for source in engine.catalog.sources() {
            for i in engine.reaching(source) {
                if let Some(r) = reached.get_mut(i) {
                    *r = true;
                }
            }
            let built = engine.build_plan(source);
            for e in built.errors {
                // One mask on many sources: report each distinct message once.
                if seen_errors.insert(e.to_string()) {
                    errors.push(e);
                }
            }
            warnings.extend(built.warnings);
        }
        for (p, reached) in engine.policies.policies().iter().zip(&reached) {
            if !reached && !p.staged {
                warnings.push(Warning {
                    location: p.location.clone(),
                    message: format!("policy `{}` reaches no data source in the catalog", p.key),
                });
            }
        }
        // Staged policies too: a name no one has is worth saying before they go live.
        warnings.extend(crate::lint::lint(engine.policies.policies(), &engine.catalog, &engine.directory));
        Error::collect(errors)?;
        warnings.sort_by(|a, b| (&a.location, &a.message).cmp(&(&b.location, &b.message)));
        warnings.dedup();
        engine.warnings = warnings;
        Ok(engine)
    }

    /// Warnings found by [`Engine::new`].
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The users.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The data sources.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The policies.
    pub fn policies(&self) -> &[Policy] {
        self.policies.policies()
    }

    fn source(&self, name: &str) -> Result<&DataSource> {
        self.catalog.source(name).ok_or_else(|| Error::UnknownSource(name.to_string()))
    }

    /// Indexes (load order) of the non-staged policies reaching `source`.
    pub fn reaching(&self, source: &DataSource) -> Vec<usize> {
        let mut candidates = Vec::new();
        self.index.candidates(source, &mut candidates);
        candidates.retain(|&i| self.policies.policies().get(i).is_some_and(|p| !p.staged && p.reaches(source)));
        candidates
    }

    /// Who may read `source`: grants OR together, guardrails AND together,
    /// and the result is (any grant) AND (every guardrail); guardrails alone
    /// AND together; no policy at all means no one (fail closed).
    ///
    /// # Errors
    /// [`Error::UnknownSource`].
    pub fn access(&self, source: &str) -> Result<Access> {
        let src = self.source(source)?;
        Ok(self.access_to(src))
    }

    pub(crate) fn access_to(&self, src: &DataSource) -> Access {
        let mut parts = Vec::new();
        for i in self.reaching(src) {
            let Some(p) = self.policies.policies().get(i) else {
                continue;
            };
            let PolicyBody::Subscription { merge, subscribers } = &p.body else {
                continue;
            };
            let condition = match subscribers {
                Subscribers::Anyone => Condition::Always,
                Subscribers::Approval { users, groups } => {
                    Condition::Approved { source: src.name.clone(), users: users.clone(), groups: groups.clone() }
                }
                Subscribers::Users { names } => {
                    Condition::any(names.iter().map(|n| Condition::User { name: n.clone() }).collect())
                }
                Subscribers::Entitled { expr } => expr.to_condition(src),
            };
            parts.push((p.key.clone(), *merge, condition));
        }
        let condition = if parts.is_empty() {
            Condition::Never
        } else {
            let grants: Vec<Condition> =
                parts.iter().filter(|(_, m, _)| *m == Merge::Grant).map(|(_, _, c)| c.clone()).collect();
            let mut all: Vec<Condition> =
                parts.iter().filter(|(_, m, _)| *m == Merge::Guardrail).map(|(_, _, c)| c.clone()).collect();
            if !grants.is_empty() {
                all.insert(0, Condition::any(grants));
            }
            Condition::all(all)
        };
        Access { source: src.name.clone(), condition, parts }
    }

    /// May `subject` read `source`? With the reasons.
    ///
    /// ```
    /// use veil_policy::{Catalog, Directory, Engine, PolicySet};
    /// let policies = PolicySet::from_yaml_str(r#"
    /// name: Access
    /// type: subscription
    /// actions: {type: entitlements, advanced: "@hasTagAsAttribute('Access', 'dataSource')"}
    /// "#, "p.yaml").unwrap();
    /// let users = Directory::from_yaml_str("users:\n  - {name: bob, attributes: {Access: Secret}}\n", "u.yaml").unwrap();
    /// let catalog = Catalog::from_yaml_str("sources:\n  - {name: a, tags: [Secret.HR]}\n  - {name: b, tags: [Public]}\n", "c.yaml").unwrap();
    /// let engine = Engine::new(policies, users, catalog).unwrap();
    /// let bob = engine.directory().subject("bob", None).unwrap();
    /// assert!(engine.decide(&bob, "a").unwrap().allowed);
    /// assert!(!engine.decide(&bob, "b").unwrap().allowed);
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownSource`] (treat as deny).
    pub fn decide(&self, subject: &Subject, source: &str) -> Result<Decision> {
        let access = self.access(source)?;
        Ok(decision_from(&access, subject))
    }

    /// The plan for `source`: every column's mask chain and the row filters,
    /// with reader conditions left for the bindings generator to render.
    ///
    /// # Errors
    /// [`Error::UnknownSource`]; errors [`Engine::new`] would have reported.
    pub fn plan(&self, source: &str) -> Result<Plan> {
        let src = self.source(source)?;
        let built = self.build_plan(src);
        Error::collect(built.errors)?;
        Ok(built.plan)
    }

    /// The plan specialised to one reader: conditions folded, attribute
    /// matches resolved to values. A reader who may not read the source gets
    /// `allowed: false` and no columns.
    ///
    /// # Errors
    /// As [`Engine::plan`].
    pub fn plan_for(&self, subject: &Subject, source: &str) -> Result<ReaderPlan> {
        let plan = self.plan(source)?;
        let allowed = plan.access.condition.eval(subject);
        let mut out = ReaderPlan {
            source: plan.source.clone(),
            reader: subject.name.clone(),
            project: subject.project.clone(),
            allowed,
            columns: Vec::new(),
            row_filters: Vec::new(),
        };
        if !allowed {
            return Ok(out);
        }
        for column in plan.columns {
            // The dynamic view's type, whatever this reader's chain: a per-reader view
            // has the same columns as the dynamic one.
            let chain = column.chain_for(subject);
            let (name, input_type, output_type) = (column.name, column.input_type, column.output_type);
            out.columns.push(ReaderColumn { name, input_type, output_type, chain });
        }
        for filter in plan.row_filters {
            if !filter.applies_to.eval(subject) {
                continue;
            }
            let keep = match filter.keep {
                RowPredicate::MatchAttribute { column, attribute, hierarchical } => {
                    match subject.attributes.get(&attribute) {
                        Some(values) if !values.is_empty() => {
                            RowPredicate::ValueIn { column, values: values.iter().cloned().collect(), hierarchical }
                        }
                        _ => RowPredicate::Nothing,
                    }
                }
                other => other,
            };
            out.row_filters.push(keep);
        }
        Ok(out)
    }

    fn build_plan(&self, src: &DataSource) -> Built {
        let access = self.access_to(src);
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut data_policies = Vec::new();
        let mut columns: Vec<ColumnPlan> = src
            .columns
            .iter()
            .map(|c| {
                let mut chain = Vec::new();
                if c.tags.iter().any(|t| tag_matches(NEW_COLUMN_TAG, t)) {
                    chain.push(MaskCase {
                        when: Condition::Always,
                        rows: None,
                        mask: Mask::Null,
                        output_type: c.column_type.clone(),
                        policy: NEW_COLUMN_POLICY.to_string(),
                        rule: None,
                    });
                }
                ColumnPlan {
                    name: c.name.clone(),
                    input_type: c.column_type.clone(),
                    output_type: c.column_type.clone(),
                    chain,
                }
            })
            .collect();
        let mut row_filters = Vec::new();
        let has_column = |name: &str| src.columns_named(name).next().is_some();
        for i in self.reaching(src) {
            let Some(p) = self.policies.policies().get(i) else {
                continue;
            };
            let PolicyBody::Data { rules } = &p.body else {
                continue;
            };
            data_policies.push(p.key.clone());
            for rule in rules {
                match rule {
                    DataRule::Mask { columns: target, cases, otherwise, rows, location } => {
                        let mut rows = rows.clone();
                        if let Some(pred) = &rows {
                            let mut own = OwnNames::new(src);
                            let resolved = own.predicate(pred);
                            if !own.ambiguous.is_empty() {
                                let ambiguous: Vec<String> = own
                                    .ambiguous
                                    .iter()
                                    .map(|(c, candidates)| format!("`{c}` (any of {})", candidates.join(", ")))
                                    .collect();
                                errors.push(Error::invalid(
                                    location.clone(),
                                    format!(
                                        "`where` of policy `{}` reads {} in `{}`",
                                        p.key,
                                        ambiguous.join(", "),
                                        src.name
                                    ),
                                    "write the column's name exactly as the source has it",
                                ));
                            }
                            rows = Some(resolved);
                        }
                        if let Some(pred) = &rows {
                            let missing: Vec<&String> = pred.columns.iter().filter(|c| !has_column(c)).collect();
                            if !missing.is_empty() {
                                warnings.push(Warning {
                                    location: location.clone(),
                                    message: format!(
                                        "`where` of policy `{}` reads {} missing from `{}`; the mask applies to every row there",
                                        p.key,
                                        list(&missing),
                                        src.name
                                    ),
                                });
                                rows = None;
                            }
                        }
                        for (column, plan) in src.columns.iter().zip(columns.iter_mut()) {
                            if !target.targets(column) {
                                continue;
                            }
                            let mut prior: Vec<Condition> = Vec::new();
                            let mut steps = Vec::new();
                            for (who, mask) in cases {
                                let c = who.to_condition(src);
                                let effective =
                                    Condition::all(vec![c.clone(), Condition::not(Condition::any(prior.clone()))]);
                                prior.push(c);
                                if let Some(m) = mask {
                                    steps.push((effective, m));
                                }
                            }
                            if let Some(m) = otherwise {
                                steps.push((Condition::not(Condition::any(prior)), m));
                            }
                            for (when, placed) in steps {
                                if when == Condition::Never {
                                    continue;
                                }
                                let mut mask = placed.mask.clone();
                                if let (Mask::Reversible { unmaskers }, Some(who)) = (&mut mask, &placed.unmaskers) {
                                    *unmaskers = who.to_condition(src);
                                }
                                match mask.output_type(&column.column_type) {
                                    Ok(output_type) => plan.chain.push(MaskCase {
                                        when,
                                        rows: rows.clone(),
                                        mask,
                                        output_type,
                                        policy: p.key.clone(),
                                        rule: Some(location.clone()),
                                    }),
                                    Err(why) => errors.push(Error::invalid(
                                        placed.location.clone(),
                                        format!(
                                            "policy `{}` puts a mask on `{}.{}` that does not fit: {why}",
                                            p.key, src.name, column.name
                                        ),
                                        fit_help(&column.column_type),
                                    )),
                                }
                            }
                        }
                    }
                    DataRule::Rows { rule, applies, location } => {
                        let applies_to = match applies {
                            Applies::Everyone => Condition::Always,
                            Applies::EveryoneExcept { expr } => Condition::not(expr.to_condition(src)),
                            Applies::EveryoneWho { expr } => expr.to_condition(src),
                        };
                        if applies_to == Condition::Never {
                            continue;
                        }
                        // Row-rule columns become the source's own names, as the engine stores them.
                        let mut own = OwnNames::new(src);
                        let keep = match rule {
                            RowRule::MatchAttribute { attribute, column, hierarchical } => {
                                RowPredicate::MatchAttribute {
                                    column: own.column(column),
                                    attribute: attribute.clone(),
                                    hierarchical: *hierarchical,
                                }
                            }
                            RowRule::Where { predicate } => RowPredicate::Sql { predicate: own.predicate(predicate) },
                            RowRule::TimeWindow { column, seconds } => {
                                RowPredicate::TimeWindow { column: own.column(column), seconds: *seconds }
                            }
                            RowRule::Sample { percent, key } => RowPredicate::Sample {
                                percent: *percent,
                                key: key.iter().map(|k| own.column(k)).collect(),
                            },
                        };
                        if let RowPredicate::TimeWindow { column, .. } = &keep {
                            if let Some(c) = src.column(column).filter(|c| !c.column_type.is_temporal()) {
                                errors.push(Error::invalid(
                                    location.clone(),
                                    format!(
                                        "policy `{}` uses `{}.{}` as event time, but it is `{}`",
                                        p.key, src.name, c.name, c.column_type
                                    ),
                                    "a time window needs a date or timestamp column",
                                ));
                            }
                        }
                        for (written, candidates) in &own.ambiguous {
                            errors.push(Error::invalid(
                                location.clone(),
                                format!(
                                    "row rule of policy `{}` reads `{written}`, which could be any of {} in `{}`",
                                    p.key,
                                    candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
                                    src.name
                                ),
                                "write the column's name exactly as the source has it",
                            ));
                        }
                        let missing: Vec<&String> = own.missing.iter().collect();
                        let keep = if missing.is_empty() {
                            keep
                        } else {
                            warnings.push(Warning {
                                location: location.clone(),
                                message: format!(
                                    "row rule of policy `{}` reads {} missing from `{}`; it hides every row there",
                                    p.key,
                                    list(&missing),
                                    src.name
                                ),
                            });
                            RowPredicate::Nothing
                        };
                        row_filters.push(RowFilter { applies_to, keep, policy: p.key.clone(), rule: location.clone() });
                    }
                }
            }
        }
        for column in &mut columns {
            // Strongest first; stable, so equal ranks keep load order.
            column.chain.sort_by_key(|c| std::cmp::Reverse(c.mask.protection()));
            column.output_type = output_type(&column.input_type, column.chain.iter().map(|c| &c.mask));
        }
        Built { plan: Plan { source: src.name.clone(), access, columns, row_filters, data_policies }, errors, warnings }
    }

    /// What `subject` gets from `source` and why: the decision with every
    /// subscription policy's part, and the reader's plan. Serialises to JSON;
    /// [`Engine::explain`] puts it in words.
    ///
    /// # Errors
    /// As [`Engine::plan`].
    pub fn explanation(&self, subject: &Subject, source: &str) -> Result<Explanation> {
        Ok(Explanation { decision: self.decide(subject, source)?, plan: self.plan_for(subject, source)? })
    }

    /// A readable account of what `subject` gets from `source`.
    ///
    /// # Errors
    /// As [`Engine::plan`].
    pub fn explain(&self, subject: &Subject, source: &str) -> Result<String> {
        Ok(crate::explain::render(subject, &self.explanation(subject, source)?))
    }
}

/// The decision for one reader given a source's [`Access`].
pub fn decision_from(access: &Access, subject: &Subject) -> Decision {
    let reasons: Vec<Reason> = access
        .parts
        .iter()
        .map(|(policy, merge, condition)| Reason {
            policy: policy.clone(),
            merge: *merge,
            condition: condition.clone(),
            satisfied: condition.eval(subject),
        })
        .collect();
    let allowed = access.condition.eval(subject);
    let grants = reasons.iter().filter(|r| r.merge == Merge::Grant).count();
    let guardrails = reasons.len() - grants;
    let rule = if reasons.is_empty() {
        "no subscription policy reaches this source, so no one may read it".to_string()
    } else {
        let mut parts = Vec::new();
        if grants > 0 {
            parts.push(format!("at least one of {grants} grant(s)"));
        }
        if guardrails > 0 {
            parts.push(format!("all {guardrails} guardrail(s)"));
        }
        format!("readable by whoever meets {}", parts.join(" and "))
    };
    Decision { source: access.source.clone(), reader: subject.name.clone(), allowed, reasons, rule }
}

fn output_type<'a>(input: &ColumnType, masks: impl Iterator<Item = &'a Mask>) -> ColumnType {
    let mut out = input.clone();
    for m in masks {
        if m.output_type(input).ok().as_ref() != Some(input) {
            out = ColumnType::Text;
        }
    }
    out
}

/// Column names a rule wrote, resolved to the source's own spelling (as the
/// engine stores them); names the source lacks, or that could be several of its
/// columns, are kept as written and recorded for the caller's message.
struct OwnNames<'a> {
    src: &'a DataSource,
    missing: Vec<String>,
    ambiguous: Vec<(String, Vec<String>)>,
}

impl<'a> OwnNames<'a> {
    fn new(src: &'a DataSource) -> Self {
        OwnNames { src, missing: Vec::new(), ambiguous: Vec::new() }
    }

    fn column(&mut self, written: &str) -> String {
        match self.src.resolve_column(written) {
            Ok(c) => c.name.clone(),
            Err(candidates) if candidates.is_empty() => {
                self.missing.push(written.to_owned());
                written.to_owned()
            }
            Err(candidates) => {
                self.ambiguous.push((written.to_owned(), candidates.into_iter().map(str::to_owned).collect()));
                written.to_owned()
            }
        }
    }

    fn predicate(&mut self, p: &SqlPredicate) -> SqlPredicate {
        let names: Vec<(String, String)> = p.columns.iter().map(|c| (c.clone(), self.column(c))).collect();
        p.with_columns(&|c| names.iter().find(|(w, _)| w == c).map_or_else(|| c.to_owned(), |(_, own)| own.clone()))
    }
}

fn list(names: &[&String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

fn fit_help(column: &ColumnType) -> String {
    if column.is_numeric() {
        "on numbers use null, constant (a number), hash, reversible or round".into()
    } else if column.is_temporal() {
        "on dates and timestamps use null, constant (ISO date), hash, reversible or trunc".into()
    } else if *column == ColumnType::Text {
        "on text use null, constant (a string), hash, regex, reveal, email, reversible or format_preserving".into()
    } else {
        "on this type use null, hash or reversible, or target columns more narrowly".into()
    }
}
