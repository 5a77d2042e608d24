//! Facts about data: data sources with table tags and typed, tagged columns.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::error::{Error, Result};
use crate::yaml::{self, Source as Text};

const HELP: &str = "a catalog file has `sources:`, each with `name`, optional `database`, `schema`, `identifier`, `tags`, and `columns` (name, type, tags); see docs/policies.md";

/// The type of a column, as far as masks care.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnType {
    /// Character data (`text`, `varchar`, `string`, `char`).
    Text,
    /// Whole numbers (`integer`, `int`, `bigint`, `smallint`).
    Integer,
    /// Binary floating point (`float`, `double`, `real`).
    Float,
    /// Fixed-point decimal with precision and scale.
    Decimal {
        /// Total digits.
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// `boolean`, `bool`.
    Boolean,
    /// Calendar date.
    Date,
    /// Date and time (`timestamp`, `timestamptz`, `datetime`).
    Timestamp,
    /// Anything else, as written; only type-agnostic masks (null, hash,
    /// reversible) fit it.
    Other {
        /// The type as written.
        name: String,
    },
}

impl ColumnType {
    /// Parse a type name as written in a catalog or by dbt (case-insensitive).
    ///
    /// ```
    /// use veil_policy::ColumnType;
    /// assert_eq!(ColumnType::parse("VARCHAR(20)"), ColumnType::Text);
    /// assert_eq!(ColumnType::parse("numeric(10, 2)"), ColumnType::Decimal { precision: 10, scale: 2 });
    /// assert_eq!(ColumnType::parse("geometry"), ColumnType::Other { name: "geometry".into() });
    /// ```
    pub fn parse(written: &str) -> ColumnType {
        let lower = written.trim().to_ascii_lowercase();
        let (base, args) = match lower.split_once('(') {
            Some((b, rest)) => (b.trim(), rest.trim_end_matches(')').trim()),
            None => (lower.as_str(), ""),
        };
        match base {
            "text" | "varchar" | "string" | "char" | "character varying" | "character" | "nvarchar" | "bpchar" => {
                ColumnType::Text
            }
            "integer" | "int" | "bigint" | "smallint" | "tinyint" | "int2" | "int4" | "int8" | "hugeint" => {
                ColumnType::Integer
            }
            "float" | "double" | "real" | "float4" | "float8" | "double precision" => ColumnType::Float,
            "decimal" | "numeric" | "number" => {
                let mut parts = args.split(',').map(|p| p.trim().parse::<u32>());
                match (parts.next(), parts.next()) {
                    (Some(Ok(precision)), Some(Ok(scale))) => ColumnType::Decimal { precision, scale },
                    (Some(Ok(precision)), None) => ColumnType::Decimal { precision, scale: 0 },
                    _ => ColumnType::Decimal { precision: 18, scale: 3 },
                }
            }
            "boolean" | "bool" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "timestamp" | "timestamptz" | "datetime" | "timestamp with time zone" | "timestamp without time zone" => {
                ColumnType::Timestamp
            }
            _ => ColumnType::Other { name: written.trim().to_string() },
        }
    }

    /// Is this a number type (integer, float, decimal)?
    pub fn is_numeric(&self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Float | ColumnType::Decimal { .. })
    }

    /// Is this a date or timestamp?
    pub fn is_temporal(&self) -> bool {
        matches!(self, ColumnType::Date | ColumnType::Timestamp)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Text => write!(f, "text"),
            ColumnType::Integer => write!(f, "integer"),
            ColumnType::Float => write!(f, "float"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Boolean => write!(f, "boolean"),
            ColumnType::Date => write!(f, "date"),
            ColumnType::Timestamp => write!(f, "timestamp"),
            ColumnType::Other { name } => write!(f, "{name}"),
        }
    }
}

/// A column of a data source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column type.
    pub column_type: ColumnType,
    /// Column tags (hierarchical, dot-separated).
    pub tags: Vec<String>,
}

/// What kind of relation a data source is. Engines that attach policies to
/// relations write a different statement for each (Snowflake `ALTER VIEW`), or
/// cannot attach to some (a Databricks view).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// A table (dbt `table`, `incremental`, `snapshot`, `seed`, a source).
    #[default]
    Table,
    /// A view (dbt `view`).
    View,
    /// A materialized view (dbt `materialized_view`).
    MaterializedView,
}

impl RelationKind {
    /// The kind a dbt `materialized` config makes.
    pub fn from_materialized(materialized: &str) -> Self {
        match materialized {
            "view" => RelationKind::View,
            "materialized_view" => RelationKind::MaterializedView,
            _ => RelationKind::Table,
        }
    }
}

/// A data source (table or view).
///
/// Its relation is (`database`, `schema`, `identifier`) exactly as the engine
/// stores them; `name` is veil's key for it (policies, approvals, `--source`)
/// and is never split to find the relation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataSource {
    /// Unique name, e.g. `shop.orders`.
    pub name: String,
    /// Database (catalog, project), if known.
    pub database: Option<String>,
    /// Schema (dataset), if known.
    pub schema: Option<String>,
    /// The relation's own name as the engine stores it (case, dots and all).
    pub identifier: String,
    /// Table, view or materialized view.
    pub kind: RelationKind,
    /// Table tags.
    pub tags: Vec<String>,
    /// Columns, in table order.
    pub columns: Vec<Column>,
}

impl DataSource {
    /// The column named `name` (exact match).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns a name in a rule reaches: see [`column_name_matches`].
    pub fn columns_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Column> + 'a {
        self.columns.iter().filter(move |c| column_name_matches(name, &c.name))
    }

    /// The one column a name in a row rule reads: the exact match if there is
    /// one, else the only column equal to it ignoring case.
    ///
    /// # Errors
    /// The names of every candidate when two or more differ only by case and
    /// none matches exactly (an empty list when nothing matches).
    pub fn resolve_column(&self, name: &str) -> std::result::Result<&Column, Vec<&str>> {
        if let Some(c) = self.column(name) {
            return Ok(c);
        }
        let found: Vec<&Column> = self.columns.iter().filter(|c| column_name_matches(name, &c.name)).collect();
        match found.as_slice() {
            [one] => Ok(one),
            many => Err(many.iter().map(|c| c.name.as_str()).collect()),
        }
    }

    /// Every column tag of the source, in column order, without repeats.
    pub fn column_tags(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for t in self.columns.iter().flat_map(|c| c.tags.iter()) {
            if !out.contains(&t.as_str()) {
                out.push(t);
            }
        }
        out
    }
}

/// Does a column name written in a policy reach the column `actual`?
///
/// Names match ignoring case (Unicode lower case), as engines that fold unquoted
/// identifiers match them; a name therefore reaches every column that differs
/// from it only by case, so a mask covers them all (fail closed).
///
/// ```
/// use veil_policy::column_name_matches;
/// assert!(column_name_matches("email", "Email"));
/// assert!(column_name_matches("phone", "PHONE"));
/// assert!(!column_name_matches("e_mail", "email"));
/// ```
pub fn column_name_matches(written: &str, actual: &str) -> bool {
    written == actual || written.to_lowercase() == actual.to_lowercase()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    kind: RelationKind,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    columns: Vec<RawColumn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type", default)]
    column_type: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

fn push_new(into: &mut Vec<String>, tags: Vec<String>) {
    for t in tags {
        if !into.contains(&t) {
            into.push(t);
        }
    }
}

/// The relation's own name for a catalog entry: `identifier` when given, else
/// `name` without its `database.schema.`, `schema.` or `database.` prefix (so
/// `raw.events.v2` in schema `raw` is the relation `events.v2`), else `name`
/// itself when no schema is given. Never split at any other dot.
fn identifier(
    name: &str,
    database: Option<&str>,
    schema: Option<&str>,
    given: Option<String>,
) -> std::result::Result<String, String> {
    if let Some(given) = given {
        if given.is_empty() {
            return Err(format!("data source `{name}` has an empty `identifier`"));
        }
        return Ok(given);
    }
    let Some(schema) = schema else {
        return Ok(name.to_owned());
    };
    let prefixes =
        [database.map(|d| format!("{d}.{schema}.")), Some(format!("{schema}.")), database.map(|d| format!("{d}."))];
    for prefix in prefixes.iter().flatten() {
        if let Some(rest) = name.strip_prefix(prefix.as_str()) {
            if !rest.is_empty() {
                return Ok(rest.to_owned());
            }
        }
    }
    if name.contains('.') {
        return Err(format!(
            "data source `{name}` does not start with its schema `{schema}.`, so its relation is unclear"
        ));
    }
    Ok(name.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTagFile {
    #[serde(default)]
    sources: Vec<RawTaggedSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaggedSource {
    name: Spanned<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    columns: Vec<RawTaggedColumn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaggedColumn {
    name: Spanned<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// Why the tags were given (e.g. `veil discover`'s evidence); for people.
    #[serde(default)]
    #[allow(dead_code)]
    evidence: Option<String>,
}

/// All data sources, by name.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Catalog {
    sources: BTreeMap<String, DataSource>,
}

impl Catalog {
    /// Parse a catalog file.
    ///
    /// ```
    /// let catalog = veil_policy::Catalog::from_yaml_str(r#"
    /// sources:
    ///   - name: shop.customers
    ///     tags: [Customer]
    ///     columns:
    ///       - {name: email, type: varchar, tags: [PII.Email]}
    ///       - {name: age, type: integer}
    /// "#, "catalog.yaml").unwrap();
    /// let customers = catalog.source("shop.customers").unwrap();
    /// assert_eq!(customers.columns.len(), 2);
    /// ```
    ///
    /// # Errors
    /// [`Error::Yaml`] for malformed input; [`Error::Invalid`] for a source
    /// defined twice or a column repeated.
    pub fn from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let input = Text { path, text };
        let docs: Vec<RawCatalog> = yaml::documents(path, text, HELP)?;
        let mut catalog = Catalog::default();
        for raw in docs {
            for s in raw.sources {
                let at = input.at(&s.name);
                let mut columns: Vec<Column> = Vec::new();
                for c in s.columns {
                    if columns.iter().any(|x| x.name == c.name) {
                        return Err(Error::invalid(
                            at,
                            format!("column `{}` appears twice in `{}`", c.name, s.name.value),
                            "list each column once",
                        ));
                    }
                    columns.push(Column {
                        name: c.name,
                        // An untyped column only fits type-agnostic masks.
                        column_type: c
                            .column_type
                            .as_deref()
                            .map_or(ColumnType::Other { name: "unknown".into() }, ColumnType::parse),
                        tags: c.tags,
                    });
                }
                let identifier = identifier(&s.name.value, s.database.as_deref(), s.schema.as_deref(), s.identifier)
                    .map_err(|why| Error::invalid(at.clone(), why, "add `identifier:` with the relation's own name"))?;
                let name = s.name.value;
                if catalog.sources.contains_key(&name) {
                    return Err(Error::invalid(
                        at,
                        format!("data source `{name}` is defined twice"),
                        "give each data source a unique name",
                    ));
                }
                catalog.sources.insert(
                    name.clone(),
                    DataSource {
                        name,
                        database: s.database,
                        schema: s.schema,
                        identifier,
                        kind: s.kind,
                        tags: s.tags,
                        columns,
                    },
                );
            }
        }
        Ok(catalog)
    }

    /// Load a catalog file, or a folder of them.
    ///
    /// # Errors
    /// As [`Catalog::from_yaml_str`], plus [`Error::Io`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let mut catalog = Catalog::default();
        for (p, text) in yaml::read_files(path.as_ref())? {
            let part = Self::from_yaml_str(&text, &p)?;
            for (name, source) in part.sources {
                if catalog.sources.contains_key(&name) {
                    return Err(Error::invalid(
                        crate::Location::new(&p, 1, 1),
                        format!("data source `{name}` is defined in two files"),
                        "give each data source a unique name",
                    ));
                }
                catalog.sources.insert(name, source);
            }
        }
        Ok(catalog)
    }

    /// Add the tags of a tag file (e.g. written by `veil discover`) to the
    /// sources and columns it names; returns a warning for each name the catalog
    /// lacks (the tags of a stale file are never silently applied elsewhere).
    ///
    /// ```
    /// let mut c = veil_policy::Catalog::from_yaml_str(
    ///     "sources: [{name: m.t, schema: m, columns: [{name: Email, type: text}]}]", "c.yaml").unwrap();
    /// let warnings = c.add_tags_from_yaml_str(
    ///     "sources: [{name: m.t, columns: [{name: email, tags: [Discovered.Entity.EmailAddress]}]}, {name: gone}]",
    ///     "tags.yaml").unwrap();
    /// assert_eq!(c.source("m.t").unwrap().columns[0].tags, ["Discovered.Entity.EmailAddress"]);
    /// assert_eq!(warnings.len(), 1);
    /// ```
    ///
    /// # Errors
    /// [`Error::Yaml`] for malformed input.
    pub fn add_tags_from_yaml_str(&mut self, text: &str, path: impl AsRef<Path>) -> Result<Vec<crate::plan::Warning>> {
        let path = path.as_ref();
        let input = Text { path, text };
        let help = "a tag file has `sources:`, each with `name`, optional `tags` and `columns` (name, tags, evidence)";
        let docs: Vec<RawTagFile> = yaml::documents(path, text, help)?;
        let mut warnings = Vec::new();
        let mut warn =
            |at: crate::Location, message: String| warnings.push(crate::plan::Warning { location: at, message });
        for raw in docs {
            for s in raw.sources {
                let Some(source) = self.sources.get_mut(&s.name.value) else {
                    warn(
                        input.at(&s.name),
                        format!(
                            "tag file names data source `{}`, which the catalog lacks; its tags are not applied",
                            s.name.value
                        ),
                    );
                    continue;
                };
                push_new(&mut source.tags, s.tags);
                for c in s.columns {
                    let mut found = false;
                    for column in source.columns.iter_mut().filter(|col| column_name_matches(&c.name.value, &col.name))
                    {
                        push_new(&mut column.tags, c.tags.clone());
                        found = true;
                    }
                    if !found {
                        warn(
                            input.at(&c.name),
                            format!("tag file names column `{}` of `{}`, which has no such column; its tags are not applied", c.name.value, source.name),
                        );
                    }
                }
            }
        }
        Ok(warnings)
    }

    /// [`Catalog::add_tags_from_yaml_str`] for a file.
    ///
    /// # Errors
    /// As [`Catalog::add_tags_from_yaml_str`], plus [`Error::Io`].
    pub fn add_tags(&mut self, path: impl AsRef<Path>) -> Result<Vec<crate::plan::Warning>> {
        let mut warnings = Vec::new();
        for (p, text) in yaml::read_files(path.as_ref())? {
            warnings.extend(self.add_tags_from_yaml_str(&text, &p)?);
        }
        Ok(warnings)
    }

    /// Build a catalog from sources (e.g. from dbt artifacts).
    pub fn from_sources(sources: impl IntoIterator<Item = DataSource>) -> Self {
        Self { sources: sources.into_iter().map(|s| (s.name.clone(), s)).collect() }
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&DataSource> {
        self.sources.get(name)
    }

    /// Every source, by name.
    pub fn sources(&self) -> impl Iterator<Item = &DataSource> {
        self.sources.values()
    }

    /// Number of sources.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// No sources at all?
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}
