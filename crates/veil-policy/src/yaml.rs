//! Loading YAML through serde-saphyr, keeping file:line:column for every error.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::{Error, Location, Result};

/// One input text and its name, so spans can be turned into [`Location`]s.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// The location of a spanned value.
    pub fn at<T>(&self, spanned: &Spanned<T>) -> Location {
        let at = spanned.referenced;
        Location::new(self.path, at.line() as usize, at.column() as usize)
    }

    /// The location of the `offset`-th character *inside* a scalar string value,
    /// accounting for its opening quote and escapes, so DSL and SQL errors point
    /// at the right column. Multi-line scalars point at their first line.
    pub fn inside(&self, spanned: &Spanned<String>, offset: usize) -> Location {
        let at = spanned.referenced;
        let base = Location::new(self.path, at.line() as usize, at.column() as usize);
        let Some(byte) = at.span().byte_offset() else {
            return base;
        };
        let Some(raw) = self.text.get(byte as usize..) else {
            return base;
        };
        let mut chars = raw.chars().peekable();
        let quote = match chars.peek() {
            Some('\'') => Some('\''),
            Some('"') => Some('"'),
            _ => None,
        };
        let mut column = base.column;
        if quote.is_some() {
            chars.next();
            column += 1;
        }
        let mut decoded = 0;
        while decoded < offset {
            let Some(c) = chars.next() else { break };
            if c == '\n' {
                break;
            }
            column += 1;
            // `''` and `\x` are two raw characters for one decoded one.
            let escape = matches!((quote, c), (Some('\''), '\'') | (Some('"'), '\\'));
            if escape && chars.next().is_some() {
                column += 1;
            }
            decoded += 1;
        }
        Location::new(self.path, base.line, column)
    }
}

/// How many values (nodes, aliases expanded) one YAML file may hold: room for a
/// users file of a few hundred thousand users. Files written by tools share
/// repeated values through anchors (PyYAML writes `&id001` for every list it
/// meets twice), so aliases are welcome however many there are; this cap only
/// stops an "alias bomb" (a few lines expanding to billions of values).
pub const MAX_VALUES: usize = 2_000_000;

/// Parser limits: serde-saphyr's defaults, except that aliases may outnumber
/// anchors (its ratio heuristic refuses ordinary PyYAML output) and that a file
/// may hold up to [`MAX_VALUES`] values, aliases expanded.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            enforce_alias_anchor_ratio: false,
            max_nodes: MAX_VALUES,
            max_events: 4 * MAX_VALUES,
        },
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: MAX_VALUES },
    }
}

/// A limit message that says which limit and what to do, instead of the parser's own.
fn limit_message(error: &serde_saphyr::Error) -> Option<(String, String)> {
    use serde_saphyr::Error as E;
    let aliases = "write the file without anchors and aliases (PyYAML: `yaml.dump(data, Dumper=NoAliasDumper)` with `class NoAliasDumper(yaml.SafeDumper): ignore_aliases = lambda self, data: True`), or split it into several files in one folder";
    match error {
        E::AliasReplayLimitExceeded { .. } | E::AliasExpansionLimitExceeded { .. } => Some((
            format!("its aliases (`*name`) expand to more than {MAX_VALUES} values, veil's limit against alias bombs"),
            aliases.into(),
        )),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => Some((
            format!("aliases nest more than {max_depth} deep (an alias inside an anchored value inside another ...)"),
            aliases.into(),
        )),
        // A limit reached while an alias is replayed comes wrapped, as text.
        E::AliasError { msg, .. } if msg.starts_with("budget breached") || msg.starts_with("alias replay") => Some((
            format!("its aliases (`*name`) expand to more than {MAX_VALUES} values, veil's limit against alias bombs"),
            aliases.into(),
        )),
        E::Budget { breach, .. } => Some((
            format!("the file is larger or deeper than veil reads ({})", breach_text(breach)),
            "split it into several files in one folder (each command takes a folder), or flatten deeply nested values"
                .into(),
        )),
        _ => None,
    }
}

fn breach_text(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Events { events } => format!("{events} parser events"),
        B::Aliases { aliases } => format!("{aliases} aliases"),
        B::Anchors { anchors } => format!("{anchors} anchors"),
        B::Depth { depth } => format!("nesting {depth} deep"),
        B::Documents { documents } => format!("{documents} documents"),
        B::Nodes { nodes } => format!("{nodes} values"),
        B::ScalarBytes { total_scalar_bytes } => format!("{total_scalar_bytes} bytes of text"),
        other => format!("{other:?}"),
    }
}

fn yaml_error(path: &Path, error: &serde_saphyr::Error, help: &str) -> Error {
    let (line, column) = error.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((1, 1));
    if let Some((message, help)) = limit_message(error.without_snippet()) {
        return Error::Yaml { location: Location::new(path, line, column), message, help };
    }
    let message = error.without_snippet().to_string();
    // serde-saphyr prefixes some messages with its own position; ours comes first.
    let message = message.strip_prefix("error: ").unwrap_or(&message).to_string();
    let message = match message.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_string(),
        _ => message,
    };
    Error::Yaml { location: Location::new(path, line, column), message, help: help.to_string() }
}

/// Every YAML document in `text` as `T`; empty documents are skipped.
pub(crate) fn documents<T: DeserializeOwned>(path: &Path, text: &str, help: &str) -> Result<Vec<T>> {
    let docs: Vec<Option<T>> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| yaml_error(path, &e, help))?;
    Ok(docs.into_iter().flatten().collect())
}

/// Read a file, or every `*.yaml`/`*.yml` file below a folder (sorted by path,
/// so load order, and with it tie-breaking, is reproducible).
pub(crate) fn read_files(path: &Path) -> Result<Vec<(PathBuf, String)>> {
    read_files_with(path, &["yaml", "yml", "json"])
}

/// A file, or every file below a folder with one of these extensions (sorted
/// by path), each with its text.
///
/// # Errors
/// [`Error::Io`] naming the file or folder that cannot be read.
pub fn read_files_with(path: &Path, extensions: &[&str]) -> Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    collect(path, extensions, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|source| Error::Io { path: p.clone(), source })?;
            Ok((p, text))
        })
        .collect()
}

fn collect(path: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let p = entry.path();
            if p.is_dir() {
                collect(&p, extensions, out)?;
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)) {
                out.push(p);
            }
        }
        Ok(())
    } else {
        // Surface a missing file as an I/O error rather than an empty set.
        std::fs::metadata(path).map_err(io)?;
        out.push(path.to_path_buf());
        Ok(())
    }
}

/// A YAML value that may be written as one item or a list of items.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}
