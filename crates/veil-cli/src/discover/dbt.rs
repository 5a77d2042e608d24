//! `veil discover --write-dbt`: the tags discovery found, as a unified diff of
//! the dbt project's properties files (`schema.yml`), for review. veil never
//! edits the project: the reviewer applies the patch (`git apply`), edits it,
//! or throws it away.
//!
//! Edits are made in the text, so comments, order and quoting stay as written:
//! a column's flow list of tags (`tags: ["PII.Email"]`) gets the new tags
//! appended, a block list new items, a column without tags a `tags:` line, a
//! column the file does not list a new entry, a model without a properties
//! file a new `_veil_discovered.yml` beside it. Each edit carries a comment
//! with the evidence. What cannot be edited safely (flow-style entries,
//! packages other than the project) is listed as a note, never guessed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Spanned;
use similar::TextDiff;
use veil_dbt::DbtArtifacts;

use super::{ColumnFinding, Evidence};
use crate::{Error, Result};

/// Name of the properties file veil proposes for nodes that have none.
pub const NEW_FILE: &str = "_veil_discovered.yml";

/// A patch for the dbt project, and what it could not do.
#[derive(Clone, Debug, Default)]
pub struct DbtPatch {
    /// A unified diff, paths relative to the project (`git apply` / `patch -p1`).
    pub diff: String,
    /// Files the diff changes or creates, relative to the project.
    pub files: Vec<String>,
    /// Columns given tags.
    pub columns: usize,
    /// Findings left for a person (flow-style YAML, other packages, sources).
    pub notes: Vec<String>,
}

impl DbtPatch {
    /// The patch file: notes as leading comment lines (tools skip text before
    /// the first `---`), then the diff.
    pub fn to_file(&self) -> String {
        let mut out = String::from(
            "# Written by `veil discover --write-dbt`: tags found by sampling, for the dbt project's\n\
             # properties files. Review, then apply from the project folder: git apply <this file>\n",
        );
        for note in &self.notes {
            let _ = writeln!(out, "# not patched: {note}");
        }
        out.push_str(&self.diff);
        out
    }
}

#[derive(Deserialize)]
struct PropertiesFile {
    #[serde(default)]
    models: Vec<Node>,
    #[serde(default)]
    seeds: Vec<Node>,
    #[serde(default)]
    snapshots: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    name: Spanned<String>,
    #[serde(default)]
    columns: Option<Spanned<Vec<PropertiesColumn>>>,
}

#[derive(Deserialize)]
struct PropertiesColumn {
    name: Spanned<String>,
    #[serde(default)]
    tags: Option<Spanned<IgnoredAny>>,
}

/// The tags to add to one node's columns.
struct NodeTags<'a> {
    /// `models`, `seeds` or `snapshots`.
    section: &'static str,
    node: &'a str,
    wanted: Vec<Wanted<'a>>,
}

/// One column's tags to add, with why.
struct Wanted<'a> {
    column: &'a str,
    tags: Vec<String>,
    evidence: String,
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(tags: &[String]) -> String {
    tags.iter().map(|t| quoted(t)).collect::<Vec<_>>().join(", ")
}

/// The properties-file key for a resource type.
fn section(resource_type: &str) -> Option<&'static str> {
    match resource_type {
        "model" => Some("models"),
        "seed" => Some("seeds"),
        "snapshot" => Some("snapshots"),
        _ => None,
    }
}

/// Text edits by 0-based line: lines inserted before it, or the line replaced.
#[derive(Default)]
struct Edits {
    insert: BTreeMap<usize, Vec<String>>,
    replace: BTreeMap<usize, String>,
}

impl Edits {
    fn apply(&self, text: &str) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = String::new();
        for i in 0..=lines.len() {
            for l in self.insert.get(&i).into_iter().flatten() {
                out.push_str(l);
                out.push('\n');
            }
            if let Some(line) = lines.get(i) {
                out.push_str(self.replace.get(&i).map_or(line, String::as_str));
                out.push('\n');
            }
        }
        out
    }
}

/// Leading spaces of a line.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The column (0-based byte) of the dash of a block sequence whose span starts
/// at `at` on `line`: the line's first non-space is a dash with only spaces
/// between it and `at` (indented and indentless sequences alike).
fn block_dash(line: &str, at: usize) -> Option<usize> {
    let d = indent(line);
    let dashed = line.get(d..).is_some_and(|rest| rest.starts_with('-'));
    let between = line.get(d + 1..at.max(d + 1)).is_some_and(|gap| gap.trim().is_empty());
    (dashed && (at == d || between)).then_some(d)
}

/// The byte index of the `]` closing the flow list opening at `open`, on the same line.
fn closing_bracket(line: &str, open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices().skip_while(|(i, _)| *i <= open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') => return Some(i),
            (None, '[' | '{') => return None,
            _ => {}
        }
    }
    None
}

/// The 0-based line after the last line of the block sequence whose first dash is on `first`.
fn after_block_sequence(lines: &[&str], first: usize, dash_at: usize) -> usize {
    let mut end = first + 1;
    for (i, line) in lines.iter().enumerate().skip(first + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent(line) > dash_at || (indent(line) == dash_at && trimmed.starts_with('-')) {
            end = i + 1;
        } else {
            break;
        }
    }
    end
}

/// Edits to `text` adding `wanted` to node `node` (in `section`); notes for what cannot be done.
fn edit_node(
    text: &str,
    file: &str,
    section: &str,
    node: &str,
    wanted: &[Wanted<'_>],
    edits: &mut Edits,
    notes: &mut Vec<String>,
) -> std::result::Result<bool, String> {
    let parsed: PropertiesFile = serde_saphyr::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let nodes = match section {
        "models" => &parsed.models,
        "seeds" => &parsed.seeds,
        _ => &parsed.snapshots,
    };
    let Some(n) = nodes.iter().find(|n| n.name.value == node) else { return Ok(false) };
    let lines: Vec<&str> = text.lines().collect();
    let at = |s: &serde_saphyr::Location| (s.line() as usize).saturating_sub(1);
    let name_line = at(&n.name.referenced);
    let key_indent = |line: usize, value_col: usize| -> Option<usize> {
        let l = lines.get(line)?;
        let before = l.get(..value_col.saturating_sub(1))?;
        (!before.contains('{')).then(|| before.rfind("name")).flatten()
    };
    let Some(node_indent) = key_indent(name_line, n.name.referenced.column() as usize) else {
        notes.push(format!("{file}: `{node}` is written in flow style; add its tags by hand"));
        return Ok(true);
    };
    let mut new_columns: Vec<String> = Vec::new();
    for w in wanted {
        let comment = format!("# veil discover: {}", w.evidence);
        let existing =
            n.columns.as_ref().and_then(|c| c.value.iter().find(|c| c.name.value.eq_ignore_ascii_case(w.column)));
        let Some(c) = existing else {
            new_columns.push(format!("- name: {}", quoted(w.column)));
            new_columns.push(format!("  {comment}"));
            new_columns.push(format!("  tags: [{}]", list(&w.tags)));
            continue;
        };
        let c_line = at(&c.name.referenced);
        let Some(c_indent) = key_indent(c_line, c.name.referenced.column() as usize) else {
            notes.push(format!(
                "{file}: column `{}` of `{node}` is written in flow style; add {} by hand",
                w.column,
                list(&w.tags)
            ));
            continue;
        };
        match &c.tags {
            None => {
                let pad = " ".repeat(c_indent);
                edits
                    .insert
                    .entry(c_line + 1)
                    .or_default()
                    .extend([format!("{pad}{comment}"), format!("{pad}tags: [{}]", list(&w.tags))]);
            }
            Some(tags) => {
                let t_line = at(&tags.referenced);
                let line = lines.get(t_line).copied().unwrap_or_default();
                let col = (tags.referenced.column() as usize).saturating_sub(1);
                if line.get(col..).is_some_and(|rest| rest.starts_with('[')) {
                    let Some(close) = closing_bracket(line, col) else {
                        notes.push(format!(
                            "{file}: the tags of `{node}.{}` span lines; add {} by hand",
                            w.column,
                            list(&w.tags)
                        ));
                        continue;
                    };
                    let empty = line.get(col + 1..close).is_some_and(|inside| inside.trim().is_empty());
                    let joined = if empty { list(&w.tags) } else { format!(", {}", list(&w.tags)) };
                    let (head, tail) = line.split_at(close);
                    edits.replace.insert(t_line, format!("{}{joined}{tail}", head.trim_end_matches(' ')));
                    edits.insert.entry(t_line).or_default().push(format!("{}{comment}", " ".repeat(c_indent)));
                } else if let Some(d) = block_dash(line, col) {
                    let end = after_block_sequence(&lines, t_line, d);
                    let pad = " ".repeat(d);
                    let entry = edits.insert.entry(end).or_default();
                    entry.push(format!("{pad}{comment}"));
                    entry.extend(w.tags.iter().map(|t| format!("{pad}- {}", quoted(t))));
                } else {
                    notes.push(format!(
                        "{file}: `{node}.{}` has one tag written as a scalar; add {} by hand",
                        w.column,
                        list(&w.tags)
                    ));
                }
            }
        }
    }
    if new_columns.is_empty() {
        return Ok(true);
    }
    match &n.columns {
        Some(columns) => {
            let line = at(&columns.referenced);
            let col = (columns.referenced.column() as usize).saturating_sub(1);
            let Some(d) = lines.get(line).and_then(|l| block_dash(l, col)) else {
                notes.push(format!("{file}: the columns of `{node}` are a flow list; add the new columns by hand"));
                return Ok(true);
            };
            let pad = " ".repeat(d);
            edits.insert.entry(line).or_default().extend(new_columns.iter().map(|l| format!("{pad}{l}")));
        }
        None => {
            let pad = " ".repeat(node_indent);
            let entry = edits.insert.entry(name_line + 1).or_default();
            entry.push(format!("{pad}columns:"));
            entry.extend(new_columns.iter().map(|l| format!("{pad}  {l}")));
        }
    }
    Ok(true)
}

/// A new properties file holding `nodes`.
fn new_file(nodes: &[NodeTags<'_>]) -> String {
    let mut out = String::from("# Proposed by `veil discover --write-dbt`: tags found by sampling.\nversion: 2\n");
    let mut by_section: BTreeMap<&str, Vec<&NodeTags<'_>>> = BTreeMap::new();
    for n in nodes {
        by_section.entry(n.section).or_default().push(n);
    }
    for (section, nodes) in by_section {
        let _ = writeln!(out, "\n{section}:");
        for NodeTags { node, wanted, .. } in nodes {
            let _ = writeln!(out, "  - name: {}\n    columns:", quoted(node));
            for w in wanted {
                let _ = writeln!(
                    out,
                    "      - name: {}\n        # veil discover: {}\n        tags: [{}]",
                    quoted(w.column),
                    w.evidence,
                    list(&w.tags)
                );
            }
        }
    }
    out
}

/// The patch adding `findings`' tags to the dbt project at `root` (the folder
/// holding `dbt_project.yml`), whose artifacts are `artifacts`.
///
/// # Errors
/// [`Error::Input`] when a properties file cannot be read or parsed.
pub fn dbt_patch(root: &Path, artifacts: &DbtArtifacts, findings: &[ColumnFinding]) -> Result<DbtPatch> {
    let mut patch = DbtPatch::default();
    let mut existing: BTreeMap<String, Vec<NodeTags<'_>>> = BTreeMap::new();
    let mut created: BTreeMap<String, Vec<NodeTags<'_>>> = BTreeMap::new();
    let mut by_source: BTreeMap<&str, Vec<&ColumnFinding>> = BTreeMap::new();
    for f in findings {
        by_source.entry(&f.source).or_default().push(f);
    }
    for (source, found) in by_source {
        let Some(relation) = artifacts.relations.get(source) else {
            patch.notes.push(format!("data source `{source}` is not a dbt node"));
            continue;
        };
        let foreign = relation.package.as_deref().zip(artifacts.project_name.as_deref()).is_some_and(|(p, me)| p != me);
        let Some(section) = section(&relation.resource_type).filter(|_| !foreign) else {
            let what = if foreign { "in another package" } else { "a dbt source" };
            patch.notes.push(format!("`{source}` is {what}; tag it where it is defined"));
            continue;
        };
        // Tags dbt already has (an earlier patch applied) are not proposed again.
        let has = |column: &str| {
            relation.documented_columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(column)).map(|(_, t)| t.as_slice())
        };
        let wanted: Vec<Wanted<'_>> = found
            .iter()
            .map(|f| Wanted {
                column: &f.column,
                tags: f.tags.iter().filter(|t| !has(&f.column).unwrap_or_default().contains(t)).cloned().collect(),
                evidence: f.entities.iter().map(Evidence::describe).collect::<Vec<_>>().join("; "),
            })
            .filter(|w| !w.tags.is_empty())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let tags = NodeTags { section, node: &relation.name, wanted };
        match &relation.properties_file {
            Some(file) => existing.entry(file.clone()).or_default().push(tags),
            None => {
                let folder =
                    Path::new(&relation.original_file_path).parent().map(Path::to_path_buf).unwrap_or_default();
                created.entry(free_name(root, &folder)).or_default().push(tags);
            }
        }
    }
    let mut diff = String::new();
    for (file, nodes) in existing {
        let path = root.join(&file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Input(format!("cannot read dbt properties file `{}`: {e}", path.display())))?;
        let mut edits = Edits::default();
        for NodeTags { section, node, wanted } in &nodes {
            let found = edit_node(&text, &file, section, node, wanted, &mut edits, &mut patch.notes)
                .map_err(|e| Error::Input(format!("cannot read dbt properties file {e}")))?;
            if found {
                patch.columns += wanted.len();
            } else {
                patch.notes.push(format!("{file} does not describe `{node}` (stale manifest? run dbt parse)"));
            }
        }
        let after = edits.apply(&text);
        if after != text {
            unified(&mut diff, &text, &after, &format!("a/{file}"), &format!("b/{file}"));
            patch.files.push(file);
        }
    }
    for (file, nodes) in created {
        patch.columns += nodes.iter().map(|n| n.wanted.len()).sum::<usize>();
        unified(&mut diff, "", &new_file(&nodes), "/dev/null", &format!("b/{file}"));
        patch.files.push(file);
    }
    patch.diff = diff;
    Ok(patch)
}

/// `folder/_veil_discovered.yml`, or `_veil_discovered_2.yml`… if taken.
fn free_name(root: &Path, folder: &Path) -> String {
    let mut n = 1;
    loop {
        let name = if n == 1 { NEW_FILE.to_owned() } else { NEW_FILE.replace(".yml", &format!("_{n}.yml")) };
        let candidate: PathBuf = folder.join(name);
        if !root.join(&candidate).exists() {
            return candidate.to_string_lossy().replace('\\', "/");
        }
        n += 1;
    }
}

fn unified(out: &mut String, before: &str, after: &str, old: &str, new: &str) {
    let diff = TextDiff::from_lines(before, after);
    let _ = write!(out, "{}", diff.unified_diff().context_radius(3).header(old, new));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SCHEMA: &str = "version: 2

models:
  - name: customers
    config:
      tags: [\"Customer\"]   # table tags
    columns:
      - name: email
        tags: [\"PII.Email\"]
      - name: phone
        tags:
          - PII.Phone
        description: a phone
      - name: notes
      - description: first
        name: ssn
      - {name: card, tags: [PCI]}
  - name: orders
    description: no columns yet
";

    fn wanted<'a>(column: &'a str, tag: &str) -> Wanted<'a> {
        Wanted { column, tags: vec![tag.to_owned()], evidence: "E (confidence 1.00)".into() }
    }

    fn patched(node: &str, w: &[Wanted<'_>]) -> (String, Vec<String>) {
        let mut edits = Edits::default();
        let mut notes = Vec::new();
        assert!(edit_node(SCHEMA, "schema.yml", "models", node, w, &mut edits, &mut notes).unwrap());
        (edits.apply(SCHEMA), notes)
    }

    #[test]
    fn every_shape_of_column_gets_its_tags() {
        let (after, notes) = patched(
            "customers",
            &[
                wanted("email", "D.Email"),
                wanted("PHONE", "D.Phone"),
                wanted("notes", "D.Note"),
                wanted("ssn", "D.Ssn"),
                wanted("card", "D.Card"),
                wanted("birth_date", "D.Birth"),
            ],
        );
        assert!(after.contains("        tags: [\"PII.Email\", \"D.Email\"]\n"), "{after}");
        assert!(after.contains("          - PII.Phone\n          # veil discover: E (confidence 1.00)\n          - \"D.Phone\"\n        description: a phone\n"), "{after}");
        assert!(
            after.contains(
                "      - name: notes\n        # veil discover: E (confidence 1.00)\n        tags: [\"D.Note\"]\n"
            ),
            "{after}"
        );
        assert!(
            after.contains(
                "        name: ssn\n        # veil discover: E (confidence 1.00)\n        tags: [\"D.Ssn\"]\n"
            ),
            "{after}"
        );
        assert!(after.contains("      - name: \"birth_date\"\n"), "{after}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("`card`") && notes[0].contains("flow style"), "{notes:?}");
        // What a YAML reader sees: every tag where it belongs, the rest untouched.
        let v: serde_json::Value = serde_saphyr::from_str(&after).unwrap();
        let cols = v["models"][0]["columns"].as_array().unwrap();
        let tags = |name: &str| {
            cols.iter().find(|c| c["name"] == name).unwrap()["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(tags("email"), ["PII.Email", "D.Email"]);
        assert_eq!(tags("phone"), ["PII.Phone", "D.Phone"]);
        assert_eq!(tags("notes"), ["D.Note"]);
        assert_eq!(tags("ssn"), ["D.Ssn"]);
        assert_eq!(tags("birth_date"), ["D.Birth"]);
        assert_eq!(tags("card"), ["PCI"]);
        assert_eq!(v["models"][0]["config"]["tags"][0], "Customer");
    }

    #[test]
    fn a_node_without_columns_gets_a_list() {
        let (after, notes) = patched("orders", &[wanted("amount", "D.Amount")]);
        assert!(notes.is_empty());
        let v: serde_json::Value = serde_saphyr::from_str(&after).unwrap();
        assert_eq!(v["models"][1]["columns"][0]["tags"][0], "D.Amount");
        assert_eq!(v["models"][1]["description"], "no columns yet");
    }

    #[test]
    fn only_real_block_sequences_count() {
        assert_eq!(block_dash("    - one", 6), Some(4), "indentless: the span is the item");
        assert_eq!(block_dash("    - one", 4), Some(4), "indented: the span is the dash");
        assert_eq!(block_dash("    - tags: one", 12), None, "a scalar on an entry's first line");
        assert_eq!(block_dash("    tags: one", 10), None);
    }

    #[test]
    fn brackets_inside_quotes_do_not_close_the_list() {
        assert_eq!(closing_bracket(r#"tags: ["a]", 'b]']  # ]"#, 6), Some(17));
        assert_eq!(closing_bracket("tags: [a,", 6), None);
    }

    #[test]
    fn new_files_parse() {
        let text = new_file(&[
            NodeTags { section: "models", node: "stg", wanted: vec![wanted("email", "D.Email")] },
            NodeTags { section: "seeds", node: "raw", wanted: vec![wanted("x", "D.X")] },
        ]);
        let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(v["models"][0]["columns"][0]["tags"][0], "D.Email");
        assert_eq!(v["seeds"][0]["name"], "raw");
    }
}
