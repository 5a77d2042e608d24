//! Loading a veil project: policies, users, and a catalog from dbt or YAML.

use std::path::PathBuf;

use veil_component_host::mask::{self, Arg};
use veil_component_host::ValueType;
use veil_policy::{Catalog, ComponentUse, Directory, Engine, Literal, PolicySet, Warning};

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
    veil_policy::check_components(policies.policies(), check_component)?;
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

/// A custom mask's component checked against the `veil:mask` contract
/// (wit/mask/mask.wit): the file is a component importing nothing, it exports
/// the contract's `abi-version`, `function` is a mask (text in and out, veil's
/// error), and the policy's params are its parameters, in order, of their types.
fn check_component(used: &ComponentUse<'_>) -> std::result::Result<(), (String, String)> {
    const CONTRACT: &str =
        "a custom mask is a component of the `veil:mask` contract: see wit/mask/mask.wit and examples/masks/iban";
    let file = used.component.display();
    let bytes = std::fs::read(used.component).map_err(|e| {
        (format!("cannot read component `{file}`: {e}"), "the path is relative to this policy file".to_owned())
    })?;
    let exports =
        veil_component_host::inspect(&bytes).map_err(|e| (format!("component `{file}`: {e}"), CONTRACT.to_owned()))?;
    let contract = exports.functions.iter().any(|f| {
        f.interface.is_none() && f.name == "abi-version" && f.params.is_empty() && f.returns.ty == ValueType::U32
    });
    if !contract {
        return Err((
            format!(
                "component `{file}` does not export `abi-version: func() -> u32`: it is not a `veil:mask` component"
            ),
            "its world must `include veil:mask/mask@0.1.0`".to_owned(),
        ));
    }
    let function =
        mask::check(&exports, used.function).map_err(|e| (format!("component `{file}`: {e}"), CONTRACT.to_owned()))?;
    let params: Vec<(String, Arg)> = used.params.iter().map(|(name, value)| (name.clone(), arg(value))).collect();
    mask::check_params(function, &params).map_err(|e| {
        (format!("component `{file}`: {e}"), format!("write `params: {{…}}` as `{}` declares them", function.wit()))
    })
}

fn arg(value: &Literal) -> Arg {
    match value {
        Literal::Boolean(b) => Arg::Bool(*b),
        Literal::Integer(i) => Arg::Int(*i),
        Literal::Float(f) => Arg::Float(*f),
        Literal::Text(s) => Arg::Text(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use std::path::PathBuf;

    use veil_policy::PolicySet;

    fn dist(file: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist").join(file)
    }

    /// What `load` says of one component mask on `dist/<file>`.
    fn checked(file: &str, function: &str, params: &str) -> Result<(), String> {
        let text = format!(
            "name: m\ntype: data\nrules:\n  - type: mask\n    columns: {{names: [iban]}}\n    mask: {{type: component, component: {}, function: {function}{params}}}\n",
            dist(file).display()
        );
        let set = PolicySet::from_yaml_str(&text, "p.yaml").unwrap();
        veil_policy::check_components(set.policies(), super::check_component).map_err(|e| e.to_string())
    }

    #[test]
    fn a_component_mask_is_checked_against_the_contract_at_its_location() {
        assert!(
            dist("masks/iban.wasm").exists() && dist("test/hostile-import.wasm").exists(),
            "run scripts/build-wasm"
        );
        checked("masks/iban.wasm", "redact-iban", "").unwrap();
        checked("masks/iban.wasm", "mask-iban", ", params: {keep-last: 4, fill: '*'}").unwrap();
        let refused = [
            ("masks/iban.wasm", "nope", "", "no export `nope`; it exports `abi-version`, `redact-iban`, `mask-iban`"),
            ("masks/iban.wasm", "abi-version", "", "its first parameter must be the value"),
            ("masks/iban.wasm", "mask-iban", "", "needs parameter `keep-last` (u32)"),
            ("masks/iban.wasm", "mask-iban", ", params: {keep-last: -1, fill: '*'}", "`u32`, which `-1` is not"),
            ("masks/iban.wasm", "mask-iban", ", params: {keep-last: 1, fill: '**'}", "`char`"),
            ("masks/iban.wasm", "redact-iban", ", params: {x: 1}", "takes no parameters besides the value"),
            ("test/hostile-import.wasm", "x", "", "imports `now`"),
            ("../README.md", "x", "", "not a valid WebAssembly component"),
            ("no-such.wasm", "x", "", "cannot read component"),
        ];
        for (file, function, params, expected) in refused {
            let e = checked(file, function, params).expect_err(function);
            assert!(e.starts_with("p.yaml:6:18: "), "{e}");
            assert!(e.contains(expected), "{file} {function}: `{expected}` not in {e}");
        }
    }
}
