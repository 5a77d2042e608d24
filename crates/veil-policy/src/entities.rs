//! User-defined entities for discovery, in YAML, beside veil's built-in set:
//!
//! ```yaml
//! entities:
//!   - name: EmployeeId              # tag: Discovered.Entity.EmployeeId
//!     values: 'E-\d{6}'             # regex a value must match whole
//!     validator: luhn               # optional: one of veil's validators
//!     column_names: ['^emp', 'staff_?id']   # regexes over column names (any case)
//!     min_share: 0.8                # share of sampled values that must match
//!     min_share_named: 0.5          # the same when a column name matches
//!     requires_name: false          # found only where a column name matches
//! ```
//!
//! Every mistake (a regex that does not compile, an unknown validator, a
//! built-in entity's name, a share outside (0, 1]) is an error at the file,
//! line and column of the value.

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;
use veil_core::classify::{CustomEntity, EntityError, EntitySpec, Validator};

use crate::error::{Error, Result};
use crate::yaml::{self, Source as Text};

const HELP: &str = "an entities file has `entities: [{name, values, validator, column_names, min_share, min_share_named, requires_name}]`; see docs/discovery.md";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    entities: Vec<RawEntity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    name: Spanned<String>,
    values: Option<Spanned<String>>,
    validator: Option<Spanned<String>>,
    #[serde(default)]
    column_names: Vec<Spanned<String>>,
    min_share: Option<Spanned<f64>>,
    min_share_named: Option<Spanned<f64>>,
    #[serde(default)]
    requires_name: bool,
}

/// Parse an entities file.
///
/// ```
/// let found = veil_policy::entities_from_yaml_str(
///     "entities:\n  - {name: EmployeeId, values: 'E-\\d{6}', column_names: [emp]}\n", "entities.yaml").unwrap();
/// assert_eq!(found[0].name, "EmployeeId");
/// let bad = veil_policy::entities_from_yaml_str(
///     "entities:\n  - name: X\n    validator: crc\n", "entities.yaml").unwrap_err();
/// assert!(bad.to_string().starts_with("entities.yaml:3:16"), "{bad}");
/// ```
///
/// # Errors
/// [`Error::Yaml`] for malformed input; [`Error::Invalid`] at the offending
/// value for a bad regex, an unknown validator, a bad name or share, or a name
/// given twice.
pub fn entities_from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Vec<CustomEntity>> {
    let path = path.as_ref();
    let input = Text { path, text };
    let docs: Vec<RawFile> = yaml::documents(path, text, HELP)?;
    let mut out: Vec<CustomEntity> = Vec::new();
    for raw in docs.into_iter().flat_map(|d| d.entities) {
        let defaults = EntitySpec::default();
        let spec = EntitySpec {
            name: raw.name.value.clone(),
            values: raw.values.as_ref().map(|v| v.value.clone()),
            validator: raw.validator.as_ref().map(|v| v.value.clone()),
            column_names: raw.column_names.iter().map(|c| c.value.clone()).collect(),
            min_share: raw.min_share.as_ref().map_or(defaults.min_share, |s| s.value),
            min_share_named: raw.min_share_named.as_ref().map_or(defaults.min_share_named, |s| s.value),
            requires_name: raw.requires_name,
        };
        let entity = CustomEntity::new(&spec).map_err(|e| {
            let at = match &e {
                EntityError::Values(_) => raw.values.as_ref().map(|v| input.at(v)),
                EntityError::Validator(..) => raw.validator.as_ref().map(|v| input.at(v)),
                EntityError::ColumnName { index, .. } => raw.column_names.get(*index).map(|c| input.at(c)),
                EntityError::Rule(m) if m.contains("min_share_named") => {
                    raw.min_share_named.as_ref().map(|s| input.at(s))
                }
                EntityError::Rule(m) if m.contains("min_share") => raw.min_share.as_ref().map(|s| input.at(s)),
                _ => None,
            };
            let help = match &e {
                EntityError::Validator(..) => {
                    let known: Vec<&str> = Validator::ALL.iter().map(|(n, _)| *n).collect();
                    format!("use one of {}", known.join(", "))
                }
                EntityError::Values(_) | EntityError::ColumnName { .. } => {
                    "write the pattern in Rust regex syntax (https://docs.rs/regex); quote it in single quotes".into()
                }
                _ => HELP.into(),
            };
            Error::invalid(at.unwrap_or_else(|| input.at(&raw.name)), e.to_string(), help)
        })?;
        if out.iter().any(|x| x.name == entity.name) {
            return Err(Error::invalid(
                input.at(&raw.name),
                format!("entity `{}` is defined twice", entity.name),
                "give each entity one definition",
            ));
        }
        out.push(entity);
    }
    Ok(out)
}

/// Load an entities file, or every YAML file in a folder.
///
/// # Errors
/// As [`entities_from_yaml_str`], plus [`Error::Io`]; a name defined in two files.
pub fn load_entities(path: impl AsRef<Path>) -> Result<Vec<CustomEntity>> {
    let mut out: Vec<CustomEntity> = Vec::new();
    for (p, text) in yaml::read_files(path.as_ref())? {
        for entity in entities_from_yaml_str(&text, &p)? {
            if out.iter().any(|x| x.name == entity.name) {
                return Err(Error::invalid(
                    crate::Location::new(&p, 1, 1),
                    format!("entity `{}` is defined in two files", entity.name),
                    "give each entity one definition",
                ));
            }
            out.push(entity);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        entities_from_yaml_str(text, "e.yaml").unwrap_err().to_string()
    }

    #[test]
    fn mistakes_point_at_the_value() {
        let e = error("entities:\n  - name: A\n    values: '(unclosed'\n");
        assert!(e.starts_with("e.yaml:3:13: ") && e.contains("does not compile"), "{e}");
        let e = error("entities:\n  - name: A\n    values: 'x'\n    column_names: [ok, '[z-a]']\n");
        assert!(e.starts_with("e.yaml:4:24: ") && e.contains("column name pattern 1"), "{e}");
        let e = error("entities:\n  - name: A\n    values: 'x'\n    min_share: 1.5\n");
        assert!(e.starts_with("e.yaml:4:16: ") && e.contains("min_share"), "{e}");
        let e = error("entities:\n  - name: A\n    values: 'x'\n    min_share_named: 0\n");
        assert!(e.starts_with("e.yaml:4:22: ") && e.contains("min_share_named"), "{e}");
        let e = error("entities:\n  - name: CardNumber\n    values: 'x'\n");
        assert!(e.starts_with("e.yaml:2:11: ") && e.contains("built-in"), "{e}");
        let e = error("entities:\n  - {name: A, values: x}\n  - {name: A, values: y}\n");
        assert!(e.starts_with("e.yaml:3:12: ") && e.contains("twice"), "{e}");
        let e = error("entities:\n  - name: A\n    valus: 'x'\n");
        assert!(e.starts_with("e.yaml:3:") && e.contains("valus"), "{e}");
        let e = error("entities:\n  - name: A\n    validator: luhn\n    requires_name: true\n");
        assert!(e.starts_with("e.yaml:2:11: ") && e.contains("requires_name"), "{e}");
    }

    #[test]
    fn a_good_file_loads_with_defaults() {
        let found = entities_from_yaml_str(
            "entities:\n  - name: Loyalty.Card\n    validator: luhn\n    column_names: ['loyalty']\n",
            "e.yaml",
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].min_share, found[0].min_share_named), (0.8, 0.5));
        assert!(found[0].matches_value("79927398713") && found[0].names_column("LOYALTY_NO"));
    }
}
