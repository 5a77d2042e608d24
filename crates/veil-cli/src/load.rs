//! Loading a veil project: policies, users, and a catalog from dbt or YAML.

use std::path::PathBuf;

use veil_policy::{Catalog, Directory, Engine, PolicySet, Warning};

use crate::{Error, Result};

/// Where a project's inputs are.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// A policy file or a folder of them.
    pub policies: PathBuf,
    /// The users file.
    pub users: PathBuf,
    /// dbt's target folder (manifest.json, catalog.json).
    pub dbt_target: Option<PathBuf>,
    /// A catalog YAML file, instead of dbt.
    pub catalog: Option<PathBuf>,
    /// Tag files added to the catalog's tags (e.g. `veil discover`'s).
    pub tags: Vec<PathBuf>,
}

/// A loaded project.
pub struct Loaded {
    /// The decision engine over everything.
    pub engine: Engine,
    /// Columns dbt did not type (no catalog.json), as `source.column`.
    pub untyped_columns: Vec<String>,
    /// Warnings from reading the catalog (e.g. two dbt nodes merged into one source).
    pub catalog_warnings: Vec<Warning>,
    /// dbt's graph, for node selection (none for a catalog YAML).
    pub dbt_nodes: Option<Vec<veil_dbt::Node>>,
}

impl Loaded {
    /// Every warning: the catalog's, then the engine's (names that reach nothing,
    /// near misses, uncovered tags).
    pub fn warnings(&self) -> Vec<Warning> {
        self.catalog_warnings.iter().chain(self.engine.warnings()).cloned().collect()
    }
}

/// Load and check everything.
///
/// # Errors
/// Every invalid input, with file, line and column.
pub fn load(inputs: &Inputs) -> Result<Loaded> {
    let policies = PolicySet::load(&inputs.policies)?;
    let mut users = Directory::load(&inputs.users)?;
    let mut catalog_warnings = Vec::new();
    let mut dbt_nodes = None;
    let (catalog, untyped_columns) = match (&inputs.dbt_target, &inputs.catalog) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage("give either --dbt-target or --catalog, not both".into()));
        }
        (Some(target), None) => {
            let artifacts = veil_dbt::load(target)?;
            for project in &artifacts.projects {
                users.add_project(&project.name, project.purposes.iter().cloned());
            }
            let manifest = veil_policy::Location::new(target.join("manifest.json"), 1, 1);
            catalog_warnings.extend(
                artifacts
                    .warnings
                    .iter()
                    .map(|message| Warning { location: manifest.clone(), message: message.clone() }),
            );
            dbt_nodes = Some(artifacts.nodes);
            (artifacts.catalog, artifacts.untyped_columns)
        }
        (None, Some(path)) => (Catalog::load(path)?, Vec::new()),
        (None, None) => {
            return Err(Error::Usage(
                "no catalog: give --dbt-target <dbt project>/target or --catalog <catalog.yaml>".into(),
            ))
        }
    };
    let mut catalog = catalog;
    for file in &inputs.tags {
        catalog_warnings.extend(catalog.add_tags(file)?);
    }
    Ok(Loaded { engine: Engine::new(policies, users, catalog)?, untyped_columns, catalog_warnings, dbt_nodes })
}
