//! `veil report`: one static HTML page of who may read what, and how each
//! column is shown to each reader, with `veil explain`'s reasons on click.
//!
//! The page needs no server and loads nothing: styles, script and data are in
//! the file. Names from the catalog and the users file are escaped by the
//! template (minijinja, HTML auto-escaping) and set as text by the script,
//! never as markup, so a hostile name shows as itself.

use std::collections::BTreeMap;

use serde::Serialize;
use veil_policy::Engine;

use crate::access::{describe_column, SHOWN};
use crate::{Error, Result};

const TEMPLATE: &str = include_str!("report.html.j2");

/// A reader, with their groups.
#[derive(Clone, Debug, Serialize)]
pub struct Reader {
    /// User name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
}

/// A column of a data source.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Type in the source.
    pub column_type: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// A data source.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    /// Name.
    pub name: String,
    /// Table tags.
    pub tags: Vec<String>,
    /// Columns, in order.
    pub columns: Vec<Column>,
}

/// One reader and one source.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// May the reader read the source?
    pub allowed: bool,
    /// Per column: `shown` or the first mask's type (`hash`, `null`, …), with
    /// `*` when it masks only some rows.
    pub columns: Vec<String>,
    /// Per column: how it is shown, in words (an index into [`Report::texts`]).
    pub described: Vec<usize>,
    /// Columns masked for this reader.
    pub masked: usize,
    /// Row filters in words (indexes into [`Report::texts`]).
    pub rows: Vec<usize>,
    /// `veil explain` for this reader and source, without its first line (an
    /// index into [`Report::texts`]).
    pub explain: usize,
}

/// Everything the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Page title.
    pub title: String,
    /// What made it: `veil <version>`.
    pub generator: String,
    /// Inputs, as named on the command line or in veil.yml.
    pub inputs: BTreeMap<String, String>,
    /// Readers, by name.
    pub readers: Vec<Reader>,
    /// Every group some reader is in.
    pub groups: Vec<String>,
    /// Data sources, in catalog order.
    pub sources: Vec<Source>,
    /// `cells[source][reader]`.
    pub cells: Vec<Vec<Cell>>,
    /// Texts the cells share (explanations repeat across readers alike).
    pub texts: Vec<String>,
}

/// Texts stored once.
#[derive(Default)]
struct Texts {
    list: Vec<String>,
    index: BTreeMap<String, usize>,
}

impl Texts {
    fn add(&mut self, text: String) -> usize {
        if let Some(i) = self.index.get(&text) {
            return *i;
        }
        self.list.push(text.clone());
        self.index.insert(text, self.list.len() - 1);
        self.list.len() - 1
    }
}

/// Build the report of `engine` for `sources` (every source when empty).
///
/// # Errors
/// A plan that cannot be built.
pub fn build(engine: &Engine, sources: &[String], inputs: BTreeMap<String, String>) -> Result<Report> {
    let readers: Vec<Reader> = engine
        .directory()
        .users()
        .map(|u| Reader { name: u.name.clone(), groups: u.groups.iter().cloned().collect() })
        .collect();
    let mut groups: Vec<String> = readers.iter().flat_map(|r| r.groups.iter().cloned()).collect();
    groups.sort();
    groups.dedup();
    let mut texts = Texts::default();
    let mut out_sources = Vec::new();
    let mut cells = Vec::new();
    for source in engine.catalog().sources() {
        if !sources.is_empty() && !sources.contains(&source.name) {
            continue;
        }
        out_sources.push(Source {
            name: source.name.clone(),
            tags: source.tags.clone(),
            columns: source
                .columns
                .iter()
                .map(|c| Column { name: c.name.clone(), column_type: c.column_type.to_string(), tags: c.tags.clone() })
                .collect(),
        });
        let mut row = Vec::new();
        for reader in &readers {
            let subject = engine.directory().subject(&reader.name, None)?;
            let explanation = engine.explanation(&subject, &source.name)?;
            let text = engine.explain(&subject, &source.name)?;
            let body: Vec<&str> = text.lines().skip(1).collect();
            let explain = texts.add(body.join("\n"));
            let plan = &explanation.plan;
            let mut columns = Vec::new();
            let mut described = Vec::new();
            for c in &plan.columns {
                let label = match c.chain.first() {
                    None => SHOWN.to_string(),
                    Some(step) if step.rows.is_some() => format!("{}*", step.mask.kind()),
                    Some(step) => step.mask.kind().to_string(),
                };
                columns.push(label);
                described.push(texts.add(describe_column(c)));
            }
            row.push(Cell {
                allowed: plan.allowed,
                masked: plan.columns.iter().filter(|c| !c.chain.is_empty()).count(),
                columns,
                described,
                rows: plan.row_filters.iter().map(|f| texts.add(veil_policy::describe_rows(f))).collect(),
                explain,
            });
        }
        cells.push(row);
    }
    Ok(Report {
        title: "veil: who may read what".into(),
        generator: format!("veil {}", env!("CARGO_PKG_VERSION")),
        inputs,
        readers,
        groups,
        sources: out_sources,
        cells,
        texts: texts.list,
    })
}

/// The page, as HTML.
///
/// # Errors
/// [`Error::Engine`] if the template fails (a bug: it is veil's own).
pub fn render(report: &Report) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE).map_err(|e| Error::Engine(format!("report template: {e}")))?;
    let template = env.get_template("report.html").map_err(|e| Error::Engine(format!("report template: {e}")))?;
    template
        .render(minijinja::context! { report => minijinja::Value::from(minijinja::value::Serde(report)) })
        .map_err(|e| Error::Engine(format!("report template: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_policy::{Catalog, Directory, PolicySet};

    #[test]
    fn hostile_names_are_text() {
        let policies = PolicySet::from_yaml_str(
            "name: all\ntype: subscription\nactions: {type: anyone}\n---\nname: m\ntype: data\nrules:\n  - type: mask\n    columns: {names: ['<b>x</b>']}\n    mask: {type: null}\n",
            "p.yaml",
        )
        .unwrap();
        let users = Directory::from_yaml_str(
            "users:\n  - {name: '<script>alert(1)</script>', groups: ['</script><i>']}\n",
            "u.yaml",
        )
        .unwrap();
        let catalog = Catalog::from_yaml_str(
            "sources:\n  - name: '\"><img src=x onerror=alert(1)>'\n    columns:\n      - {name: '<b>x</b>', type: text}\n",
            "c.yaml",
        )
        .unwrap();
        let engine = Engine::new(policies, users, catalog).unwrap();
        let html = render(&build(&engine, &[], BTreeMap::new()).unwrap()).unwrap();
        assert!(!html.contains("<script>alert(1)"), "user name escaped");
        assert!(!html.contains("<img src=x"), "source name escaped");
        assert!(!html.contains("<b>x</b>"), "column name escaped");
        assert!(!html.contains("</script><i>"), "a group cannot close the data script");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "shown as text");
        // Nothing is fetched: no URL but the page's own.
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src=\""));
    }
}
