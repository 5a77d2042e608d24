//! Finding what veil needs beside the project, from whatever folder it runs in:
//! the DuckDB extension and the other built artifacts (`dist/`), and the Python
//! that drives DuckDB.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The environment variable naming the veil DuckDB extension.
pub const EXTENSION_ENV: &str = "VEIL_EXTENSION";
/// The environment variable naming the Python that drives DuckDB.
pub const PYTHON_ENV: &str = "VEIL_PYTHON";

/// Where a built artifact (`rel`, relative to the repository's `dist/`) may be,
/// most specific first: beside the veil binary, in the `dist/` of the
/// repository the binary was built in (`target/<profile>/veil` →
/// `dist/`; also the source tree it was compiled from), then `dist/` under the
/// current folder.
pub fn dist_candidates(rel: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().as_deref().and_then(Path::parent) {
        if let Some(name) = rel.file_name() {
            out.push(dir.join(name));
        }
        for up in [dir.parent(), dir.parent().and_then(Path::parent)].into_iter().flatten() {
            out.push(up.join("dist").join(rel));
        }
    }
    // The source tree this binary was compiled from (crates/veil-cli → the repository).
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(repo) = source.parent().and_then(Path::parent) {
        out.push(repo.join("dist").join(rel));
    }
    out.push(Path::new("dist").join(rel));
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// The first of [`dist_candidates`] that exists, else the repository's own
/// `dist/rel` (what the error about it will name).
pub fn dist(rel: &Path) -> PathBuf {
    let candidates = dist_candidates(rel);
    candidates.iter().find(|p| p.exists()).or(candidates.last()).cloned().unwrap_or_else(|| rel.to_path_buf())
}

/// The veil DuckDB extension: `given` (a flag or veil.yml), else
/// `VEIL_EXTENSION`, else the first of [`dist_candidates`] that exists.
///
/// # Errors
/// [`Error::Input`] saying where veil looked and what to do, when none exists.
pub fn extension(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(EXTENSION_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let rel = Path::new("veil.duckdb_extension");
    let candidates = dist_candidates(rel);
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| format!("  {}", p.display())).collect();
    Err(Error::Input(format!(
        "the veil DuckDB extension was not found; veil looked in:\n{}\nbuild it with `scripts/build-extension` in the \
         veil repository, or name it with --extension FILE, {EXTENSION_ENV}, or `engines: {{duckdb: {{extension: FILE}}}}` in veil.yml",
        looked.join("\n")
    )))
}

/// The interpreter a script's `#!` line names (`/venv/bin/python`, or the
/// program `env` runs).
fn shebang_interpreter(script: &Path) -> Option<String> {
    let text = std::fs::read(script).ok()?;
    let first = text.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?.trim();
    let mut words = line.split_whitespace();
    let program = words.next()?;
    if program.ends_with("/env") {
        words.find(|w| !w.starts_with('-')).map(str::to_owned)
    } else {
        Some(program.to_owned())
    }
}

/// The Python the `dbt` on PATH runs under (dbt-duckdb's, which has the
/// `duckdb` package), if there is one.
pub fn dbt_python() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    let dbt = std::env::split_paths(&path).map(|d| d.join("dbt")).find(|p| p.is_file())?;
    shebang_interpreter(&dbt).filter(|p| p.contains("python"))
}

/// The Python that drives DuckDB: `given` (a flag or veil.yml), else
/// `VEIL_PYTHON`, else the one dbt runs under, else `python3`.
pub fn python(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var(PYTHON_ENV).ok().filter(|p| !p.is_empty()))
        .or_else(dbt_python)
        .unwrap_or_else(|| "python3".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        let dir = std::env::temp_dir().join(format!("veil-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("dbt");
        std::fs::write(&script, "#!/opt/venv/bin/python3.11\nimport sys\n").unwrap();
        assert_eq!(shebang_interpreter(&script).as_deref(), Some("/opt/venv/bin/python3.11"));
        std::fs::write(&script, "#!/usr/bin/env -S python3 -u\n").unwrap();
        assert_eq!(shebang_interpreter(&script).as_deref(), Some("python3"));
        std::fs::write(&script, "no shebang\n").unwrap();
        assert_eq!(shebang_interpreter(&script), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dist_candidates_end_in_the_current_folder() {
        let c = dist_candidates(Path::new("js/slim"));
        assert_eq!(c.last(), Some(&PathBuf::from("dist/js/slim")));
        assert!(c.iter().any(|p| p.ends_with("dist/js/slim") && p.is_absolute()));
    }
}
