//! manifest.json and catalog.json, read leniently (unknown fields ignored) but
//! checked for the schema versions veil understands.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use veil_policy::{Catalog, Column, ColumnType, DataSource, RelationKind};

use crate::error::{Error, Result};

/// Manifest schema versions veil reads (dbt-core 1.5 writes v10, 1.6 v10, 1.7 v11, 1.8+ v12).
pub const SUPPORTED_MANIFEST_VERSIONS: std::ops::RangeInclusive<u32> = 10..=12;

/// An exposure (dashboard, notebook, application) as a veil project.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Project {
    /// The exposure's name.
    pub name: String,
    /// Purposes from `meta.veil.purposes`.
    pub purposes: Vec<String>,
    /// The owner's e-mail or name, if given.
    pub owner: Option<String>,
    /// Data sources the exposure depends on (catalog names).
    pub sources: Vec<String>,
}

/// What veil takes from a dbt project's artifacts.
#[derive(Clone, Debug)]
pub struct DbtArtifacts {
    /// Data sources with tags and typed columns.
    pub catalog: Catalog,
    /// Exposures as projects.
    pub projects: Vec<Project>,
    /// The dbt project's name.
    pub project_name: Option<String>,
    /// Columns whose type was not known (no catalog.json, no `data_type`), as
    /// `source.column`; masks that need a type fail on them, closed.
    pub untyped_columns: Vec<String>,
    /// How each data source is materialised, by catalog name (for schema monitoring).
    pub relations: std::collections::BTreeMap<String, Relation>,
    /// Things worth saying that are not errors, e.g. two dbt nodes (a seed and a
    /// source) standing for one relation, whose tags were merged.
    pub warnings: Vec<String>,
    /// dbt's graph: every model, seed, snapshot, source, test and exposure, for
    /// node selection ([`crate::select`]).
    pub nodes: Vec<Node>,
}

/// One node of dbt's graph, as node selection sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// dbt's unique id, e.g. `model.shop.customers`.
    pub unique_id: String,
    /// `model`, `seed`, `snapshot`, `source`, `test`, `exposure`, …
    pub resource_type: String,
    /// The node's name (a source's table name).
    pub name: String,
    /// The package that defines it.
    pub package_name: String,
    /// Fully qualified name: package, folders, name.
    pub fqn: Vec<String>,
    /// The file that defines it, relative to the project root.
    pub original_file_path: String,
    /// dbt tags.
    pub tags: Vec<String>,
    /// `config` as dbt wrote it (for `config.<key>:` selection).
    pub config: Map<String, Value>,
    /// Unique ids of the nodes it depends on.
    pub depends_on: Vec<String>,
    /// A source's source name (`source: name.table`).
    pub source_name: Option<String>,
    /// The veil data source it became, if any (disabled and ephemeral nodes,
    /// tests and exposures become none).
    pub data_source: Option<String>,
}

/// What dbt says about the relation behind a data source, beyond tags.
///
/// Schema monitoring uses it to tell tables from views and to notice a
/// definition that changed (dbt's checksum of the model's file).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Relation {
    /// `model`, `seed`, `snapshot` or `source`.
    pub resource_type: String,
    /// `config.materialized` (`table`, `view`, `incremental`, …), if set.
    pub materialized: Option<String>,
    /// `checksum.checksum` of the node (sha256 of the model's file), if given.
    pub checksum: Option<String>,
    /// Column types exactly as catalog.json spells them, in table order.
    pub column_types: Vec<(String, String)>,
    /// Columns documented in the manifest, with their tags, whether or not
    /// catalog.json has them yet (it lags behind a changed model).
    pub documented_columns: Vec<(String, Vec<String>)>,
    /// The node's name, as its properties file (`schema.yml`) names it.
    pub name: String,
    /// The dbt package (project) the node belongs to.
    pub package: Option<String>,
    /// Its properties file, relative to the package root (dbt's `patch_path`
    /// without the `package://` prefix), when it has one.
    pub properties_file: Option<String>,
    /// The node's own file, relative to the package root.
    pub original_file_path: String,
}

#[derive(Deserialize)]
struct RawManifest {
    metadata: RawMetadata,
    #[serde(default)]
    nodes: Map<String, Value>,
    #[serde(default)]
    sources: Map<String, Value>,
    #[serde(default)]
    exposures: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(default)]
    dbt_schema_version: Option<String>,
    #[serde(default)]
    project_name: Option<String>,
}

#[derive(Deserialize)]
struct RawNode {
    resource_type: String,
    name: String,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    meta: Value,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    columns: Map<String, Value>,
    #[serde(default)]
    original_file_path: String,
    #[serde(default)]
    checksum: Value,
    #[serde(default)]
    fqn: Vec<String>,
    #[serde(default)]
    package_name: String,
    #[serde(default)]
    depends_on: Value,
    #[serde(default)]
    source_name: Option<String>,
    #[serde(default)]
    patch_path: Option<String>,
}

#[derive(Deserialize)]
struct RawColumn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    meta: Value,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    data_type: Option<String>,
}

#[derive(Deserialize)]
struct RawExposure {
    name: String,
    #[serde(default)]
    resource_type: Option<String>,
    #[serde(default)]
    fqn: Vec<String>,
    #[serde(default)]
    package_name: String,
    #[serde(default)]
    original_file_path: String,
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    owner: Value,
    #[serde(default)]
    meta: Value,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    depends_on: Value,
}

#[derive(Deserialize)]
struct RawCatalogFile {
    metadata: RawMetadata,
    #[serde(default)]
    nodes: Map<String, Value>,
    #[serde(default)]
    sources: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawCatalogTable {
    #[serde(default)]
    metadata: Option<RawRelationName>,
    #[serde(default)]
    columns: Map<String, Value>,
}

/// A relation's name as the warehouse stores it (catalog.json `metadata`).
#[derive(Clone, Debug, Default, Deserialize)]
struct RawRelationName {
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawCatalogColumn {
    #[serde(rename = "type")]
    column_type: String,
    #[serde(default)]
    index: i64,
    name: String,
}

/// Load `<target>/manifest.json` and, if present, `<target>/catalog.json`.
///
/// # Errors
/// [`Error`] naming the file (and line and column for malformed JSON).
pub fn load(target_dir: impl AsRef<Path>) -> Result<DbtArtifacts> {
    let dir = target_dir.as_ref();
    let catalog = dir.join("catalog.json");
    load_files(dir.join("manifest.json"), catalog.exists().then_some(catalog))
}

/// Load a manifest and an optional catalog from explicit paths.
///
/// # Errors
/// As [`load`].
pub fn load_files(manifest: impl AsRef<Path>, catalog: Option<PathBuf>) -> Result<DbtArtifacts> {
    let manifest_path = manifest.as_ref();
    let text = read(manifest_path)?;
    let catalog = match &catalog {
        Some(path) => Some((path.as_path(), read(path)?)),
        None => None,
    };
    from_texts(manifest_path, &text, catalog.as_ref().map(|(p, t)| (*p, t.as_str())))
}

/// Parse a manifest and an optional catalog given as text; `manifest_path` and
/// `catalog_path` only name them in messages.
///
/// # Errors
/// As [`load`].
pub fn from_texts(manifest_path: &Path, manifest: &str, catalog: Option<(&Path, &str)>) -> Result<DbtArtifacts> {
    let types = match catalog {
        Some((path, text)) => Some(read_catalog(path, text)?),
        None => None,
    };
    parse(manifest_path, manifest, types.as_ref())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

/// `v12` from `https://schemas.getdbt.com/dbt/manifest/v12.json`.
fn schema_version(url: &str) -> Option<u32> {
    let file = url.rsplit('/').next()?;
    file.strip_prefix('v')?.strip_suffix(".json")?.parse().ok()
}

/// What catalog.json says of one node: its relation's stored name and its
/// columns (name, type) in table order.
#[derive(Clone, Debug, Default)]
struct CatalogTable {
    name: RawRelationName,
    columns: Vec<(String, String)>,
}

/// catalog.json's tables by node id.
type ColumnTypes = std::collections::HashMap<String, CatalogTable>;

fn read_catalog(path: &Path, text: &str) -> Result<ColumnTypes> {
    let raw: RawCatalogFile = serde_json::from_str(text).map_err(|e| Error::json(path, &e))?;
    let version = raw.metadata.dbt_schema_version.as_deref().and_then(schema_version);
    if version != Some(1) {
        return Err(Error::Version {
            path: path.to_path_buf(),
            kind: "catalog",
            found: raw.metadata.dbt_schema_version.unwrap_or_else(|| "(none)".into()),
            supported: "v1",
        });
    }
    let mut out = ColumnTypes::new();
    for (id, table) in raw.nodes.into_iter().chain(raw.sources) {
        let table: RawCatalogTable = serde_json::from_value(table).map_err(|e| Error::json(path, &e))?;
        let mut columns: Vec<RawCatalogColumn> = table
            .columns
            .into_values()
            .map(serde_json::from_value)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::json(path, &e))?;
        columns.sort_by_key(|c| c.index);
        out.insert(
            id,
            CatalogTable {
                name: table.metadata.unwrap_or_default(),
                columns: columns.into_iter().map(|c| (c.name, c.column_type)).collect(),
            },
        );
    }
    Ok(out)
}

fn parse(path: &Path, text: &str, types: Option<&ColumnTypes>) -> Result<DbtArtifacts> {
    let raw: RawManifest = serde_json::from_str(text).map_err(|e| Error::json(path, &e))?;
    let found = raw.metadata.dbt_schema_version.clone().unwrap_or_else(|| "(none)".into());
    match schema_version(&found) {
        Some(v) if SUPPORTED_MANIFEST_VERSIONS.contains(&v) => {}
        _ => return Err(Error::Version { path: path.to_path_buf(), kind: "manifest", found, supported: "v10 to v12" }),
    }

    // One data source per relation: nodes standing for the same relation (a seed
    // and a source over it, say) are merged, never one dropped.
    let mut sources: Vec<(DataSource, String)> = Vec::new();
    let mut by_relation: std::collections::HashMap<(Option<String>, Option<String>, String), usize> =
        std::collections::HashMap::new();
    let mut names = std::collections::HashMap::new();
    let mut untyped = Vec::new();
    let mut relations = std::collections::BTreeMap::new();
    let mut warnings = Vec::new();
    let nodes = raw.nodes.into_iter().map(|n| (n, false)).chain(raw.sources.into_iter().map(|n| (n, true)));
    let mut graph = Vec::new();
    for ((id, value), is_source) in nodes {
        let node: RawNode = serde_json::from_value(value).map_err(|e| Error::json(path, &e))?;
        graph.push(Node {
            unique_id: id.clone(),
            resource_type: if is_source { "source".into() } else { node.resource_type.clone() },
            name: node.name.clone(),
            package_name: node.package_name.clone(),
            fqn: node.fqn.clone(),
            original_file_path: node.original_file_path.clone(),
            tags: strings(&node.tags),
            config: node.config.as_object().cloned().unwrap_or_default(),
            depends_on: strings(node.depends_on.get("nodes").unwrap_or(&Value::Null)),
            source_name: node.source_name.clone(),
            data_source: None,
        });
        if !is_source && !matches!(node.resource_type.as_str(), "model" | "seed" | "snapshot") {
            continue;
        }
        let materialized = node.config.get("materialized").and_then(Value::as_str);
        let enabled = node.config.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        if materialized == Some("ephemeral") || !enabled {
            continue;
        }
        let table = types.and_then(|t| t.get(&id));
        // The warehouse's own spelling (catalog.json) wins over the manifest's.
        let stored = table.map(|t| &t.name);
        let manifest_identifier = if is_source { node.identifier.clone() } else { node.alias.clone() };
        let identifier =
            stored.and_then(|n| n.name.clone()).or(manifest_identifier).unwrap_or_else(|| node.name.clone());
        let schema = stored.and_then(|n| n.schema.clone()).or_else(|| node.schema.clone());
        let database = stored.and_then(|n| n.database.clone()).or_else(|| node.database.clone());
        let name = match &schema {
            Some(schema) => format!("{schema}.{identifier}"),
            None => identifier.clone(),
        };
        let column_types = table.map(|t| &t.columns);
        let source =
            data_source(&name, &node, column_types, &mut untyped, &mut warnings, (database, schema, identifier));
        let relation_key = (source.database.clone(), source.schema.clone(), source.identifier.clone());
        let relation = Relation {
            resource_type: if is_source { "source".into() } else { node.resource_type.clone() },
            materialized: materialized.map(str::to_owned),
            checksum: node.checksum.get("checksum").and_then(Value::as_str).map(str::to_owned),
            column_types: column_types.cloned().unwrap_or_default(),
            documented_columns: documented_columns(&node),
            name: node.name.clone(),
            package: Some(node.package_name.clone()).filter(|p| !p.is_empty()),
            properties_file: node
                .patch_path
                .as_deref()
                .map(|p| p.split_once("://").map_or(p, |(_, path)| path).to_owned()),
            original_file_path: node.original_file_path.clone(),
        };
        if let Some(&at) = by_relation.get(&relation_key) {
            let Some((existing, first_id)) = sources.get_mut(at) else { continue };
            merge(existing, source, first_id, &id).map_err(|message| Error::Conflict {
                path: path.to_path_buf(),
                message,
                help: "declare the relation once, or make both nodes agree on column types".into(),
            })?;
            warnings.push(format!(
                "dbt nodes `{first_id}` and `{id}` are the same relation {}: veil merged their tags into data source `{}`",
                relation_text(&relation_key),
                existing.name
            ));
            // Monitoring follows the built node (model, seed, snapshot) over a source.
            if relation.resource_type != "source" {
                relations.insert(existing.name.clone(), relation);
            }
            names.insert(id, existing.name.clone());
            continue;
        }
        if let Some((other, other_id)) = sources.iter().find(|(s, _)| s.name == name) {
            return Err(Error::Conflict {
                path: path.to_path_buf(),
                message: format!(
                    "dbt nodes `{other_id}` ({}) and `{id}` ({}) are different relations but both would be data source `{name}`",
                    relation_text(&(other.database.clone(), other.schema.clone(), other.identifier.clone())),
                    relation_text(&relation_key)
                ),
                help: "rename one of the relations (alias / identifier)".into(),
            });
        }
        by_relation.insert(relation_key, sources.len());
        relations.insert(name.clone(), relation);
        names.insert(id.clone(), name);
        sources.push((source, id));
    }
    let sources: Vec<DataSource> = sources.into_iter().map(|(s, _)| s).collect();

    let mut projects = Vec::new();
    for (id, value) in raw.exposures {
        let exposure: RawExposure = serde_json::from_value(value).map_err(|e| Error::json(path, &e))?;
        let depends: Vec<String> = strings(exposure.depends_on.get("nodes").unwrap_or(&Value::Null));
        graph.push(Node {
            unique_id: id,
            resource_type: exposure.resource_type.clone().unwrap_or_else(|| "exposure".into()),
            name: exposure.name.clone(),
            package_name: exposure.package_name.clone(),
            fqn: exposure.fqn.clone(),
            original_file_path: exposure.original_file_path.clone(),
            tags: strings(&exposure.tags),
            config: exposure.config.as_object().cloned().unwrap_or_default(),
            depends_on: depends.clone(),
            source_name: None,
            data_source: None,
        });
        projects.push(Project {
            purposes: veil_list(&[&exposure.meta, exposure.config.get("meta").unwrap_or(&Value::Null)], "purposes"),
            owner: exposure
                .owner
                .get("email")
                .or_else(|| exposure.owner.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            sources: depends.iter().filter_map(|id| names.get(id).cloned()).collect(),
            name: exposure.name,
        });
    }
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    untyped.sort();
    for node in &mut graph {
        node.data_source = names.get(&node.unique_id).cloned();
    }
    graph.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    Ok(DbtArtifacts {
        catalog: Catalog::from_sources(sources),
        projects,
        project_name: raw.metadata.project_name,
        untyped_columns: untyped,
        relations,
        warnings,
        nodes: graph,
    })
}

/// `"db"."schema"."identifier"`, for messages.
fn relation_text((database, schema, identifier): &(Option<String>, Option<String>, String)) -> String {
    let parts: Vec<String> = [database.as_deref(), schema.as_deref(), Some(identifier.as_str())]
        .into_iter()
        .flatten()
        .map(|p| format!("\"{p}\""))
        .collect();
    parts.join(".")
}

/// Fold `other` (a second node over the same relation) into `into`: the union of
/// table tags and of each column's tags. Columns both nodes type must agree.
fn merge(into: &mut DataSource, other: DataSource, into_id: &str, other_id: &str) -> std::result::Result<(), String> {
    for tag in other.tags {
        if !into.tags.contains(&tag) {
            into.tags.push(tag);
        }
    }
    for column in other.columns {
        match into.columns.iter_mut().find(|c| veil_policy::column_name_matches(&column.name, &c.name)) {
            Some(existing) => {
                let unknown = |t: &ColumnType| matches!(t, ColumnType::Other { name } if name == "unknown");
                if existing.column_type != column.column_type && !unknown(&column.column_type) {
                    if unknown(&existing.column_type) {
                        existing.column_type = column.column_type.clone();
                    } else {
                        return Err(format!(
                            "dbt nodes `{into_id}` and `{other_id}` are the same relation but disagree on the type of column `{}` ({} vs {})",
                            column.name, existing.column_type, column.column_type
                        ));
                    }
                }
                for tag in column.tags {
                    if !existing.tags.contains(&tag) {
                        existing.tags.push(tag);
                    }
                }
            }
            None => into.columns.push(column),
        }
    }
    Ok(())
}

fn data_source(
    name: &str,
    node: &RawNode,
    types: Option<&Vec<(String, String)>>,
    untyped: &mut Vec<String>,
    warnings: &mut Vec<String>,
    (database, schema, identifier): (Option<String>, Option<String>, String),
) -> DataSource {
    let mut tags = strings(&node.tags);
    tags.extend(strings(node.config.get("tags").unwrap_or(&Value::Null)));
    tags.extend(veil_list(&[&node.meta, node.config.get("meta").unwrap_or(&Value::Null)], "tags"));
    tags.push(format!("dbt.resource.{}", node.resource_type));
    if let Some(folder) = folder_tag(&node.original_file_path) {
        tags.push(folder);
    }
    dedup(&mut tags);

    // Documented columns, by lower-case name, with their tags and declared types.
    let documented: Vec<(String, Vec<String>, Option<String>)> = node
        .columns
        .iter()
        .filter_map(|(key, value)| {
            let column: RawColumn = serde_json::from_value(value.clone()).ok()?;
            let mut tags = strings(&column.tags);
            tags.extend(strings(column.config.get("tags").unwrap_or(&Value::Null)));
            tags.extend(veil_list(&[&column.meta, column.config.get("meta").unwrap_or(&Value::Null)], "tags"));
            dedup(&mut tags);
            Some((column.name.unwrap_or_else(|| key.clone()), tags, column.data_type))
        })
        .collect();
    // A documented name reaches a stored column as a policy's column name does
    // (ignoring case), also when written with its quotes (`'"email"'`).
    let unquoted = |n: &str| n.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(n).to_owned();
    let reaches = |documented: &str, stored: &str| veil_policy::column_name_matches(&unquoted(documented), stored);

    let columns: Vec<Column> = match types {
        Some(types) => {
            // Every documented entry reaching a column adds its tags (two entries
            // differing by case both count); a tagged entry reaching none is said.
            for (doc, doc_tags, _) in documented.iter().filter(|(_, t, _)| !t.is_empty()) {
                if !types.iter().any(|(stored, _)| reaches(doc, stored)) {
                    warnings.push(format!(
                        "dbt documents column `{doc}` of `{name}` with tags [{}], but the relation has no such column, so the tags apply nowhere (a typo, a quoted name, or catalog.json older than the model: run `dbt docs generate`)",
                        doc_tags.join(", ")
                    ));
                }
            }
            types
                .iter()
                .map(|(column, written)| {
                    let mut tags: Vec<String> = Vec::new();
                    for (_, t, _) in documented.iter().filter(|(doc, _, _)| reaches(doc, column)) {
                        for tag in t {
                            if !tags.contains(tag) {
                                tags.push(tag.clone());
                            }
                        }
                    }
                    Column { name: column.clone(), column_type: ColumnType::parse(written), tags }
                })
                .collect()
        }
        None => documented
            .iter()
            .map(|(column, tags, data_type)| {
                if data_type.is_none() {
                    untyped.push(format!("{name}.{column}"));
                }
                Column {
                    name: column.clone(),
                    column_type: data_type
                        .as_deref()
                        .map_or(ColumnType::Other { name: "unknown".into() }, ColumnType::parse),
                    tags: tags.clone(),
                }
            })
            .collect(),
    };
    let kind = node
        .config
        .get("materialized")
        .and_then(Value::as_str)
        .map_or(RelationKind::Table, RelationKind::from_materialized);
    DataSource { name: name.to_owned(), database, schema, identifier, kind, tags, columns }
}

/// The manifest's documented columns with their tags (as [`data_source`] reads them).
fn documented_columns(node: &RawNode) -> Vec<(String, Vec<String>)> {
    node.columns
        .iter()
        .filter_map(|(key, value)| {
            let column: RawColumn = serde_json::from_value(value.clone()).ok()?;
            let mut tags = strings(&column.tags);
            tags.extend(strings(column.config.get("tags").unwrap_or(&Value::Null)));
            tags.extend(veil_list(&[&column.meta, column.config.get("meta").unwrap_or(&Value::Null)], "tags"));
            dedup(&mut tags);
            Some((column.name.unwrap_or_else(|| key.clone()), tags))
        })
        .collect()
}

/// `dbt.path.marts.finance` for `models/marts/finance/payments.sql`; none at the root.
fn folder_tag(original_file_path: &str) -> Option<String> {
    let parts: Vec<&str> = original_file_path.split(['/', '\\']).collect();
    let folders = parts.get(1..parts.len().saturating_sub(1))?;
    if folders.is_empty() {
        return None;
    }
    let cleaned: Vec<String> = folders.iter().map(|f| f.replace('.', "_")).collect();
    Some(format!("dbt.path.{}", cleaned.join(".")))
}

/// A string or a list of strings.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// `meta.veil.<key>` from each of the given meta objects.
fn veil_list(metas: &[&Value], key: &str) -> Vec<String> {
    let mut out: Vec<String> =
        metas.iter().flat_map(|m| strings(m.get("veil").and_then(|v| v.get(key)).unwrap_or(&Value::Null))).collect();
    dedup(&mut out);
    out
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|t| !t.trim().is_empty() && seen.insert(t.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_tags() {
        assert_eq!(folder_tag("models/marts/finance/payments.sql").as_deref(), Some("dbt.path.marts.finance"));
        assert_eq!(folder_tag("models/customers.sql"), None);
        assert_eq!(folder_tag("models/v1.2/x.sql").as_deref(), Some("dbt.path.v1_2"));
        assert_eq!(folder_tag(""), None);
    }

    #[test]
    fn schema_versions() {
        assert_eq!(schema_version("https://schemas.getdbt.com/dbt/manifest/v12.json"), Some(12));
        assert_eq!(schema_version("nonsense"), None);
    }
}
