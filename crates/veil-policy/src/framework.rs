//! Classification frameworks: from discovered *entity* tags, in table context,
//! to *category* and *sensitivity* tags that policies target. The default is
//! `framework.yaml` beside this file (docs/discovery.md).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Location, Result};
use crate::yaml;

const HELP: &str = "a framework has `levels` (lowest first), `entities: {<Entity>: {categories, sensitivity}}` and optional `tables: [{when: [entities], categories, sensitivity}]`; see docs/discovery.md";

/// Tag prefix of discovered entities.
pub const ENTITY_TAG: &str = "Discovered.Entity";
/// Tag prefix of derived categories.
pub const CATEGORY_TAG: &str = "Discovered.Category";
/// Tag prefix of derived sensitivity levels.
pub const SENSITIVITY_TAG: &str = "Discovered.Sensitivity";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFramework {
    levels: Vec<String>,
    entities: BTreeMap<String, RawRule>,
    #[serde(default)]
    tables: Vec<RawTableRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    categories: Vec<String>,
    sensitivity: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTableRule {
    when: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    sensitivity: String,
}

/// What a framework derives for one entity, or for entities met together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    /// Category names (tags under [`CATEGORY_TAG`]).
    pub categories: Vec<String>,
    /// Index into [`Framework::levels`].
    pub sensitivity: usize,
}

/// A classification framework.
#[derive(Clone, Debug)]
pub struct Framework {
    /// Sensitivity levels, lowest first.
    pub levels: Vec<String>,
    /// Per entity name.
    pub entities: BTreeMap<String, Derived>,
    /// (entities that must all be in one table, what their columns also get).
    pub tables: Vec<(Vec<String>, Derived)>,
}

impl Framework {
    /// veil's default framework.
    ///
    /// ```
    /// let f = veil_policy::Framework::default_framework();
    /// let tags = f.tags(&["EmailAddress".to_string()], &["EmailAddress".to_string()]);
    /// assert!(tags.contains(&"Discovered.Category.PII".to_string()));
    /// assert!(tags.contains(&"Discovered.Sensitivity.Confidential".to_string()));
    /// ```
    pub fn default_framework() -> Framework {
        // The shipped file is tested to parse (tests/discovery in veil-policy).
        Framework::from_yaml_str(include_str!("framework.yaml"), "framework.yaml").unwrap_or(Framework {
            levels: Vec::new(),
            entities: BTreeMap::new(),
            tables: Vec::new(),
        })
    }

    /// Parse a framework.
    ///
    /// # Errors
    /// [`Error::Yaml`] for malformed input; [`Error::Invalid`] for a sensitivity
    /// that is not one of `levels`.
    pub fn from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Framework> {
        let path = path.as_ref();
        let docs: Vec<RawFramework> = yaml::documents(path, text, HELP)?;
        let Some(raw) = docs.into_iter().next() else {
            return Err(Error::invalid(Location::new(path, 1, 1), "the framework file is empty", HELP));
        };
        let level = |name: &str| {
            raw.levels.iter().position(|l| l == name).ok_or_else(|| {
                Error::invalid(
                    Location::new(path, 1, 1),
                    format!("sensitivity `{name}` is not one of the levels {:?}", raw.levels),
                    "add it to `levels` (lowest first) or use one of them",
                )
            })
        };
        let mut entities = BTreeMap::new();
        for (name, rule) in &raw.entities {
            entities.insert(
                name.clone(),
                Derived { categories: rule.categories.clone(), sensitivity: level(&rule.sensitivity)? },
            );
        }
        let mut tables = Vec::new();
        for rule in &raw.tables {
            tables.push((
                rule.when.clone(),
                Derived { categories: rule.categories.clone(), sensitivity: level(&rule.sensitivity)? },
            ));
        }
        Ok(Framework { levels: raw.levels.clone(), entities, tables })
    }

    /// Every tag discovery can give a column under this framework: the built-in
    /// entities and those the framework names, its categories, its levels.
    ///
    /// ```
    /// let tags = veil_policy::Framework::default_framework().discoverable_tags();
    /// assert!(tags.contains(&"Discovered.Entity.UsSsn".to_string()));
    /// assert!(tags.contains(&"Discovered.Category.PII.Identifying".to_string()));
    /// assert!(tags.contains(&"Discovered.Sensitivity.Restricted".to_string()));
    /// ```
    pub fn discoverable_tags(&self) -> Vec<String> {
        let entities =
            veil_core::classify::Entity::ALL.iter().map(|e| e.name()).chain(self.entities.keys().map(String::as_str));
        let categories =
            self.entities.values().chain(self.tables.iter().map(|(_, d)| d)).flat_map(|d| d.categories.iter());
        let mut out: Vec<String> = entities
            .map(|e| format!("{ENTITY_TAG}.{e}"))
            .chain(categories.map(|c| format!("{CATEGORY_TAG}.{c}")))
            .chain(self.levels.iter().map(|l| format!("{SENSITIVITY_TAG}.{l}")))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The tags of a column holding `entities`, in a table holding `table_entities`:
    /// its entity tags, then the categories and the highest sensitivity derived.
    pub fn tags(&self, entities: &[String], table_entities: &[String]) -> Vec<String> {
        let mut tags: Vec<String> = entities.iter().map(|e| format!("{ENTITY_TAG}.{e}")).collect();
        let mut categories: Vec<&str> = Vec::new();
        let mut sensitivity: Option<usize> = None;
        let derived =
            entities.iter().filter_map(|e| self.entities.get(e)).chain(self.tables.iter().filter_map(|(when, d)| {
                let applies =
                    when.iter().all(|w| table_entities.contains(w)) && entities.iter().any(|e| when.contains(e));
                applies.then_some(d)
            }));
        for d in derived {
            sensitivity = Some(sensitivity.map_or(d.sensitivity, |s| s.max(d.sensitivity)));
            categories.extend(d.categories.iter().map(String::as_str));
        }
        for c in categories {
            let tag = format!("{CATEGORY_TAG}.{c}");
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if let Some(level) = sensitivity.and_then(|s| self.levels.get(s)) {
            tags.push(format!("{SENSITIVITY_TAG}.{level}"));
        }
        tags
    }
}
