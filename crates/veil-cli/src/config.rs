//! The project config, `veil.yml`: where a project's inputs are and how to
//! reach its engines, so every command runs from the dbt project folder with
//! no path flags.
//!
//! veil looks for `veil.yml` (or `veil.yaml`) in the current folder, then in
//! each folder above it, as dbt looks for `dbt_project.yml`; `--config FILE`
//! names one. Paths in it are relative to its folder. Flags override it. Like
//! dbt's own files it may call `{{ env_var('NAME') }}` and
//! `{{ env_var('NAME', 'default') }}` (for a connection URL with a password,
//! say). Without a `veil.yml`, every path must be given as a flag.
//!
//! ```yaml
//! policies: policies            # a policy file or a folder of them
//! users: users.yaml             # YAML, SCIM 2.0 JSON, CSV, or a folder of them
//! tests: tests                  # access tests (veil test); default: tests/
//! keyring: keyring.txt          # VEIL_KEYRING or --keyring win over it
//! dbt:                          # default: the dbt project in this folder
//!   project-dir: .
//!   target-path: target         # default: dbt_project.yml's target-path
//!   profiles-dir: .             # default: DBT_PROFILES_DIR, the project, ~/.dbt
//!   target: dev                 # the profile's output; default: DBT_TARGET, the profile's target
//! engine: duckdb                # what apply, verify, test --engine use by default
//! engines:
//!   duckdb:
//!     path: target/shop.duckdb  # default: the dbt profile's DuckDB path
//!   postgres:
//!     url: "{{ env_var('VEIL_POSTGRES_URL') }}"
//! ```

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// The file names veil looks for, in order.
pub const FILE_NAMES: [&str; 2] = ["veil.yml", "veil.yaml"];

const HELP: &str = "see docs/config.md for what veil.yml holds";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    #[serde(default)]
    policies: Option<PathBuf>,
    #[serde(default)]
    users: Option<PathBuf>,
    #[serde(default)]
    tests: Option<PathBuf>,
    #[serde(default)]
    catalog: Option<PathBuf>,
    #[serde(default)]
    tags: Vec<PathBuf>,
    #[serde(default)]
    keyring: Option<PathBuf>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    dbt: Option<RawDbt>,
    #[serde(default)]
    engine: Option<String>,
    #[serde(default)]
    engines: RawEngines,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDbt {
    #[serde(default)]
    project_dir: Option<PathBuf>,
    #[serde(default)]
    target_path: Option<PathBuf>,
    #[serde(default)]
    profiles_dir: Option<PathBuf>,
    #[serde(default)]
    target: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawEngines {
    #[serde(default)]
    duckdb: Option<RawDuckDb>,
    #[serde(default)]
    postgres: Option<RawPostgres>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDuckDb {
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    extension: Option<PathBuf>,
    #[serde(default)]
    python: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPostgres {
    url: String,
}

/// Where a dbt project is and how veil reads its profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dbt {
    /// The folder holding `dbt_project.yml`.
    pub project_dir: PathBuf,
    /// `target-path` (manifest.json, catalog.json), if set in veil.yml.
    pub target_path: Option<PathBuf>,
    /// Where `profiles.yml` is, if set in veil.yml.
    pub profiles_dir: Option<PathBuf>,
    /// The profile's output to use, if set in veil.yml.
    pub target: Option<String>,
}

/// A loaded `veil.yml` (or none: every field empty, paths relative to the current folder).
///
/// Every path is as the user would write it from the current folder: relative
/// to it when the config is below or above it, so messages name files the way
/// the user sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The config file, if one was found or given.
    pub file: Option<PathBuf>,
    /// The folder paths are relative to.
    pub dir: PathBuf,
    /// Policies (file or folder).
    pub policies: Option<PathBuf>,
    /// Users (file or folder).
    pub users: Option<PathBuf>,
    /// Access tests (file or folder).
    pub tests: Option<PathBuf>,
    /// A catalog YAML instead of dbt.
    pub catalog: Option<PathBuf>,
    /// Tag files added to the catalog's.
    pub tags: Vec<PathBuf>,
    /// The keyring file.
    pub keyring: Option<PathBuf>,
    /// Key id masks use.
    pub key_id: Option<String>,
    /// Schema of the secure views.
    pub schema: Option<String>,
    /// The dbt project, when there is one (set in veil.yml, or a
    /// `dbt_project.yml` beside it).
    pub dbt: Option<Dbt>,
    /// The default engine.
    pub engine: Option<String>,
    /// The DuckDB database, if set.
    pub duckdb_path: Option<PathBuf>,
    /// The veil DuckDB extension, if set.
    pub duckdb_extension: Option<PathBuf>,
    /// The Python that drives DuckDB, if set.
    pub duckdb_python: Option<String>,
    /// A PostgreSQL connection URL, if set.
    pub postgres_url: Option<String>,
}

/// `base` joined with `path`, without `.` components (`./policies` is
/// `policies`); absolute paths stay as they are.
pub fn join(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// The nearest config file: in `start`, then each folder above it. The path is
/// relative (`veil.yml`, `../veil.yml`) when `start` is the current folder given as `.`.
pub fn find(start: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(start).ok()?;
    let mut up = PathBuf::from(start);
    for dir in absolute.ancestors() {
        for name in FILE_NAMES {
            if dir.join(name).is_file() {
                return Some(join(&up, Path::new(name)));
            }
        }
        up.push("..");
    }
    None
}

/// Render `{{ env_var('NAME'[, 'default']) }}` as dbt does; other Jinja is an error.
///
/// # Errors
/// [`Error::Input`] naming `file` for a variable that is not set and has no
/// default, or a template that does not render.
pub fn render_env(text: &str, file: &Path) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_function("env_var", |name: String, default: Option<String>| match std::env::var(&name) {
        Ok(v) => Ok(v),
        Err(_) => default.ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("environment variable `{name}` is not set (and env_var gives no default)"),
            )
        }),
    });
    env.render_str(text, ()).map_err(|e| {
        let line = e.line().map_or(String::new(), |l| format!(":{l}"));
        let detail = e.detail().map_or_else(|| e.to_string(), str::to_owned);
        Error::Input(format!("{}{line}: {detail}", file.display()))
    })
}

fn parse_yaml<T: serde::de::DeserializeOwned + Default>(text: &str, file: &Path, help: &str) -> Result<T> {
    let parsed: Option<T> = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        Error::Input(format!("{}:{line}:{column}: {}\n  help: {help}", file.display(), e.without_snippet()))
    })?;
    Ok(parsed.unwrap_or_default())
}

impl Config {
    /// The config `explicit` names, else the nearest one from the current
    /// folder up, else none (an empty config over the current folder).
    ///
    /// # Errors
    /// [`Error::Input`] when the file cannot be read or is invalid (with file,
    /// line and column).
    pub fn discover(explicit: Option<&Path>) -> Result<Self> {
        match explicit.map(Path::to_path_buf).or_else(|| find(Path::new("."))) {
            Some(file) => Self::load(&file),
            None => Ok(Config { dir: PathBuf::from("."), ..Config::default() }),
        }
    }

    /// Read a config file.
    ///
    /// # Errors
    /// As [`Config::discover`].
    pub fn load(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::Input(format!("cannot read the veil config `{}`: {e}", file.display())))?;
        let raw: RawConfig = parse_yaml(&render_env(&text, file)?, file, HELP)?;
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let at = |p: &Path| join(&dir, p);
        let dbt = match raw.dbt {
            Some(d) => {
                let project_dir = at(d.project_dir.as_deref().unwrap_or(Path::new(".")));
                Some(Dbt {
                    target_path: d.target_path,
                    profiles_dir: d.profiles_dir.map(|p| at(&p)),
                    target: d.target,
                    project_dir,
                })
            }
            None if dir.join("dbt_project.yml").is_file() => Some(Dbt { project_dir: dir.clone(), ..Dbt::default() }),
            None => None,
        };
        let duckdb = raw.engines.duckdb.unwrap_or_default();
        Ok(Config {
            file: Some(file.to_path_buf()),
            policies: raw.policies.map(|p| at(&p)),
            users: raw.users.map(|p| at(&p)),
            tests: raw.tests.map(|p| at(&p)),
            catalog: raw.catalog.map(|p| at(&p)),
            tags: raw.tags.iter().map(|p| at(p)).collect(),
            keyring: raw.keyring.map(|p| at(&p)),
            key_id: raw.key_id,
            schema: raw.schema,
            dbt,
            engine: raw.engine,
            duckdb_path: duckdb.path.map(|p| at(&p)),
            duckdb_extension: duckdb.extension.map(|p| at(&p)),
            duckdb_python: duckdb.python,
            postgres_url: raw.engines.postgres.map(|p| p.url),
            dir,
        })
    }

    /// Where the config is, for messages: `veil.yml` or `(no veil.yml)`.
    pub fn describe(&self) -> String {
        self.file.as_ref().map_or_else(|| "(no veil.yml found here or above)".into(), |f| f.display().to_string())
    }

    /// dbt's target folder: veil.yml's `dbt.target-path`, else dbt_project.yml's
    /// `target-path`, else `target`, in the dbt project.
    ///
    /// # Errors
    /// [`Error::Input`] when dbt_project.yml is invalid.
    pub fn dbt_target_dir(&self) -> Result<Option<PathBuf>> {
        let Some(dbt) = &self.dbt else { return Ok(None) };
        if let Some(path) = &dbt.target_path {
            return Ok(Some(join(&dbt.project_dir, path)));
        }
        let project = DbtProject::read(&dbt.project_dir)?;
        Ok(Some(join(&dbt.project_dir, project.target_path.as_deref().unwrap_or(Path::new("target")))))
    }

    /// The DuckDB database: veil.yml's `engines.duckdb.path`, else the path of
    /// the dbt profile's output (`target`, else veil.yml's `dbt.target`, else
    /// `DBT_TARGET`, else the profile's own `target`), when it is a DuckDB one.
    ///
    /// # Errors
    /// [`Error::Input`] when dbt_project.yml or profiles.yml is invalid, or the
    /// chosen output does not exist.
    pub fn duckdb_path(&self, target: Option<&str>) -> Result<Option<PathBuf>> {
        if let Some(path) = &self.duckdb_path {
            return Ok(Some(path.clone()));
        }
        let Some(dbt) = &self.dbt else { return Ok(None) };
        let project = DbtProject::read(&dbt.project_dir)?;
        let Some(profile_name) = project.profile else { return Ok(None) };
        let Some(profiles) = profiles_file(dbt) else { return Ok(None) };
        let env_target = std::env::var("DBT_TARGET").ok();
        let target = target.or(dbt.target.as_deref()).or(env_target.as_deref());
        let output = profile_output(&profiles, &profile_name, target)?;
        if output.kind.as_deref() != Some("duckdb") {
            return Ok(None);
        }
        // dbt-duckdb opens the path relative to where dbt runs: the project folder.
        Ok(output.path.filter(|p| p != ":memory:").map(|p| join(&dbt.project_dir, Path::new(&p))))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct DbtProject {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    target_path: Option<PathBuf>,
}

impl DbtProject {
    fn read(project_dir: &Path) -> Result<Self> {
        let file = join(project_dir, Path::new("dbt_project.yml"));
        match std::fs::read_to_string(&file) {
            Ok(text) => parse_yaml(&render_env(&text, &file)?, &file, "dbt_project.yml as dbt reads it"),
            Err(_) => Ok(DbtProject::default()),
        }
    }
}

/// `profiles.yml`: veil.yml's `dbt.profiles-dir`, `DBT_PROFILES_DIR`, the
/// project folder, `~/.dbt`; the first that has one.
fn profiles_file(dbt: &Dbt) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    dirs.extend(dbt.profiles_dir.clone());
    dirs.extend(std::env::var_os("DBT_PROFILES_DIR").map(PathBuf::from));
    dirs.push(dbt.project_dir.clone());
    dirs.extend(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dbt")));
    dirs.into_iter().map(|d| join(&d, Path::new("profiles.yml"))).find(|f| f.is_file())
}

/// One output of a dbt profile.
#[derive(Debug, Default, Deserialize)]
struct Output {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Profile {
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    outputs: BTreeMap<String, serde_json::Value>,
}

fn profile_output(file: &Path, profile: &str, target: Option<&str>) -> Result<Output> {
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::Input(format!("cannot read `{}`: {e}", file.display())))?;
    let profiles: BTreeMap<String, serde_json::Value> =
        parse_yaml(&render_env(&text, file)?, file, "profiles.yml as dbt reads it")?;
    let Some(raw) = profiles.get(profile) else {
        return Err(Error::Input(format!(
            "{}: no profile `{profile}` (dbt_project.yml's `profile`); give the DuckDB file with --duckdb or engines.duckdb.path in veil.yml",
            file.display()
        )));
    };
    let profile: Profile = serde_json::from_value(raw.clone())
        .map_err(|e| Error::Input(format!("{}: profile `{profile}`: {e}", file.display())))?;
    let Some(name) = target.map(str::to_owned).or(profile.target) else {
        return Err(Error::Input(format!(
            "{}: profile has no `target`; give --target NAME (one of its outputs)",
            file.display()
        )));
    };
    let Some(output) = profile.outputs.get(&name) else {
        let known: Vec<&str> = profile.outputs.keys().map(String::as_str).collect();
        return Err(Error::Input(format!(
            "{}: the profile has no output `{name}` (it has: {}); give --target with one of them",
            file.display(),
            known.join(", ")
        )));
    };
    serde_json::from_value(output.clone())
        .map_err(|e| Error::Input(format!("{}: output `{name}`: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_are_clean() {
        assert_eq!(join(Path::new("."), Path::new("policies")), PathBuf::from("policies"));
        assert_eq!(join(Path::new(".."), Path::new("./users.yaml")), PathBuf::from("../users.yaml"));
        assert_eq!(join(Path::new("a/b"), Path::new("../c")), PathBuf::from("a/c"));
        assert_eq!(join(Path::new("../.."), Path::new("x")), PathBuf::from("../../x"));
        assert_eq!(join(Path::new("."), Path::new(".")), PathBuf::from("."));
        assert_eq!(join(Path::new("a"), Path::new("/abs")), PathBuf::from("/abs"));
    }

    #[test]
    fn env_vars_render_as_dbt_renders_them() {
        std::env::set_var("VEIL_TEST_CONFIG_VAR", "x.duckdb");
        let out = render_env("path: \"{{ env_var('VEIL_TEST_CONFIG_VAR', 'd') }}\"", Path::new("f")).unwrap();
        assert_eq!(out, "path: \"x.duckdb\"");
        let out = render_env("path: {{ env_var('VEIL_TEST_UNSET_VAR', 'd.duckdb') }}", Path::new("f")).unwrap();
        assert_eq!(out, "path: d.duckdb");
        let e = render_env("a: 1\nurl: {{ env_var('VEIL_TEST_UNSET_VAR') }}", Path::new("veil.yml")).unwrap_err();
        assert!(e.to_string().starts_with("veil.yml:2: "), "{e}");
        assert!(e.to_string().contains("`VEIL_TEST_UNSET_VAR` is not set"), "{e}");
    }
}
