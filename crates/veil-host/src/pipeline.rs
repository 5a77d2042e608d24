//! The one bind pipeline every engine goes through.
//!
//! [`bind`] checks the sources and options, reads from the plans which helper
//! functions the SQL will call ([`Needed`]), renders the views (secure-view
//! engines) or the attached policies ([`Attached`] engines), and lets the
//! engine add what only it has ([`Target::deploy`]: roles, keys, UDFs, grants).
//! Statements are written into ordered [`Sections`], never spliced into a list
//! already built.

use std::collections::{BTreeMap, BTreeSet};

use veil_policy::{DataSource, Engine, Mask, Plan, RowPredicate};

use crate::render::{self, dynamic_view, one_line, reader_view};
use crate::targets::attached::{self, Attached};
use crate::targets::{Reader, Target};
use crate::{BindOptions, Bindings, Error, Mode, Result, Statement, StatementKind};

/// A helper function the SQL of a plan calls, which an engine without it built in
/// must create first (a UDF); read from the plans before anything is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needed {
    /// Keyed hash (HMAC-SHA-256 under a per-scope key).
    Hash,
    /// Keyed hash whose scope includes the reader.
    HashPerReader,
    /// Sample row rule (keyed hash of the row key against a threshold).
    Sample,
    /// FF1 format-preserving encryption.
    FormatPreserving,
    /// Reversible token.
    Token,
    /// Regex replacement.
    Regex,
    /// E-mail mask.
    Email,
}

/// What the helper functions of `plans` are.
pub fn needed<'a>(plans: impl IntoIterator<Item = &'a Plan>) -> BTreeSet<Needed> {
    let mut out = BTreeSet::new();
    for plan in plans {
        for case in plan.columns.iter().flat_map(|c| &c.chain) {
            out.extend(match &case.mask {
                Mask::Hash { per_reader: true, .. } => Some(Needed::HashPerReader),
                Mask::Hash { .. } => Some(Needed::Hash),
                Mask::FormatPreserving => Some(Needed::FormatPreserving),
                Mask::Reversible { .. } => Some(Needed::Token),
                Mask::Regex { .. } => Some(Needed::Regex),
                Mask::Email => Some(Needed::Email),
                _ => None,
            });
        }
        if plan.row_filters.iter().any(|f| matches!(f.keep, RowPredicate::Sample { .. })) {
            out.insert(Needed::Sample);
        }
    }
    out
}

/// Statements of one kind of work, in order.
#[derive(Clone, Debug, Default)]
pub struct Section(pub Vec<Statement>);

impl Section {
    /// Add a statement.
    pub fn push(&mut self, kind: StatementKind, source: Option<&str>, sql: String) {
        self.0.push(Statement { kind, source: source.map(str::to_owned), sql, select: None });
    }

    /// Add statements of one kind about no source.
    pub fn extend(&mut self, kind: StatementKind, sqls: impl IntoIterator<Item = String>) {
        for sql in sqls {
            self.push(kind, None, sql);
        }
    }
}

/// A bind's statements by section, run in field order.
#[derive(Clone, Debug, Default)]
pub struct Sections {
    /// Roles, memberships and privileges that must exist before any object
    /// (and, on engines with owners, switching to the owning role).
    pub roles: Section,
    /// Extensions and the secure views' schema.
    pub setup: Section,
    /// Facts about readers (dynamic mode).
    pub facts: Section,
    /// The keys table.
    pub keys: Section,
    /// Helper functions the plans need ([`Needed`]).
    pub udfs: Section,
    /// Policy functions (attached-policy engines).
    pub functions: Section,
    /// Secure views, or the statements attaching policies to tables.
    pub relations: Section,
    /// Who may read what was made.
    pub grants: Section,
    /// What must run last (e.g. leaving the owning role, event triggers).
    pub after: Section,
}

impl Sections {
    /// The statements in execution order.
    pub fn into_bindings(self, views: BTreeMap<String, String>) -> Bindings {
        let Sections { roles, setup, facts, keys, udfs, functions, relations, grants, after } = self;
        let statements = [roles, setup, facts, keys, udfs, functions, relations, grants, after]
            .into_iter()
            .flat_map(|s| s.0)
            .collect();
        Bindings { statements, views }
    }
}

/// What an engine's [`Target::deploy`] sees of a bind.
#[derive(Debug)]
pub struct Deployment<'a> {
    /// The policies, readers and catalog.
    pub engine: &'a Engine,
    /// The bind's options.
    pub options: &'a BindOptions,
    /// The data sources bound, in catalog order.
    pub sources: &'a [&'a DataSource],
    /// Secure view name per data source (secure-view engines).
    pub views: &'a BTreeMap<String, String>,
    /// The helper functions the plans call.
    pub needs: &'a BTreeSet<Needed>,
}

/// The data sources a bind covers: `options.sources`, or the whole catalog.
///
/// # Errors
/// [`Error::Policy`] for an unknown source.
pub fn selected<'a>(engine: &'a Engine, options: &BindOptions) -> Result<Vec<&'a DataSource>> {
    if options.sources.is_empty() {
        return Ok(engine.catalog().sources().collect());
    }
    Ok(options
        .sources
        .iter()
        .map(|s| engine.catalog().source(s).ok_or_else(|| veil_policy::Error::UnknownSource(s.clone())))
        .collect::<std::result::Result<_, _>>()?)
}

/// Generate the bindings of every selected source for `target`.
///
/// # Errors
/// [`Error::Policy`] for an unknown source or reader; [`Error::Unsupported`]
/// for a mask the target cannot enforce (naming policy and column);
/// [`Error::Invalid`] for names or options the target cannot use.
pub fn bind(engine: &Engine, target: &dyn Target, options: &BindOptions) -> Result<Bindings> {
    if !matches!(options.mode, Mode::Dynamic) && !target.binds_one_reader() {
        let what = if target.attached().is_some() { "policies" } else { "views" };
        return Err(Error::Invalid(format!(
            "the {} target binds {what} for every reader; views for one reader (--user) are for duckdb",
            target.name()
        )));
    }
    render(engine, target, options, true)
}

/// The views of `options.mode` on any secure-view engine, without what the engine
/// deploys around them (roles, keys, helper functions, grants): what `veil verify`
/// compares a reader's rows with, on engines that bind one set of views for all.
///
/// # Errors
/// As [`bind`].
pub fn views(engine: &Engine, target: &dyn Target, options: &BindOptions) -> Result<Bindings> {
    render(engine, target, options, false)
}

fn render(engine: &Engine, target: &dyn Target, options: &BindOptions, deploy: bool) -> Result<Bindings> {
    check_key_id(&options.key_id)?;
    let attached = target.attached();
    let sources = selected(engine, options)?;
    target.validate(engine, options, &sources)?;
    let secure_schema = attached.is_none().then_some(options.secure_schema.as_str());
    render::check_sources(&sources, target, secure_schema)?;

    let mut out = Sections::default();
    let mut views = BTreeMap::new();
    out.setup.extend(StatementKind::Setup, target.preamble());
    let plans = match &options.mode {
        Mode::Dynamic => sources.iter().map(|s| engine.plan(&s.name)).collect::<veil_policy::Result<Vec<_>>>()?,
        Mode::Reader { .. } => Vec::new(),
    };
    let needs = needed(&plans);
    match attached {
        Some(a) => {
            render::facts(engine.directory(), target, &mut out.facts);
            attach(a, &sources, &plans, engine, options, &mut out)?;
        }
        None => {
            let schema = target.schema_name(&options.secure_schema);
            out.setup.push(StatementKind::Setup, None, target.create_schema(&schema));
            let names = render::view_names(&sources, target)?;
            match &options.mode {
                Mode::Dynamic => {
                    render::facts(engine.directory(), target, &mut out.facts);
                    for (source, plan) in sources.iter().zip(&plans) {
                        let view = names.get(&source.name).cloned().unwrap_or_else(|| source.name.clone());
                        let made = dynamic_view(plan, source, target, options, &schema, &view)?;
                        push_view(target, &mut out.relations, source, &schema, &view, made);
                        views.insert(source.name.clone(), view);
                    }
                }
                Mode::Reader { user, project } => {
                    let subject = engine.directory().subject(user, project.as_deref())?;
                    for source in &sources {
                        let plan = engine.plan_for(&subject, &source.name)?;
                        let view = names.get(&source.name).cloned().unwrap_or_else(|| source.name.clone());
                        if !plan.allowed {
                            // No view at all: querying it fails, and nothing of the source shows.
                            out.relations.push(
                                StatementKind::Comment,
                                Some(&source.name),
                                format!("-- {user} may not read {}: no view.", one_line(&source.name)),
                            );
                            let qualified = format!("{schema}.{}", target.quote_ident(&view));
                            out.relations.push(
                                StatementKind::View,
                                Some(&source.name),
                                format!("DROP VIEW IF EXISTS {qualified};"),
                            );
                            continue;
                        }
                        let reader = Reader::Known { name: user, project: project.as_deref() };
                        let made = reader_view(&plan, source, target, options, &schema, &view, reader)?;
                        push_view(target, &mut out.relations, source, &schema, &view, made);
                        views.insert(source.name.clone(), view);
                    }
                }
            }
        }
    }
    if deploy {
        let deployment = Deployment { engine, options, sources: &sources, views: &views, needs: &needs };
        target.deploy(&deployment, &mut out)?;
    }
    Ok(out.into_bindings(views))
}

/// A view, after the statement the engine needs to replace one ([`Target::replace_view`]).
fn push_view(
    target: &dyn Target,
    relations: &mut Section,
    source: &DataSource,
    schema: &str,
    view: &str,
    (sql, select): (String, String),
) {
    let qualified = format!("{schema}.{}", target.quote_ident(view));
    if let Some(drop) = target.replace_view(&qualified) {
        relations.push(StatementKind::View, Some(&source.name), drop);
    }
    relations.0.push(Statement {
        kind: StatementKind::View,
        source: Some(source.name.clone()),
        sql,
        select: Some(select),
    });
}

/// Policy functions and the statements attaching them, for an [`Attached`] engine.
fn attach(
    a: &dyn Attached,
    sources: &[&DataSource],
    plans: &[Plan],
    engine: &Engine,
    options: &BindOptions,
    out: &mut Sections,
) -> Result<()> {
    let made = attached::attach(engine, a, options, sources, plans)?;
    out.functions.extend(StatementKind::Setup, made.functions.into_values());
    for (source, sql) in made.attach {
        out.relations.push(StatementKind::Access, Some(&source), sql);
    }
    Ok(())
}

/// Key ids are pasted as literals; keep them plain so they read well in SQL.
fn check_key_id(id: &str) -> Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(Error::Invalid(format!("key id `{id}`: use letters, digits, `_`, `-` or `.`")));
    }
    Ok(())
}
