//! The lockdown rules: from the last applied snapshot, what the engine has now
//! and what the catalog declares, work out what to tag `New`, what to bind
//! again and which views to drop.
//!
//! - A table or view that was not in the last applied snapshot is **new**; so is
//!   a column that was not there. New things get the tag `New` (the engine
//!   masks `New` columns to NULL for everyone) and keep it, run after run,
//!   until the declared catalog (dbt or catalog YAML) gives them a tag of
//!   their own. dbt's automatic tags (`dbt.resource.*`, `dbt.path.*`) do not
//!   count: they say where a model lives, not what it holds.
//! - A `New` table gets no secure view at all: nobody can read it.
//! - A table the declared catalog does not know is never bound (there is no
//!   policy input for it); it is recorded, tagged `New`, and reported.
//! - Everything that changed, and only that, is bound again; views of
//!   sources that are gone or locked are dropped.

use std::collections::{BTreeMap, BTreeSet};

use veil_policy::NEW_COLUMN_TAG;

use crate::diff::{diff, Diff};
use crate::snapshot::{ColumnSnapshot, Snapshot, SourceSnapshot};

/// Tags dbt puts on every data source by itself; they do not release a lock.
pub const AUTOMATIC_TAG_PREFIXES: [&str; 2] = ["dbt.resource.", "dbt.path."];

/// What one monitoring run should do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The catalog as it will be once this run is applied: the engine's
    /// columns and types, the declared tags, `New` where still locked. Its
    /// `view` fields are those of the previous run; fill in the views of
    /// [`Reconciled::rebind`] after binding.
    pub snapshot: Snapshot,
    /// From the previous snapshot to [`Reconciled::snapshot`].
    pub diff: Diff,
    /// Sources to bind again (changed, or never bound).
    pub rebind: Vec<String>,
    /// Views to drop, as (source, view): sources gone, or locked.
    pub unbind: Vec<(String, String)>,
    /// Tables and views tagged `New`: no view until tagged.
    pub locked_sources: Vec<String>,
    /// Columns tagged `New` (of bound sources), as (source, column): NULL for everyone.
    pub locked_columns: Vec<(String, String)>,
    /// Sources and `source.column`s whose `New` tag was lifted in this run.
    pub released: Vec<String>,
    /// Sources in the engine that the declared catalog does not know.
    pub undeclared: Vec<String>,
}

fn is_new(tags: &[String]) -> bool {
    tags.iter().any(|t| t == NEW_COLUMN_TAG)
}

fn has_own_tag(tags: &[String]) -> bool {
    tags.iter().any(|t| t != NEW_COLUMN_TAG && !AUTOMATIC_TAG_PREFIXES.iter().any(|p| t.starts_with(p)))
}

fn with_new(mut tags: Vec<String>) -> Vec<String> {
    if !is_new(&tags) {
        tags.push(NEW_COLUMN_TAG.to_string());
    }
    tags
}

/// Work out a monitoring run.
///
/// `previous` is the snapshot stored by the last `veil apply` or `veil
/// monitor`; `live` is what the engine has now (no tags); `declared` is the
/// catalog from dbt or YAML. Live tables are matched to declared sources by
/// schema (`main` when a declared source has none) and relation name.
///
/// ```
/// use veil_monitor::{reconcile, Kind, LiveColumn, Snapshot};
/// let row = |t: &str, c: &str| LiveColumn { schema: "main".into(), table: t.into(), kind: Kind::Table,
///     fingerprint: None, column: c.into(), data_type: "VARCHAR".into() };
/// let previous = Snapshot::from_live([row("t", "a")], "applied");
/// let live = Snapshot::from_live([row("t", "a"), row("t", "ssn"), row("fresh", "x")], "duckdb");
/// let mut declared = previous.clone();
/// declared.tags_known = true;
/// let run = reconcile(&previous, &live, &declared);
/// assert_eq!(run.locked_columns, vec![("main.t".to_string(), "ssn".to_string())]);
/// assert_eq!(run.locked_sources, vec!["main.fresh".to_string()]);
/// assert_eq!(run.rebind, vec!["main.t".to_string()]);
/// ```
pub fn reconcile(previous: &Snapshot, live: &Snapshot, declared: &Snapshot) -> Reconciled {
    let key = |name: &str, s: &SourceSnapshot| {
        // DuckDB matches names ignoring case: a catalog's `crm.Customers` is the
        // table DuckDB lists as `crm.customers`.
        (s.schema.clone().unwrap_or_else(|| "main".into()).to_lowercase(), s.relation(name).to_lowercase())
    };
    let declared_by_key: BTreeMap<(String, String), (&String, &SourceSnapshot)> =
        declared.sources.iter().map(|(n, s)| (key(n, s), (n, s))).collect();

    let mut out = Reconciled::default();
    let mut effective = Snapshot { origin: live.origin.clone(), tags_known: true, ..Snapshot::default() };
    let mut bindable: BTreeSet<String> = BTreeSet::new();

    for (live_name, l) in &live.sources {
        let found = declared_by_key.get(&key(live_name, l));
        let name = found.map_or_else(|| live_name.clone(), |(n, _)| (*n).clone());
        let d = found.map(|(_, s)| *s);
        let p = previous.sources.get(&name);

        let declared_tags = d.map(|d| d.tags.clone()).unwrap_or_default();
        let table_new = p.is_none_or(|p| is_new(&p.tags)) || d.is_none();
        let table_locked = table_new && !has_own_tag(&declared_tags);
        let tags = if table_locked { with_new(declared_tags) } else { declared_tags };
        if table_locked {
            out.locked_sources.push(name.clone());
        } else if p.is_some_and(|p| is_new(&p.tags)) {
            out.released.push(name.clone());
        }
        if d.is_none() {
            out.undeclared.push(name.clone());
        }

        let mut columns = Vec::with_capacity(l.columns.len());
        for c in &l.columns {
            let declared_tags = d.and_then(|d| d.column(&c.name)).map(|dc| dc.tags.clone()).unwrap_or_default();
            let before = p.and_then(|p| p.column(&c.name));
            let column_new = before.is_none_or(|b| is_new(&b.tags));
            let column_locked = column_new && !has_own_tag(&declared_tags);
            let tags = if column_locked { with_new(declared_tags) } else { declared_tags };
            if column_locked && !table_locked {
                out.locked_columns.push((name.clone(), c.name.clone()));
            } else if !column_locked && before.is_some_and(|b| is_new(&b.tags)) {
                out.released.push(format!("{name}.{}", c.name));
            }
            columns.push(ColumnSnapshot { name: c.name.clone(), data_type: c.data_type.clone(), tags });
        }

        let view = if table_locked { None } else { p.and_then(|p| p.view.clone()) };
        if !table_locked {
            bindable.insert(name.clone());
        }
        effective.sources.insert(
            name,
            SourceSnapshot {
                schema: l.schema.clone(),
                identifier: l.identifier.clone().or_else(|| d.and_then(|d| d.identifier.clone())),
                kind: l.kind,
                fingerprint: l.fingerprint.clone().or_else(|| d.and_then(|d| d.fingerprint.clone())),
                tags,
                columns,
                view,
            },
        );
    }

    out.diff = diff(previous, &effective);
    let changed = out.diff.sources();
    let mut rebind: BTreeSet<String> = bindable
        .iter()
        .filter(|n| changed.contains(n.as_str()) || effective.sources.get(*n).is_some_and(|s| s.view.is_none()))
        .cloned()
        .collect();
    // View names depend on which sources share a relation name: bind a whole
    // group together so the names agree with a full `veil apply`.
    let relation = |n: &str| effective.sources.get(n).map_or_else(|| n.to_owned(), |s| s.relation(n).to_lowercase());
    let mut groups: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for n in &bindable {
        groups.entry(relation(n)).or_default().push(n);
    }
    let shared: Vec<String> = rebind
        .iter()
        .filter_map(|n| groups.get(&relation(n)).filter(|g| g.len() > 1))
        .flatten()
        .map(|n| (*n).clone())
        .collect();
    rebind.extend(shared);
    out.rebind = rebind.into_iter().collect();

    for (name, p) in &previous.sources {
        if let Some(view) = &p.view {
            if !bindable.contains(name) {
                out.unbind.push((name.clone(), view.clone()));
            }
        }
    }
    out.snapshot = effective;
    out
}

/// Carry tags under `prefix` (e.g. `Discovered.`) from `previous` into
/// `declared`: tags a monitoring run gave columns itself, which no declared
/// catalog holds. They stay with the column, run after run, for as long as it
/// exists; a column the declared catalog does not list is added to it, with
/// those tags only. Columns still `New` carry nothing.
///
/// ```
/// use veil_monitor::{keep_tags, Kind, LiveColumn, Snapshot};
/// let row = |c: &str| LiveColumn { schema: "main".into(), table: "t".into(), kind: Kind::Table,
///     fingerprint: None, column: c.into(), data_type: "VARCHAR".into() };
/// let mut previous = Snapshot::from_live([row("a"), row("contact")], "applied");
/// previous.sources.get_mut("main.t").unwrap().columns[1].tags = vec!["Discovered.Entity.EmailAddress".into()];
/// let mut declared = Snapshot::from_live([row("a")], "dbt");
/// keep_tags(&mut declared, &previous, "Discovered.");
/// assert_eq!(declared.sources["main.t"].column("contact").unwrap().tags, ["Discovered.Entity.EmailAddress"]);
/// ```
pub fn keep_tags(declared: &mut Snapshot, previous: &Snapshot, prefix: &str) {
    for (name, before) in &previous.sources {
        for column in before.columns.iter().filter(|c| !is_new(&c.tags)) {
            let kept: Vec<String> = column.tags.iter().filter(|t| t.starts_with(prefix)).cloned().collect();
            if !kept.is_empty() {
                declared.tag_column(name, &column.name, &kept);
            }
        }
    }
}

/// The snapshot `veil apply` stores: everything the engine has now counts as
/// known (no `New` tags) except tables the declared catalog does not know.
/// `views` are the secure views the apply made, by source.
///
/// ```
/// use veil_monitor::{baseline, Kind, LiveColumn, Snapshot};
/// let row = |t: &str| LiveColumn { schema: "main".into(), table: t.into(), kind: Kind::Table,
///     fingerprint: None, column: "x".into(), data_type: "VARCHAR".into() };
/// let live = Snapshot::from_live([row("t"), row("scratch")], "duckdb");
/// let mut declared = Snapshot::from_live([row("t")], "catalog");
/// declared.tags_known = true;
/// let views = [("main.t".to_string(), "t".to_string())].into_iter().collect();
/// let snap = baseline(&live, &declared, &views);
/// assert!(snap.sources["main.t"].columns[0].tags.is_empty());
/// assert_eq!(snap.sources["main.t"].view.as_deref(), Some("t"));
/// assert_eq!(snap.sources["main.scratch"].tags, vec!["New"]);
/// ```
pub fn baseline(live: &Snapshot, declared: &Snapshot, views: &BTreeMap<String, String>) -> Snapshot {
    // As if the previous run had seen everything: nothing is new.
    let mut known = reconcile(&Snapshot::default(), live, declared).snapshot;
    for source in known.sources.values_mut() {
        source.tags.retain(|t| t != NEW_COLUMN_TAG);
        for c in &mut source.columns {
            c.tags.retain(|t| t != NEW_COLUMN_TAG);
        }
    }
    let mut snapshot = reconcile(&known, live, declared).snapshot;
    for (name, source) in &mut snapshot.sources {
        source.view = views.get(name).cloned();
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Kind, LiveColumn};

    fn row(schema: &str, table: &str) -> LiveColumn {
        LiveColumn {
            schema: schema.into(),
            table: table.into(),
            kind: Kind::Table,
            fingerprint: None,
            column: "a".into(),
            data_type: "VARCHAR".into(),
        }
    }

    #[test]
    fn dotted_names_stay_apart_and_case_does_not_matter_to_duckdb() {
        let live = Snapshot::from_live([row("a.b", "c"), row("a", "b.c")], "duckdb");
        assert_eq!(live.sources.len(), 2, "{:?}", live.sources.keys().collect::<Vec<_>>());
        // Declared `crm.Customers`, stored `crm.customers`: the same table, not a new one.
        let stored = Snapshot::from_live([row("crm", "customers")], "duckdb");
        let mut declared = Snapshot::from_live([row("crm", "Customers")], "catalog");
        declared.tags_known = true;
        let run = reconcile(&declared, &stored, &declared);
        assert!(run.locked_sources.is_empty() && run.undeclared.is_empty(), "{run:?}");
    }

    fn live(tables: &[(&str, &[(&str, &str)])]) -> Snapshot {
        let rows = tables.iter().flat_map(|(t, cols)| {
            cols.iter().map(move |(c, ty)| LiveColumn {
                schema: "main".into(),
                table: (*t).into(),
                kind: Kind::Table,
                fingerprint: None,
                column: (*c).into(),
                data_type: (*ty).into(),
            })
        });
        Snapshot::from_live(rows, "duckdb:test")
    }

    fn declare(base: &Snapshot, tags: &[(&str, &str, &str)]) -> Snapshot {
        let mut d = base.clone();
        d.tags_known = true;
        for (source, column, tag) in tags {
            let s = d.sources.get_mut(*source).unwrap();
            if column.is_empty() {
                s.tags.push((*tag).into());
            } else {
                s.columns.iter_mut().find(|c| c.name == *column).unwrap().tags.push((*tag).into());
            }
        }
        d
    }

    /// The state `veil apply` leaves: everything declared, bound, nothing new.
    fn applied(l: &Snapshot, d: &Snapshot) -> Snapshot {
        let mut p = d.clone();
        p.sources.retain(|n, _| l.sources.contains_key(n));
        for (n, s) in &mut p.sources {
            s.view = Some(s.relation(n).to_string());
        }
        p
    }

    #[test]
    fn nothing_changed_nothing_to_do() {
        let l = live(&[("t", &[("id", "INTEGER"), ("email", "VARCHAR")])]);
        let d = declare(&l, &[("main.t", "", "Sales"), ("main.t", "email", "PII.Email")]);
        let run = reconcile(&applied(&l, &d), &l, &d);
        assert!(run.diff.is_empty(), "{:?}", run.diff);
        assert!(run.rebind.is_empty() && run.unbind.is_empty() && run.locked_columns.is_empty());
    }

    #[test]
    fn a_new_column_is_locked_until_tagged() {
        let before = live(&[("t", &[("id", "INTEGER")])]);
        let d = declare(&before, &[("main.t", "", "Sales")]);
        let previous = applied(&before, &d);
        let after = live(&[("t", &[("id", "INTEGER"), ("ssn", "VARCHAR")])]);

        let run = reconcile(&previous, &after, &d);
        assert_eq!(run.locked_columns, vec![("main.t".into(), "ssn".into())]);
        assert_eq!(run.rebind, vec!["main.t".to_string()]);
        assert_eq!(run.snapshot.sources["main.t"].column("ssn").unwrap().tags, vec!["New"]);
        assert_eq!(run.snapshot.sources["main.t"].view.as_deref(), Some("t"));

        // Still untagged next run: still locked, nothing to rebind.
        let again = reconcile(&run.snapshot, &after, &d);
        assert_eq!(again.locked_columns, run.locked_columns);
        assert!(again.rebind.is_empty(), "{:?}", again.diff);

        // Tagged in the catalog: released and bound with its real tag.
        let tagged = declare(&after, &[("main.t", "", "Sales"), ("main.t", "ssn", "PII.SSN")]);
        let released = reconcile(&run.snapshot, &after, &tagged);
        assert!(released.locked_columns.is_empty());
        assert_eq!(released.released, vec!["main.t.ssn".to_string()]);
        assert_eq!(released.rebind, vec!["main.t".to_string()]);
        assert_eq!(released.snapshot.sources["main.t"].column("ssn").unwrap().tags, vec!["PII.SSN"]);
    }

    #[test]
    fn a_new_table_gets_no_view_until_it_has_tags_of_its_own() {
        let before = live(&[("t", &[("id", "INTEGER")])]);
        let d = declare(&before, &[("main.t", "", "Sales")]);
        let previous = applied(&before, &d);
        let after = live(&[("t", &[("id", "INTEGER")]), ("leads", &[("email", "VARCHAR")])]);

        // dbt knows the model but gave it only its automatic tags: still locked.
        let mut d2 = declare(&after, &[("main.t", "", "Sales"), ("main.leads", "", "dbt.path.marts")]);
        let run = reconcile(&previous, &after, &d2);
        assert_eq!(run.locked_sources, vec!["main.leads".to_string()]);
        assert!(run.rebind.is_empty() && run.unbind.is_empty());
        assert_eq!(run.snapshot.sources["main.leads"].tags, vec!["dbt.path.marts", "New"]);

        // Tagged: bound; its untagged columns stay New (NULL) until tagged too.
        d2.sources.get_mut("main.leads").unwrap().tags.push("Marketing".into());
        let next = reconcile(&run.snapshot, &after, &d2);
        assert!(next.locked_sources.is_empty());
        assert_eq!(next.rebind, vec!["main.leads".to_string()]);
        assert_eq!(next.locked_columns, vec![("main.leads".into(), "email".into())]);
    }

    #[test]
    fn tags_a_run_gave_stay_until_the_column_goes() {
        let before = live(&[("t", &[("id", "INTEGER")])]);
        let d = declare(&before, &[("main.t", "", "Sales")]);
        let after = live(&[("t", &[("id", "INTEGER"), ("contact", "VARCHAR")])]);
        let locked = reconcile(&applied(&before, &d), &after, &d);
        assert_eq!(locked.locked_columns, vec![("main.t".into(), "contact".into())]);

        // A run tags it (as discovery does): released, bound with the tag.
        let mut found = d.clone();
        let source = found.sources.get_mut("main.t").unwrap();
        source.columns.push(ColumnSnapshot {
            name: "contact".into(),
            data_type: None,
            tags: vec!["Discovered.Entity.EmailAddress".into()],
        });
        let tagged = reconcile(&locked.snapshot, &after, &found);
        assert_eq!(tagged.released, vec!["main.t.contact".to_string()]);

        // Next runs: the declared catalog has no such tag, yet nothing changes.
        let mut next = d.clone();
        keep_tags(&mut next, &tagged.snapshot, "Discovered.");
        let quiet = reconcile(&tagged.snapshot, &after, &next);
        assert!(quiet.diff.is_empty() && quiet.rebind.is_empty(), "{:?}", quiet.diff);
        assert_eq!(
            quiet.snapshot.sources["main.t"].column("contact").unwrap().tags,
            ["Discovered.Entity.EmailAddress"]
        );
        // Without carrying them the tag would be lost (and the column bound without its mask).
        let lost = reconcile(&tagged.snapshot, &after, &d);
        assert!(!lost.diff.is_empty());
        // A column still New carries nothing; a dropped column nothing to carry.
        let mut none = d.clone();
        keep_tags(&mut none, &locked.snapshot, "");
        assert!(none.sources["main.t"].column("contact").is_none());
    }

    #[test]
    fn undeclared_tables_are_never_bound() {
        let before = live(&[("t", &[("id", "INTEGER")])]);
        let d = declare(&before, &[("main.t", "", "Sales")]);
        let after = live(&[("t", &[("id", "INTEGER")]), ("scratch", &[("x", "INTEGER")])]);
        let run = reconcile(&applied(&before, &d), &after, &d);
        assert_eq!(run.undeclared, vec!["main.scratch".to_string()]);
        assert_eq!(run.locked_sources, vec!["main.scratch".to_string()]);
        assert!(run.rebind.is_empty());
    }

    #[test]
    fn dropped_tables_lose_their_views_and_type_changes_rebind() {
        let before = live(&[("t", &[("id", "INTEGER"), ("n", "INTEGER")]), ("old", &[("x", "INTEGER")])]);
        let d = declare(&before, &[("main.t", "", "Sales"), ("main.old", "", "Sales")]);
        let after = live(&[("t", &[("id", "INTEGER"), ("n", "VARCHAR")])]);
        let run = reconcile(&applied(&before, &d), &after, &d);
        assert_eq!(run.unbind, vec![("main.old".to_string(), "old".to_string())]);
        assert_eq!(run.rebind, vec!["main.t".to_string()]);
        let names: Vec<&str> = run.diff.changes.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["source_dropped", "type_changed"]);
    }

    #[test]
    fn sources_sharing_a_relation_name_are_bound_together() {
        let rows = |schema: &str| LiveColumn {
            schema: schema.into(),
            table: "customers".into(),
            kind: Kind::Table,
            fingerprint: None,
            column: "id".into(),
            data_type: "INTEGER".into(),
        };
        let before = Snapshot::from_live([rows("main")], "x");
        let d1 = declare(&before, &[("main.customers", "", "Sales")]);
        let after = Snapshot::from_live([rows("main"), rows("crm")], "x");
        let mut d2 = d1.clone();
        d2.sources.insert("crm.customers".into(), after.sources["crm.customers"].clone());
        d2.sources.get_mut("crm.customers").unwrap().tags.push("Crm".into());
        d2.sources.get_mut("crm.customers").unwrap().columns[0].tags.push("Id".into());
        let run = reconcile(&applied(&before, &d1), &after, &d2);
        assert_eq!(run.rebind, vec!["crm.customers".to_string(), "main.customers".to_string()]);
    }
}
