//! What every target shares: reader facts, conditions, mask chains, row
//! filters and views. Targets supply quoting, types, functions and masks.

use std::collections::{BTreeMap, BTreeSet};

use veil_policy::{ColumnPlan, ColumnType, Condition, DataSource, Directory, Literal, Plan, ReaderPlan, RowFilter};

use crate::pipeline::Section;
use crate::targets::{MaskContext, Reader, Target};
use crate::{Error, Result};

/// Schema of the tables holding facts about readers (dynamic mode).
pub const FACTS_SCHEMA: &str = "veil";

/// The tables of facts about readers in [`FACTS_SCHEMA`], as [`facts`] writes them.
pub const FACTS_TABLES: [&str; 6] =
    ["users", "user_groups", "user_attributes", "user_projects", "project_purposes", "approvals"];

/// Whom the views are for.
#[derive(Clone, Debug)]
pub enum Mode {
    /// One set of views; the reader is named at query time.
    Dynamic,
    /// Views specialised to one reader, acting under an optional project.
    Reader {
        /// User name.
        user: String,
        /// Project.
        project: Option<String>,
    },
}

/// How to bind.
#[derive(Clone, Debug)]
pub struct BindOptions {
    /// Dynamic or one reader.
    pub mode: Mode,
    /// Key id masks name; the engine resolves it from its keyring.
    pub key_id: String,
    /// Schema of the secure views.
    pub secure_schema: String,
    /// Only these sources (all when empty).
    pub sources: Vec<String>,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self { mode: Mode::Dynamic, key_id: "default".into(), secure_schema: "secure".into(), sources: Vec::new() }
    }
}

/// What a statement does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementKind {
    /// Loads functions, creates schemas.
    Setup,
    /// Facts about readers.
    Facts,
    /// A secure view.
    View,
    /// A note for people; nothing to run.
    Comment,
    /// Roles, memberships, grants and revocations (engines with privileges).
    Access,
}

/// One generated statement.
#[derive(Clone, Debug)]
pub struct Statement {
    /// What it does.
    pub kind: StatementKind,
    /// The data source it is about, if any.
    pub source: Option<String>,
    /// The SQL (a `--` comment for [`StatementKind::Comment`]).
    pub sql: String,
    /// For a view, the query it stands for (to run it without creating it).
    pub select: Option<String>,
}

/// Generated SQL for one target.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    /// In execution order.
    pub statements: Vec<Statement>,
    /// View name per data source.
    pub views: BTreeMap<String, String>,
}

impl Bindings {
    /// One script, statements separated by blank lines.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        for s in &self.statements {
            out.push_str(&s.sql);
            out.push_str("\n\n");
        }
        out
    }
}

/// Names a bind must refuse before writing anything: a source without the
/// schema (or, where the target qualifies with one, the database) that pins its
/// relation; a source in veil's own schema or in the secure views' schema (their
/// tables and views would be replaced); two columns one engine cannot tell apart;
/// and secure views in veil's own schema.
///
/// # Errors
/// [`Error::Invalid`] naming the source, the names and what to do.
pub fn check_sources(sources: &[&DataSource], target: &dyn Target, secure_schema: Option<&str>) -> Result<()> {
    let fold = |n: &str| target.fold_ident(n);
    if secure_schema.is_some_and(|s| fold(s) == fold(FACTS_SCHEMA)) {
        return Err(Error::Invalid(format!(
            "the secure views cannot go in schema `{FACTS_SCHEMA}`, which holds veil's facts; choose another --schema"
        )));
    }
    for s in sources {
        let Some(schema) = &s.schema else {
            return Err(Error::Invalid(format!(
                "data source `{}` names no schema, so its relation is whatever `{}` resolves to where the SQL runs; give `schema:` in the catalog",
                s.name, s.identifier
            )));
        };
        if target.qualifies_database() && s.database.is_none() {
            return Err(Error::Invalid(format!(
                "data source `{}` names no database, so on {} its statements would land on the `{schema}` of whatever database the session uses; give `database:` in the catalog",
                s.name,
                target.name()
            )));
        }
        for owned in [Some(FACTS_SCHEMA), secure_schema].into_iter().flatten() {
            if fold(schema) == fold(owned) {
                return Err(Error::Invalid(format!(
                    "data source `{}` lives in schema `{schema}`, which veil writes (its facts or secure views) and would overwrite; move the table or leave the source out (--source)",
                    s.name
                )));
            }
        }
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for c in &s.columns {
            if let Some(other) = seen.insert(fold(&c.name), &c.name) {
                return Err(Error::Invalid(format!(
                    "data source `{}` lists columns `{other}` and `{}`, which {} cannot tell apart; list the column once, as the engine stores it",
                    s.name,
                    c.name,
                    target.name()
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// View names: the relation's identifier, or `<schema>_<identifier>` where two
/// sources share one (compared as the engine compares names).
///
/// # Errors
/// [`Error::Invalid`] naming both sources when two would still get one view
/// name (e.g. names that differ only by case on an engine that ignores case).
pub fn view_names(sources: &[&DataSource], target: &dyn Target) -> Result<BTreeMap<String, String>> {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for s in sources {
        *count.entry(target.fold_ident(&s.identifier)).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    for s in sources {
        let shared = count.get(&target.fold_ident(&s.identifier)).copied().unwrap_or(0) > 1;
        let name = match (&s.schema, shared) {
            (Some(schema), true) => format!("{schema}_{}", s.identifier),
            _ => s.identifier.clone(),
        };
        if let Some(other) = taken.insert(target.fold_ident(&name), &s.name) {
            return Err(Error::Invalid(format!(
                "data sources `{other}` and `{}` would both get the secure view `{name}` on {}; rename one of the relations or bind them separately (--source)",
                s.name,
                target.name()
            )));
        }
        out.insert(s.name.clone(), name);
    }
    Ok(out)
}

/// The base relation of a source, as the engine stores it: `schema.identifier`
/// (each quoted), preceded by the database where the target qualifies with one
/// ([`Target::qualifies_database`]); never a name split at its dots.
pub fn base_relation(source: &DataSource, target: &dyn Target) -> String {
    let database = source.database.as_deref().filter(|_| target.qualifies_database());
    [database, source.schema.as_deref(), Some(source.identifier.as_str())]
        .into_iter()
        .flatten()
        .map(|part| target.quote_ident(part))
        .collect::<Vec<_>>()
        .join(".")
}

/// Tables of facts about readers, rebuilt on every bind.
pub fn facts(directory: &Directory, t: &dyn Target, out: &mut Section) {
    let s = t.schema_name(FACTS_SCHEMA);
    out.push(StatementKind::Facts, None, t.create_schema(&s));
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut attributes = Vec::new();
    let mut memberships = Vec::new();
    let mut approvals = Vec::new();
    for user in directory.users() {
        let Ok(subject) = directory.subject(&user.name, None) else { continue };
        let name = t.literal(&user.name);
        users.push(format!("({name})"));
        groups.extend(subject.groups.iter().map(|g| format!("({name}, {})", t.literal(g))));
        for (key, values) in &subject.attributes {
            attributes.extend(values.iter().map(|v| format!("({name}, {}, {})", t.literal(key), t.literal(v))));
        }
        memberships.extend(user.projects.iter().map(|p| format!("({name}, {})", t.literal(p))));
        for a in &subject.approvals {
            let approver_groups: Vec<Option<&String>> =
                if a.approver_groups.is_empty() { vec![None] } else { a.approver_groups.iter().map(Some).collect() };
            for g in approver_groups {
                approvals.push(format!(
                    "({name}, {}, {}, {})",
                    t.literal(&a.source),
                    t.literal(&a.approver),
                    g.map_or("NULL".into(), |g| t.literal(g))
                ));
            }
        }
    }
    let purposes: Vec<String> = directory
        .projects()
        .flat_map(|(project, purposes)| purposes.iter().map(move |p| (project, p)))
        .map(|(project, p)| format!("({}, {})", t.literal(project), t.literal(p)))
        .collect();
    let [users_t, groups_t, attributes_t, projects_t, purposes_t, approvals_t] = FACTS_TABLES;
    let tables: [(&str, &str, Vec<String>); 6] = [
        (users_t, "user_name VARCHAR NOT NULL", users),
        (groups_t, "user_name VARCHAR NOT NULL, group_name VARCHAR NOT NULL", groups),
        (attributes_t, "user_name VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR NOT NULL", attributes),
        (projects_t, "user_name VARCHAR NOT NULL, project VARCHAR NOT NULL", memberships),
        (purposes_t, "project VARCHAR NOT NULL, purpose VARCHAR NOT NULL", purposes),
        (
            approvals_t,
            "user_name VARCHAR NOT NULL, source VARCHAR NOT NULL, approver VARCHAR NOT NULL, approver_group VARCHAR",
            approvals,
        ),
    ];
    for (table, columns, rows) in tables {
        for sql in t.facts_relation(&t.facts_table(table), columns, &rows) {
            out.push(StatementKind::Facts, None, sql);
        }
    }
    for sql in t.facts_views() {
        out.push(StatementKind::Facts, None, sql);
    }
}

/// What a dynamic view reads about its reader: the attribute keys its
/// conditions and row rules consult (engines that look the reader up once per
/// query fetch these; see [`Target::view`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderFacts {
    /// Attribute keys, sorted.
    pub attributes: BTreeSet<String>,
}

/// The reader facts `plan`'s dynamic view reads.
pub fn reader_facts(plan: &Plan) -> ReaderFacts {
    fn walk(c: &Condition, out: &mut BTreeSet<String>) {
        match c {
            Condition::HasAttribute { key, .. } | Condition::AttributeReaches { key, .. } => {
                out.insert(key.clone());
            }
            Condition::Not { of } => walk(of, out),
            Condition::All { of } | Condition::Any { of } => of.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut attributes = BTreeSet::new();
    walk(&plan.access.condition, &mut attributes);
    for case in plan.columns.iter().flat_map(|c| &c.chain) {
        walk(&case.applies(), &mut attributes);
    }
    for filter in &plan.row_filters {
        walk(&filter.applies_to, &mut attributes);
        if let veil_policy::RowPredicate::MatchAttribute { attribute, .. } = &filter.keep {
            attributes.insert(attribute.clone());
        }
    }
    ReaderFacts { attributes }
}

/// A reader condition as SQL over the facts tables (dynamic mode).
pub fn condition(c: &Condition, t: &dyn Target) -> String {
    if let Some(native) = t.native_condition(c) {
        return native;
    }
    let reader = t.reader();
    let facts = |table: &str| t.facts_table(table);
    match c {
        Condition::Always => "TRUE".into(),
        Condition::Never => "FALSE".into(),
        Condition::User { name } => format!("({reader} = {})", t.literal(name)),
        Condition::InGroup { group } => format!(
            "EXISTS (SELECT 1 FROM {} f WHERE f.user_name = {reader} AND f.group_name = {})",
            facts("user_groups"),
            t.literal(group)
        ),
        Condition::GroupReaches { tag } => format!(
            "EXISTS (SELECT 1 FROM {} f WHERE f.user_name = {reader} AND {})",
            facts("user_groups"),
            t.tag_match("f.group_name", &t.literal(tag))
        ),
        Condition::HasAttribute { key, value } => format!(
            "EXISTS (SELECT 1 FROM {} f WHERE f.user_name = {reader} AND f.key = {} AND f.value = {})",
            facts("user_attributes"),
            t.literal(key),
            t.literal(value)
        ),
        Condition::AttributeReaches { key, tag } => format!(
            "EXISTS (SELECT 1 FROM {} f WHERE f.user_name = {reader} AND f.key = {} AND {})",
            facts("user_attributes"),
            t.literal(key),
            t.tag_match("f.value", &t.literal(tag))
        ),
        Condition::ActingUnder { purpose } => format!(
            "EXISTS (SELECT 1 FROM {} m JOIN {} p ON p.project = m.project WHERE m.user_name = {reader} AND m.project = {} AND p.purpose = {})",
            facts("user_projects"),
            facts("project_purposes"),
            t.project(),
            t.literal(purpose)
        ),
        Condition::Approved { source, users, groups } => {
            let mut who = Vec::new();
            if !users.is_empty() {
                who.push(format!("a.approver IN ({})", list(users.iter(), t)));
            }
            if !groups.is_empty() {
                who.push(format!("a.approver_group IN ({})", list(groups.iter(), t)));
            }
            if who.is_empty() {
                return "FALSE".into();
            }
            format!(
                "EXISTS (SELECT 1 FROM {} a WHERE a.user_name = {reader} AND a.source = {} AND ({}))",
                facts("approvals"),
                t.literal(source),
                who.join(" OR ")
            )
        }
        Condition::Not { of } => format!("(NOT {})", condition(of, t)),
        Condition::All { of } if of.is_empty() => "TRUE".into(),
        Condition::Any { of } if of.is_empty() => "FALSE".into(),
        Condition::All { of } => format!("({})", of.iter().map(|c| condition(c, t)).collect::<Vec<_>>().join(" AND ")),
        Condition::Any { of } => format!("({})", of.iter().map(|c| condition(c, t)).collect::<Vec<_>>().join(" OR ")),
    }
}

/// Rows whose `value_sql` is one of the values of `attribute` of the reader
/// `ctx` names, read from the facts table (hierarchically: a reader value
/// reaches the values below it).
pub fn match_attribute<T: Target + ?Sized>(
    t: &T,
    attribute: &str,
    value_sql: &str,
    hierarchical: bool,
    ctx: &MaskContext<'_>,
) -> String {
    let test = if hierarchical { t.tag_match("a.value", value_sql) } else { format!("a.value = {value_sql}") };
    format!(
        "EXISTS (SELECT 1 FROM {} a WHERE a.user_name = {} AND a.key = {} AND {test})",
        t.facts_table("user_attributes"),
        t.reader_of(ctx),
        t.literal(attribute)
    )
}

/// Rows whose `value_sql` is one of `values` (hierarchically: or below one); none: `FALSE`.
pub fn value_in<T: Target + ?Sized>(t: &T, values: &[String], value_sql: &str, hierarchical: bool) -> String {
    if values.is_empty() {
        "FALSE".into()
    } else if hierarchical {
        let tests: Vec<String> = values.iter().map(|v| t.tag_match(&t.literal(v), value_sql)).collect();
        format!("({})", tests.join(" OR "))
    } else {
        format!("{value_sql} IN ({})", list(values.iter(), t))
    }
}

/// One row filter of a plan: the rows it keeps, or, when it applies to some
/// readers only, `(NOT <applies> OR <keeps>)`.
///
/// # Errors
/// As [`Target::row_predicate`].
pub fn row_filter(t: &dyn Target, source: &str, key_id: &str, filter: &RowFilter) -> Result<String> {
    let ctx = MaskContext {
        source,
        column: "",
        policy: &filter.policy,
        key_id,
        column_type: &ColumnType::Text,
        reader: Reader::Dynamic,
    };
    let keep = t.row_predicate(&filter.keep, &ctx)?;
    Ok(match &filter.applies_to {
        Condition::Always => keep,
        applies => format!("(NOT {} OR {keep})", condition(applies, t)),
    })
}

/// A sample's row key: each key column as text with NULL as `''` (`text`),
/// joined with `|` by `join` (a single column alone), as veil-core hashes it;
/// the percent checked first.
///
/// # Errors
/// [`Error::Invalid`] for a percent outside 0–100.
pub fn sample_key(
    policy: &str,
    percent: f64,
    key: &[String],
    text: &dyn Fn(&str) -> String,
    join: &dyn Fn(&[String]) -> String,
) -> Result<String> {
    if !(0.0..=100.0).contains(&percent) {
        return Err(Error::Invalid(format!(
            "policy `{policy}`: sample percent must be between 0 and 100, got `{percent}`"
        )));
    }
    let parts: Vec<String> = key.iter().map(|k| text(k)).collect();
    Ok(match parts.as_slice() {
        [one] => one.clone(),
        _ => join(&parts),
    })
}

/// `concat_ws('|', …)` in the spelling `name` (most engines have it).
pub fn concat_ws(name: &'static str) -> impl Fn(&[String]) -> String {
    move |parts| format!("{name}('|', {})", parts.join(", "))
}

/// A constant mask's value as an SQL literal (a non-finite float as `NULL`).
pub fn constant(t: &dyn Target, value: &Literal) -> String {
    match value {
        Literal::Boolean(b) => b.to_string().to_uppercase(),
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) if f.is_finite() => format!("{f:?}"),
        Literal::Float(_) => "NULL".into(),
        Literal::Text(s) => t.literal(s),
    }
}

/// A column type the catalog names (`ColumnType::Other`), pasted as is when it
/// holds only ASCII letters, digits, `_`, spaces, parentheses and commas (and
/// square brackets, with `brackets`).
///
/// # Errors
/// [`Error::Invalid`] for anything else.
pub fn type_name(name: &str, brackets: bool) -> Result<String> {
    let plain = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '(' | ')' | ',') || (brackets && matches!(c, '[' | ']'))
    };
    if name.is_empty() || !name.chars().all(plain) {
        return Err(Error::Invalid(format!("column type `{name}` cannot be used in generated SQL")));
    }
    Ok(name.to_owned())
}

fn list<'a, T: Target + ?Sized>(items: impl Iterator<Item = &'a String>, t: &T) -> String {
    items.map(|i| t.literal(i)).collect::<Vec<_>>().join(", ")
}

fn cast_if(expr: String, from: &ColumnType, to: &ColumnType, t: &dyn Target) -> Result<String> {
    if from == to {
        Ok(expr)
    } else {
        Ok(t.cast(&expr, &t.sql_type(to)?))
    }
}

/// A column's mask chain over `value_sql` (dynamic mode): `CASE WHEN <reader
/// condition> THEN <mask> … ELSE <value> END`, every branch of the column's
/// output type.
///
/// # Errors
/// As [`Target::mask`].
pub fn mask_case(t: &dyn Target, source: &str, column: &ColumnPlan, key_id: &str, value_sql: &str) -> Result<String> {
    let mut sql = String::from("CASE");
    for case in &column.chain {
        let ctx = MaskContext {
            source,
            column: &column.name,
            policy: &case.policy,
            key_id,
            column_type: &column.input_type,
            reader: Reader::Dynamic,
        };
        let mut when = condition(&case.applies(), t);
        if let Some(rows) = &case.rows {
            when = format!("{when} AND {}", crate::predicate::print(t, &rows.tree)?);
        }
        let masked = cast_if(t.mask(&case.mask, value_sql, &ctx)?, &case.output_type, &column.output_type, t)?;
        sql.push_str(&format!("\n    WHEN {when} THEN {masked}"));
    }
    let shown = cast_if(value_sql.to_owned(), &column.input_type, &column.output_type, t)?;
    sql.push_str(&format!("\n    ELSE {shown}\n  END"));
    Ok(sql)
}

pub(crate) fn dynamic_view(
    plan: &Plan,
    source: &DataSource,
    t: &dyn Target,
    options: &BindOptions,
    schema: &str,
    view: &str,
) -> Result<(String, String)> {
    let mut columns = Vec::new();
    for column in &plan.columns {
        let quoted = t.quote_ident(&column.name);
        let expr = if column.chain.is_empty() {
            quoted
        } else {
            mask_case(t, &source.name, column, &options.key_id, &quoted)?
        };
        columns.push(ViewColumn { name: column.name.clone(), expr, output_type: column.output_type.clone() });
    }

    let reader = t.reader();
    let denied = t.concat(&[
        "'veil: reader '".into(),
        format!("coalesce({reader}, '(none: SET VARIABLE veil_user)')"),
        "' may not read '".into(),
        t.literal(&source.name),
    ]);
    // The refusal depends on the reader only: an uncorrelated scalar subquery is
    // evaluated once per query, before any row, so an unknown or unentitled reader
    // gets the error even when another filter, or an empty table, keeps no row.
    let mut filters = vec![t.access_check(&condition(&plan.access.condition, t), &t.deny(&denied))];
    for filter in &plan.row_filters {
        filters.push(row_filter(t, &source.name, &options.key_id, filter)?);
    }
    let facts = reader_facts(plan);
    let parts = ViewParts {
        schema,
        view,
        columns: &columns,
        from: base_relation(source, t),
        filters: &filters,
        reader_facts: Some(&facts),
    };
    Ok(match t.view(&parts)? {
        Some(sql) => sql,
        None => plain_view(&parts, t),
    })
}

pub(crate) fn reader_view(
    plan: &ReaderPlan,
    source: &DataSource,
    t: &dyn Target,
    options: &BindOptions,
    schema: &str,
    view: &str,
    reader: Reader<'_>,
) -> Result<(String, String)> {
    let mut columns = Vec::new();
    for column in &plan.columns {
        let quoted = t.quote_ident(&column.name);
        let ctx = MaskContext {
            source: &source.name,
            column: &column.name,
            policy: "",
            key_id: &options.key_id,
            column_type: &column.input_type,
            reader: reader.clone(),
        };
        let mut branches = Vec::new();
        let mut otherwise = None;
        for step in &column.chain {
            let ctx = MaskContext { policy: &step.policy, ..ctx.clone() };
            let masked = t.mask(&step.mask, &quoted, &ctx)?;
            let step_type = step.mask.output_type(&column.input_type).unwrap_or(ColumnType::Text);
            let masked = cast_if(masked, &step_type, &column.output_type, t)?;
            match &step.rows {
                Some(rows) => branches.push(format!("WHEN {} THEN {masked}", crate::predicate::print(t, &rows.tree)?)),
                None => {
                    otherwise = Some(masked);
                    break;
                }
            }
        }
        let shown = otherwise.unwrap_or(cast_if(quoted.clone(), &column.input_type, &column.output_type, t)?);
        let expr = if branches.is_empty() { shown } else { format!("CASE {} ELSE {shown} END", branches.join(" ")) };
        columns.push(ViewColumn { name: column.name.clone(), expr, output_type: column.output_type.clone() });
    }
    let ctx = MaskContext {
        source: &source.name,
        column: "",
        policy: "",
        key_id: &options.key_id,
        column_type: &ColumnType::Text,
        reader,
    };
    let filters = plan.row_filters.iter().map(|p| t.row_predicate(p, &ctx)).collect::<Result<Vec<String>>>()?;
    let parts = ViewParts {
        schema,
        view,
        columns: &columns,
        from: base_relation(source, t),
        filters: &filters,
        reader_facts: None,
    };
    Ok(match t.view(&parts)? {
        Some(sql) => sql,
        None => plain_view(&parts, t),
    })
}

/// One column of a secure view: its name, the (masked) expression, the type shown.
#[derive(Clone, Debug)]
pub struct ViewColumn {
    /// Column name (unquoted).
    pub name: String,
    /// SQL expression over the base relation's columns.
    pub expr: String,
    /// The type the view shows.
    pub output_type: ColumnType,
}

/// Everything a target needs to create one secure view.
#[derive(Clone, Debug)]
pub struct ViewParts<'a> {
    /// Schema of the secure views, already quoted.
    pub schema: &'a str,
    /// View name, not quoted.
    pub view: &'a str,
    /// Columns in source order.
    pub columns: &'a [ViewColumn],
    /// The base relation, already quoted.
    pub from: String,
    /// Row filters (AND).
    pub filters: &'a [String],
    /// What a dynamic view reads about its reader; `None` for a view bound to
    /// one known reader.
    pub reader_facts: Option<&'a ReaderFacts>,
}

impl ViewParts<'_> {
    /// The query the view stands for, columns aliased to their names.
    pub fn select(&self, t: &dyn Target) -> String {
        self.select_from(t, &self.from)
    }

    /// [`ViewParts::select`] over `from` (the base relation and what the
    /// target joins to it).
    pub fn select_from(&self, t: &dyn Target, from: &str) -> String {
        let columns: Vec<String> =
            self.columns.iter().map(|c| format!("  {} AS {}", c.expr, t.quote_ident(&c.name))).collect();
        let mut select = format!("SELECT\n{}\nFROM {from}", columns.join(",\n"));
        if !self.filters.is_empty() {
            select.push_str(&format!("\nWHERE {}", self.filters.join("\n  AND ")));
        }
        select
    }
}

/// `CREATE OR REPLACE VIEW` and the query it stands for (the default of
/// [`Target::view`]).
pub fn plain_view(parts: &ViewParts<'_>, t: &dyn Target) -> (String, String) {
    let select = parts.select(t);
    (format!("CREATE OR REPLACE VIEW {}.{} AS\n{select};", parts.schema, t.quote_ident(parts.view)), select)
}

/// Sources and readers, for callers that want to list what a bind covered.
pub fn readers(directory: &Directory) -> BTreeSet<String> {
    directory.users().map(|u| u.name.clone()).collect()
}
