//! dbt's node selection syntax (`--select`, `--exclude`) over the manifest's graph.
//!
//! As dbt reads it (<https://docs.getdbt.com/reference/node-selection/syntax>):
//! arguments (and space-separated words within one) are a union; comma-joined
//! criteria within a word are an intersection. A criterion is
//! `[@][N+]method:value[+N]`, or a bare value (a path when it holds `/`, a
//! file when it ends in `.sql`, `.py` or `.csv`, else an fqn). Methods:
//! `tag`, `path`, `file`, `fqn`, `resource_type`, `source`, `exposure`,
//! `package` and `config.<key>`; values may hold `*`, `?` and `[…]` wildcards.
//! `+x` adds every ancestor, `2+x` those up to two steps up; `x+` and `x+1`
//! likewise for descendants; `@x` adds descendants and all their ancestors.
//! Excluded nodes are removed last.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use crate::manifest::Node;

/// A node selection: `--select` and `--exclude` arguments as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// What to select (empty: every node).
    pub select: Vec<String>,
    /// What to leave out.
    pub exclude: Vec<String>,
}

impl Selection {
    /// No selection given (every node).
    pub fn is_empty(&self) -> bool {
        self.select.is_empty() && self.exclude.is_empty()
    }
}

/// A selector that does not parse, or names a method veil does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector `{selector}`: {reason}\n  help: dbt's syntax, e.g. `tag:PII`, `path:models/marts`, `+customers`, `resource_type:seed`, `source:crm.leads+`, `config.materialized:table` (methods: {METHODS})")]
pub struct SelectorError {
    /// The criterion as written.
    pub selector: String,
    /// What is wrong with it.
    pub reason: String,
}

const METHODS: &str = "tag, path, file, fqn, resource_type, source, exposure, package, config.<key>";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Method {
    Tag,
    Path,
    File,
    Fqn,
    ResourceType,
    Source,
    Exposure,
    Package,
    Config(String),
}

/// One criterion, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Criterion {
    /// `@`: descendants and all their ancestors.
    family: bool,
    /// `N+` before: ancestors up to N steps (None: unlimited).
    parents: Option<Option<usize>>,
    /// `+N` after: descendants up to N steps.
    children: Option<Option<usize>>,
    method: Method,
    value: String,
}

fn depth(digits: &str, selector: &str) -> Result<Option<usize>, SelectorError> {
    if digits.is_empty() {
        return Ok(None);
    }
    digits
        .parse()
        .map(Some)
        .map_err(|_| SelectorError { selector: selector.into(), reason: format!("`{digits}` is not a depth") })
}

fn parse(selector: &str) -> Result<Criterion, SelectorError> {
    let err = |reason: &str| SelectorError { selector: selector.into(), reason: reason.into() };
    let mut rest = selector;
    let family = rest.starts_with('@');
    if family {
        rest = rest.get(1..).unwrap_or_default();
    }
    // `N+` in front: digits then `+`.
    let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let parents = match rest.get(digits_end..) {
        Some(after) if after.starts_with('+') => {
            let d = depth(rest.get(..digits_end).unwrap_or_default(), selector)?;
            rest = after.get(1..).unwrap_or_default();
            Some(d)
        }
        _ => None,
    };
    // `+N` behind: `+` then digits, at the end.
    let trailing_digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let before_digits = rest.get(..rest.len() - trailing_digits).unwrap_or_default();
    let children = match before_digits.strip_suffix('+') {
        Some(value) => {
            let d = depth(rest.get(rest.len() - trailing_digits..).unwrap_or_default(), selector)?;
            rest = value;
            Some(d)
        }
        None => None,
    };
    if family && parents.is_some() {
        return Err(err("`@` and a leading `+` cannot be combined"));
    }
    let (method, value) = match rest.split_once(':') {
        Some((method, value)) => {
            let method = match method {
                "tag" => Method::Tag,
                "path" => Method::Path,
                "file" => Method::File,
                "fqn" => Method::Fqn,
                "resource_type" => Method::ResourceType,
                "source" => Method::Source,
                "exposure" => Method::Exposure,
                "package" => Method::Package,
                m => match m.strip_prefix("config.") {
                    Some(key) if !key.is_empty() => Method::Config(key.to_owned()),
                    _ => return Err(err(&format!("veil does not know the selector method `{m}`"))),
                },
            };
            (method, value)
        }
        None if rest.contains('/') || rest.contains('\\') => (Method::Path, rest),
        None if [".sql", ".py", ".csv"].iter().any(|e| rest.to_ascii_lowercase().ends_with(e)) => (Method::File, rest),
        None => (Method::Fqn, rest),
    };
    if value.is_empty() {
        return Err(err("no value to select by"));
    }
    Ok(Criterion { family, parents, children, method, value: value.to_owned() })
}

/// Shell-style matching as Python's `fnmatch` (dbt's): `*`, `?`, `[…]`; `*` also
/// matches `/` and `.`. A pattern that does not compile matches only itself.
fn fnmatch(text: &str, pattern: &str) -> bool {
    match glob::Pattern::new(pattern) {
        Ok(p) => p.matches_with(
            text,
            glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: false,
                require_literal_leading_dot: false,
            },
        ),
        Err(_) => text == pattern,
    }
}

/// dbt's fqn rule: the last part matches, or the selector's dot-separated parts
/// match the start of the fqn (a trailing `*` takes the rest).
fn fqn_matches(fqn: &[String], selector: &str) -> bool {
    if fqn.last().is_some_and(|leaf| fnmatch(leaf, selector)) {
        return true;
    }
    let flat: Vec<&str> = fqn.iter().flat_map(|segment| segment.split('.')).collect();
    let parts: Vec<&str> = selector.split('.').collect();
    if flat.len() < parts.len() {
        return false;
    }
    for (i, part) in parts.iter().enumerate() {
        if *part == "*" && i + 1 == parts.len() {
            return true;
        }
        if !flat.get(i).is_some_and(|f| fnmatch(f, part)) {
            return false;
        }
    }
    // A prefix selects everything below it; a full match selects the node.
    true
}

fn path_matches(file: &str, selector: &str) -> bool {
    let selector = selector.trim_end_matches(['/', '\\']).trim_start_matches("./");
    let file = file.replace('\\', "/");
    let selector = selector.replace('\\', "/");
    // The file itself, or any folder holding it.
    let mut candidate = file.as_str();
    loop {
        if fnmatch(candidate, &selector) {
            return true;
        }
        match candidate.rfind('/') {
            Some(at) => candidate = candidate.get(..at).unwrap_or_default(),
            None => return false,
        }
    }
}

fn config_matches(value: Option<&Value>, selector: &str) -> bool {
    match value {
        Some(Value::String(s)) => fnmatch(s, selector),
        Some(Value::Bool(b)) => b.to_string() == selector,
        Some(Value::Number(n)) => n.to_string() == selector,
        Some(Value::Array(items)) => items.iter().any(|i| config_matches(Some(i), selector)),
        _ => false,
    }
}

fn matches(node: &Node, method: &Method, value: &str) -> bool {
    match method {
        Method::Tag => node.tags.iter().any(|t| fnmatch(t, value)),
        Method::Path => path_matches(&node.original_file_path, value),
        Method::File => {
            let name = node.original_file_path.rsplit(['/', '\\']).next().unwrap_or_default();
            let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
            fnmatch(name, value) || fnmatch(stem, value)
        }
        // Across packages too: dbt also matches the fqn without its package.
        Method::Fqn => fqn_matches(&node.fqn, value) || fqn_matches(node.fqn.get(1..).unwrap_or_default(), value),
        Method::ResourceType => node.resource_type == value,
        Method::Source => {
            let Some(source_name) = node.source_name.as_deref().filter(|_| node.resource_type == "source") else {
                return false;
            };
            let parts: Vec<&str> = value.split('.').collect();
            match parts.as_slice() {
                [source] => fnmatch(source_name, source),
                [source, table] => fnmatch(source_name, source) && fnmatch(&node.name, table),
                [package, source, table] => {
                    fnmatch(&node.package_name, package) && fnmatch(source_name, source) && fnmatch(&node.name, table)
                }
                _ => false,
            }
        }
        Method::Exposure => node.resource_type == "exposure" && fnmatch(&node.name, value),
        Method::Package => fnmatch(&node.package_name, value),
        Method::Config(key) => config_matches(node.config.get(key), value),
    }
}

/// The graph's edges both ways, by unique id.
struct Graph<'a> {
    parents: BTreeMap<&'a str, Vec<&'a str>>,
    children: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Graph<'a> {
    fn new(nodes: &'a [Node]) -> Self {
        let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for node in nodes {
            for parent in &node.depends_on {
                parents.entry(node.unique_id.as_str()).or_default().push(parent.as_str());
                children.entry(parent.as_str()).or_default().push(node.unique_id.as_str());
            }
        }
        Graph { parents, children }
    }

    /// Everything reachable from `start` along `edges`, up to `limit` steps.
    fn walk(
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        start: &BTreeSet<&'a str>,
        limit: Option<usize>,
    ) -> BTreeSet<&'a str> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<(&str, usize)> = start.iter().map(|s| (*s, 0)).collect();
        while let Some((at, steps)) = queue.pop_front() {
            if limit.is_some_and(|l| steps >= l) {
                continue;
            }
            for next in edges.get(at).into_iter().flatten() {
                if seen.insert(next) {
                    queue.push_back((next, steps + 1));
                }
            }
        }
        seen
    }
}

fn criterion<'a>(nodes: &'a [Node], graph: &Graph<'a>, c: &Criterion) -> BTreeSet<&'a str> {
    let direct: BTreeSet<&str> =
        nodes.iter().filter(|n| matches(n, &c.method, &c.value)).map(|n| n.unique_id.as_str()).collect();
    let mut out = direct.clone();
    if c.family {
        let below = Graph::walk(&graph.children, &direct, None);
        let mut all: BTreeSet<&str> = direct.union(&below).copied().collect();
        all.extend(Graph::walk(&graph.parents, &all.clone(), None));
        out.extend(all);
    }
    if let Some(limit) = c.parents {
        out.extend(Graph::walk(&graph.parents, &direct, limit));
    }
    if let Some(limit) = c.children {
        out.extend(Graph::walk(&graph.children, &direct, limit));
    }
    out
}

/// Unique ids of the nodes a list of arguments selects (their union).
fn union<'a>(nodes: &'a [Node], graph: &Graph<'a>, args: &[String]) -> Result<BTreeSet<&'a str>, SelectorError> {
    let mut out = BTreeSet::new();
    for word in args.iter().flat_map(|a| a.split_whitespace()) {
        let mut both: Option<BTreeSet<&str>> = None;
        for part in word.split(',') {
            let found = criterion(nodes, graph, &parse(part)?);
            both = Some(match both {
                Some(so_far) => so_far.intersection(&found).copied().collect(),
                None => found,
            });
        }
        out.extend(both.unwrap_or_default());
    }
    Ok(out)
}

/// The unique ids of the nodes `selection` selects, sorted.
///
/// ```
/// use veil_dbt::{select, Node, Selection};
/// let node = |id: &str, tags: &[&str], parents: &[&str]| Node {
///     unique_id: id.into(),
///     resource_type: "model".into(),
///     name: id.rsplit('.').next().unwrap().into(),
///     fqn: vec!["shop".into(), id.rsplit('.').next().unwrap().into()],
///     tags: tags.iter().map(|t| t.to_string()).collect(),
///     depends_on: parents.iter().map(|p| p.to_string()).collect(),
///     ..Node::default()
/// };
/// let nodes = [node("model.shop.stg", &[], &[]), node("model.shop.customers", &["PII"], &["model.shop.stg"])];
/// let picked = |s: &str| select(&nodes, &Selection { select: vec![s.into()], exclude: vec![] }).unwrap();
/// assert_eq!(picked("tag:PII"), ["model.shop.customers"]);
/// assert_eq!(picked("+customers"), ["model.shop.customers", "model.shop.stg"]);
/// ```
///
/// # Errors
/// [`SelectorError`] for a criterion that does not parse or an unknown method.
pub fn select(nodes: &[Node], selection: &Selection) -> Result<Vec<String>, SelectorError> {
    let graph = Graph::new(nodes);
    let mut chosen = if selection.select.is_empty() {
        nodes.iter().map(|n| n.unique_id.as_str()).collect()
    } else {
        union(nodes, &graph, &selection.select)?
    };
    for id in union(nodes, &graph, &selection.exclude)? {
        chosen.remove(id);
    }
    Ok(chosen.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Criterion {
        parse(s).unwrap()
    }

    #[test]
    fn criteria_parse_as_dbt_reads_them() {
        assert_eq!(c("tag:PII").method, Method::Tag);
        assert_eq!(c("customers").method, Method::Fqn);
        assert_eq!(c("models/marts").method, Method::Path);
        assert_eq!(c("customers.sql").method, Method::File);
        assert_eq!(c("config.materialized:table").method, Method::Config("materialized".into()));
        let x = c("2+tag:PII+3");
        assert_eq!((x.parents, x.children, x.value.as_str()), (Some(Some(2)), Some(Some(3)), "PII"));
        let x = c("+customers+");
        assert_eq!((x.parents, x.children), (Some(None), Some(None)));
        assert!(c("@customers").family);
        // A name that ends in digits keeps them when no `+` precedes.
        assert_eq!(c("orders2").value, "orders2");
        assert!(parse("@+x").is_err());
        assert!(parse("colour:red").unwrap_err().to_string().contains("selector method `colour`"));
        assert!(parse("tag:").is_err());
        assert!(parse("+").is_err());
    }

    #[test]
    fn fqn_rule() {
        let fqn: Vec<String> = ["shop", "marts", "finance", "payments"].iter().map(|s| s.to_string()).collect();
        assert!(fqn_matches(&fqn, "payments"));
        assert!(fqn_matches(&fqn, "shop.marts"));
        assert!(fqn_matches(&fqn, "shop.marts.*"));
        assert!(fqn_matches(&fqn, "shop.*.finance"));
        assert!(!fqn_matches(&fqn, "shop.staging"));
        assert!(!fqn_matches(&fqn, "shop.marts.finance.payments.extra"));
        assert!(fqn_matches(&fqn, "pay*"));
    }

    #[test]
    fn path_rule() {
        assert!(path_matches("models/marts/finance/payments.sql", "models/marts"));
        assert!(path_matches("models/marts/finance/payments.sql", "models/marts/"));
        assert!(path_matches("models/marts/finance/payments.sql", "models/marts/finance/payments.sql"));
        assert!(path_matches("models/marts/finance/payments.sql", "models/*/finance"));
        assert!(!path_matches("models/marts/finance/payments.sql", "models/mart"));
        assert!(!path_matches("models/staging/x.sql", "models/marts"));
    }
}
