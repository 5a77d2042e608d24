//! Loud mistakes: names a policy uses that nothing in the catalog or the
//! directory has (tags, columns, attribute keys and values, groups, users,
//! purposes), each with the nearest known name, and tagged columns that a
//! policy set covers only in part.
//!
//! Tags match exactly (they are facts); a near miss (`pii.email` for
//! `PII.Email`, `PII.Emial`) is reported, never matched.

use std::collections::{BTreeMap, BTreeSet};

use veil_core::rows::{tag_matches, TAG_SEPARATOR};

use crate::catalog::{column_name_matches, Catalog};
use crate::dsl::Expr;
use crate::error::Location;
use crate::plan::Warning;
use crate::policy::{Applies, Circumstance, DataRule, Policy, PolicyBody, RowRule, Subscribers};
use crate::users::Directory;

/// Everything the data and the directory name.
struct Known {
    table_tags: BTreeSet<String>,
    column_tags: BTreeSet<String>,
    columns: BTreeSet<String>,
    groups: BTreeSet<String>,
    users: BTreeSet<String>,
    attributes: BTreeMap<String, BTreeSet<String>>,
    purposes: BTreeSet<String>,
}

/// A tag and every ancestor of it (`A.B.C`, `A.B`, `A`).
fn with_ancestors(tag: &str, out: &mut BTreeSet<String>) {
    for (i, c) in tag.char_indices() {
        if c == TAG_SEPARATOR {
            if let Some(prefix) = tag.get(..i) {
                out.insert(prefix.to_owned());
            }
        }
    }
    out.insert(tag.to_owned());
}

impl Known {
    fn new(catalog: &Catalog, directory: &Directory) -> Known {
        let mut known = Known {
            table_tags: BTreeSet::new(),
            column_tags: BTreeSet::new(),
            columns: BTreeSet::new(),
            groups: BTreeSet::new(),
            users: BTreeSet::new(),
            attributes: BTreeMap::new(),
            purposes: BTreeSet::new(),
        };
        for source in catalog.sources() {
            for t in &source.tags {
                with_ancestors(t, &mut known.table_tags);
            }
            for c in &source.columns {
                known.columns.insert(c.name.clone());
                for t in &c.tags {
                    with_ancestors(t, &mut known.column_tags);
                }
            }
        }
        // Tags `veil discover` or `veil monitor` may give a column later: a policy
        // may name them before any column has them (a misspelling still warns).
        for t in crate::framework::Framework::default_framework().discoverable_tags() {
            with_ancestors(&t, &mut known.column_tags);
        }
        for user in directory.users() {
            known.users.insert(user.name.clone());
            let Ok(subject) = directory.subject(&user.name, None) else { continue };
            known.groups.extend(subject.groups.iter().cloned());
            for (key, values) in &subject.attributes {
                known.attributes.entry(key.clone()).or_default().extend(values.iter().cloned());
            }
        }
        for (_, purposes) in directory.projects() {
            known.purposes.extend(purposes.iter().cloned());
        }
        known
    }
}

/// The known name nearest to `wanted`: equal ignoring case, else within a small
/// edit distance (Damerau–Levenshtein, ignoring case).
pub(crate) fn nearest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a String>) -> Option<&'a str> {
    let lower = wanted.to_lowercase();
    let limit = (wanted.chars().count() / 4).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        let d = if k.to_lowercase() == lower { 0 } else { strsim::damerau_levenshtein(&lower, &k.to_lowercase()) };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

fn suggestion(nearest: Option<&str>) -> String {
    nearest.map_or_else(String::new, |n| format!("; did you mean `{n}`?"))
}

struct Lint<'a> {
    known: &'a Known,
    out: Vec<Warning>,
}

impl Lint<'_> {
    fn warn(&mut self, location: &Location, message: String) {
        self.out.push(Warning { location: location.clone(), message });
    }

    fn expr(&mut self, policy: &str, location: &Location, expr: &Expr) {
        match expr {
            Expr::InGroups { groups } => self.groups(policy, location, groups),
            Expr::HasAttribute { key, values } => {
                if let Some(have) = self.known.attributes.get(key) {
                    for v in values.iter().filter(|v| !have.contains(*v)) {
                        let hint = suggestion(nearest(v, have));
                        self.warn(
                            location,
                            format!(
                                "policy `{policy}` names value `{v}` of attribute `{key}`, which no user has{hint}"
                            ),
                        );
                    }
                } else {
                    self.attribute_key(policy, location, key);
                }
            }
            Expr::TagAsAttribute { key, .. } => {
                if !self.known.attributes.contains_key(key) {
                    self.attribute_key(policy, location, key);
                }
            }
            Expr::TagAsGroup { .. } => {}
            Expr::ActingUnder { purposes } => {
                for p in purposes.iter().filter(|p| !self.known.purposes.contains(*p)) {
                    let hint = suggestion(nearest(p, &self.known.purposes));
                    self.warn(location, format!("policy `{policy}` names purpose `{p}`, which no project has{hint}"));
                }
            }
            Expr::IsUser { names } => self.users(policy, location, names),
            Expr::Not { of } => self.expr(policy, location, of),
            Expr::And { of } | Expr::Or { of } => {
                for e in of {
                    self.expr(policy, location, e);
                }
            }
        }
    }

    fn attribute_key(&mut self, policy: &str, location: &Location, key: &str) {
        let hint = suggestion(nearest(key, self.known.attributes.keys()));
        self.warn(location, format!("policy `{policy}` names attribute `{key}`, which no user has{hint}"));
    }

    fn groups(&mut self, policy: &str, location: &Location, groups: &[String]) {
        for g in groups.iter().filter(|g| !self.known.groups.contains(*g)) {
            let hint = suggestion(nearest(g, &self.known.groups));
            self.warn(location, format!("policy `{policy}` names group `{g}`, which no user is a member of{hint}"));
        }
    }

    fn users(&mut self, policy: &str, location: &Location, users: &[String]) {
        for u in users.iter().filter(|u| !self.known.users.contains(*u)) {
            let hint = suggestion(nearest(u, &self.known.users));
            self.warn(location, format!("policy `{policy}` names user `{u}`, who is not in the users file{hint}"));
        }
    }

    fn column_tag(&mut self, policy: &str, location: &Location, what: &str, tag: &str) {
        if !self.known.column_tags.contains(tag) {
            let hint = suggestion(nearest(tag, &self.known.column_tags));
            self.warn(
                location,
                format!("{what} of policy `{policy}` names column tag `{tag}`, which no column has{hint}"),
            );
        }
    }

    fn column(&mut self, policy: &str, location: &Location, what: &str, name: &str) {
        if !self.known.columns.iter().any(|c| column_name_matches(name, c)) {
            let hint = suggestion(nearest(name, &self.known.columns));
            self.warn(
                location,
                format!("{what} of policy `{policy}` names column `{name}`, which no data source has{hint}"),
            );
        }
    }

    fn policy(&mut self, p: &Policy, catalog: &Catalog) {
        let key = p.key.as_str();
        for c in &p.circumstances {
            match c {
                Circumstance::Tag { tag } if !self.known.table_tags.contains(tag) => {
                    let hint = suggestion(nearest(tag, &self.known.table_tags));
                    self.warn(
                        &p.location,
                        format!("policy `{key}` names table tag `{tag}`, which no data source has{hint}"),
                    );
                }
                Circumstance::ColumnTag { tag } => self.column_tag(key, &p.location, "a circumstance", tag),
                Circumstance::Database { database, schema } => {
                    let databases: BTreeSet<String> = catalog.sources().filter_map(|s| s.database.clone()).collect();
                    if !databases.contains(database) {
                        let hint = suggestion(nearest(database, &databases));
                        self.warn(
                            &p.location,
                            format!("policy `{key}` names database `{database}`, which no data source is in{hint}"),
                        );
                    } else if let Some(schema) = schema {
                        let schemas: BTreeSet<String> = catalog
                            .sources()
                            .filter(|s| s.database.as_deref() == Some(database.as_str()))
                            .filter_map(|s| s.schema.clone())
                            .collect();
                        if !schemas.contains(schema) {
                            let hint = suggestion(nearest(schema, &schemas));
                            self.warn(
                                &p.location,
                                format!("policy `{key}` names schema `{schema}` of database `{database}`, which no data source is in{hint}"),
                            );
                        }
                    }
                }
                Circumstance::DataSource { name } if catalog.source(name).is_none() => {
                    let names: Vec<String> = catalog.sources().map(|s| s.name.clone()).collect();
                    let hint = suggestion(nearest(name, &names));
                    self.warn(
                        &p.location,
                        format!("policy `{key}` names data source `{name}`, which the catalog lacks{hint}"),
                    );
                }
                _ => {}
            }
        }
        match &p.body {
            PolicyBody::Subscription { subscribers, .. } => match subscribers {
                Subscribers::Anyone => {}
                Subscribers::Approval { users, groups } => {
                    self.users(key, &p.location, users);
                    self.groups(key, &p.location, groups);
                }
                Subscribers::Users { names } => self.users(key, &p.location, names),
                Subscribers::Entitled { expr } => self.expr(key, &p.location, expr),
            },
            PolicyBody::Data { rules } => {
                for rule in rules {
                    self.rule(p, rule, catalog);
                }
            }
        }
    }

    fn rule(&mut self, p: &Policy, rule: &DataRule, catalog: &Catalog) {
        let key = p.key.as_str();
        match rule {
            DataRule::Mask { columns, cases, otherwise, rows, location } => {
                for t in &columns.tags {
                    self.column_tag(key, location, "a mask rule", t);
                }
                for n in &columns.names {
                    self.column(key, location, "a mask rule", n);
                }
                if let Some(rows) = rows {
                    for c in &rows.columns {
                        self.column(key, location, "the `where` of a mask rule", c);
                    }
                }
                for (who, mask) in cases {
                    self.expr(key, location, who);
                    if let Some(u) = mask.as_ref().and_then(|m| m.unmaskers.as_ref()) {
                        self.expr(key, location, u);
                    }
                }
                if let Some(u) = otherwise.as_ref().and_then(|m| m.unmaskers.as_ref()) {
                    self.expr(key, location, u);
                }
                let reached = catalog
                    .sources()
                    .filter(|s| p.reaches(s))
                    .flat_map(|s| s.columns.iter())
                    .any(|c| columns.targets(c));
                if !reached {
                    self.warn(
                        location,
                        format!(
                            "a mask rule of policy `{key}` reaches no column of any data source the policy applies to"
                        ),
                    );
                }
            }
            DataRule::Rows { rule, applies, location } => {
                match applies {
                    Applies::Everyone => {}
                    Applies::EveryoneExcept { expr } | Applies::EveryoneWho { expr } => self.expr(key, location, expr),
                }
                match rule {
                    RowRule::MatchAttribute { attribute, column, .. } => {
                        if !self.known.attributes.contains_key(attribute) {
                            self.attribute_key(key, location, attribute);
                        }
                        self.column(key, location, "a row rule", column);
                    }
                    RowRule::Where { predicate } => {
                        for c in &predicate.columns {
                            self.column(key, location, "a row rule", c);
                        }
                    }
                    RowRule::TimeWindow { column, .. } => self.column(key, location, "a row rule", column),
                    RowRule::Sample { key: columns, .. } => {
                        for c in columns {
                            self.column(key, location, "a row rule", c);
                        }
                    }
                }
            }
        }
    }
}

/// Tagged columns that mask rules cover only in part: a column whose tag lies
/// in a family some rule names (`PII.Email`, `PII.SSN`) but that no mask rule of
/// a policy reaching its source reaches (`PII.Phone`; or `PII.Email` on a table
/// the e-mail policy's circumstances miss). One warning per tag, at the first
/// rule of the family.
fn coverage(policies: &[Policy], catalog: &Catalog, out: &mut Vec<Warning>) {
    let live: Vec<&Policy> = policies.iter().filter(|p| !p.staged).collect();
    // Family (first tag segment) -> the rule tags naming it, and where.
    let mut families: BTreeMap<&str, (Vec<&str>, &Location)> = BTreeMap::new();
    for p in &live {
        let PolicyBody::Data { rules } = &p.body else { continue };
        for rule in rules {
            let DataRule::Mask { columns, location, .. } = rule else { continue };
            for t in &columns.tags {
                let family = t.split(TAG_SEPARATOR).next().unwrap_or(t);
                families.entry(family).or_insert_with(|| (Vec::new(), location)).0.push(t);
            }
        }
    }
    let mut uncovered: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let in_family = |tag: &String| families.contains_key(tag.split(TAG_SEPARATOR).next().unwrap_or(tag));
    for source in catalog.sources() {
        // Only sources with a column in a covered family need the policies reaching them.
        if !source.columns.iter().any(|c| c.tags.iter().any(in_family)) {
            continue;
        }
        let reaching: Vec<&Policy> = live.iter().copied().filter(|p| p.reaches(source)).collect();
        for column in &source.columns {
            let masked = reaching.iter().any(|p| match &p.body {
                PolicyBody::Data { rules } => {
                    rules.iter().any(|r| matches!(r, DataRule::Mask { columns, .. } if columns.targets(column)))
                }
                PolicyBody::Subscription { .. } => false,
            });
            if masked {
                continue;
            }
            for tag in column.tags.iter().filter(|t| in_family(t)) {
                uncovered.entry(tag).or_default().push(format!("{}.{}", source.name, column.name));
            }
        }
    }
    for (tag, columns) in uncovered {
        let family = tag.split(TAG_SEPARATOR).next().unwrap_or(tag);
        let Some((names, location)) = families.get(family) else { continue };
        let mut names = names.clone();
        names.sort_unstable();
        names.dedup();
        out.push(Warning {
            location: (*location).clone(),
            message: format!(
                "column tag `{tag}` ({}) is reached by no mask rule of a policy reaching its source, though rules cover `{family}` tags ({})",
                columns.join(", "),
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
}

/// Tags on the data that no policy reaches but that nearly equal a tag the
/// policies use (`pii.secret`, ` PII.Secret`, a Cyrillic `Р`): a typo on the
/// data side leaves a column unmasked as surely as one in a policy.
fn data_near_misses(policies: &[Policy], catalog: &Catalog, out: &mut Vec<Warning>) {
    let mut column_tags: BTreeSet<String> = BTreeSet::new();
    let mut table_tags: BTreeSet<String> = BTreeSet::new();
    let mut at: Option<&Location> = None;
    for p in policies {
        at.get_or_insert(&p.location);
        for c in &p.circumstances {
            match c {
                Circumstance::Tag { tag } => {
                    table_tags.insert(tag.clone());
                }
                Circumstance::ColumnTag { tag } => {
                    column_tags.insert(tag.clone());
                }
                _ => {}
            }
        }
        if let PolicyBody::Data { rules } = &p.body {
            for r in rules {
                if let DataRule::Mask { columns, .. } = r {
                    column_tags.extend(columns.tags.iter().cloned());
                }
            }
        }
    }
    let Some(at) = at else { return };
    let check = |tag: &str, used: &BTreeSet<String>, what: String, out: &mut Vec<Warning>| {
        if used.iter().any(|u| tag_matches(u, tag)) {
            return;
        }
        // The whole tag, else its leading segments (the family).
        let mut prefixes = vec![tag.to_owned()];
        prefixes.extend(
            tag.char_indices()
                .filter(|(_, c)| *c == TAG_SEPARATOR)
                .filter_map(|(i, _)| tag.get(..i).map(str::to_owned)),
        );
        for p in prefixes {
            if let Some(near) = nearest(&p, used) {
                out.push(Warning {
                    location: at.clone(),
                    message: format!("{what} is tagged `{tag}`, which no policy reaches; policies use `{near}`: is the data's tag mistyped?"),
                });
                return;
            }
        }
    };
    let mut seen = BTreeSet::new();
    for source in catalog.sources() {
        for t in &source.tags {
            if seen.insert(("t", t.clone())) {
                check(t, &table_tags, format!("data source `{}`", source.name), out);
            }
        }
        for c in &source.columns {
            for t in &c.tags {
                if seen.insert(("c", t.clone())) {
                    check(t, &column_tags, format!("column `{}.{}`", source.name, c.name), out);
                }
            }
        }
    }
}

/// Every loud mistake in `policies` against `catalog` and `directory`.
pub(crate) fn lint(policies: &[Policy], catalog: &Catalog, directory: &Directory) -> Vec<Warning> {
    let known = Known::new(catalog, directory);
    let mut lint = Lint { known: &known, out: Vec::new() };
    for p in policies {
        lint.policy(p, catalog);
    }
    let mut out = lint.out;
    coverage(policies, catalog, &mut out);
    data_near_misses(policies, catalog, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_found() {
        let known: Vec<String> = vec!["PII.Email".into(), "PII.Phone".into(), "Customer".into()];
        assert_eq!(nearest("pii.email", &known), Some("PII.Email"));
        assert_eq!(nearest("PII.Emial", &known), Some("PII.Email"));
        assert_eq!(nearest("Costumer", &known), Some("Customer"));
        assert_eq!(nearest("Finance", &known), None);
    }
}
