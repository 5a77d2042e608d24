//! Users from CSV: one user per row, as most directories export them.
//!
//! The header names the columns. `name` (or `userName`) is the user;
//! `groups` and `projects`, when present, list the user's groups and projects;
//! every other column is an attribute named by its header. A cell holding
//! several values separates them with `;` (`Ohio; Michigan`). Empty cells
//! give nothing. Group attributes and project purposes come from a YAML users
//! file beside it (a folder of users files is merged).

use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::users::{Parsed, User};

const HELP: &str = "a users CSV has a header with `name` (or `userName`), optional `groups` and `projects`, and one column per attribute; several values in a cell are separated by `;`";

/// The values of one cell: `;`-separated, trimmed, empty ones dropped.
fn values(cell: &str) -> impl Iterator<Item = String> + '_ {
    cell.split(';').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// Parse a users CSV.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Parsed> {
    // csv knows a record's line, not its fields' columns.
    let at = |position: Option<&csv::Position>| Location::new(path, position.map_or(1, |p| p.line() as usize), 1);
    let error = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line() as usize);
        Error::Yaml {
            location: Location::new(path, line, 1),
            message: format!("not valid CSV: {e}"),
            help: HELP.into(),
        }
    };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().map_err(error)?.iter().map(str::to_owned).collect();
    let find = |names: &[&str]| header.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let Some(name_at) = find(&["name", "userName"]) else {
        return Err(Error::Invalid {
            location: Location::new(path, 1, 1),
            message: format!("the header has no `name` column (it has: {})", header.join(", ")),
            help: HELP.into(),
        });
    };
    let groups_at = find(&["groups"]);
    let projects_at = find(&["projects"]);
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            return Err(Error::Invalid {
                location: Location::new(path, 1, 1),
                message: format!("column {} of the header has no name", i + 1),
                help: HELP.into(),
            });
        }
    }
    let mut out = Parsed::default();
    for record in reader.records() {
        let record = record.map_err(error)?;
        let name = record.get(name_at).unwrap_or_default();
        if name.is_empty() {
            return Err(Error::Invalid {
                location: at(record.position()),
                message: "a row has no user name".into(),
                help: HELP.into(),
            });
        }
        let mut user = User { name: name.to_owned(), ..User::default() };
        for (i, (cell, key)) in record.iter().zip(&header).enumerate() {
            if i == name_at {
                continue;
            } else if Some(i) == groups_at {
                user.groups.extend(values(cell));
            } else if Some(i) == projects_at {
                user.projects.extend(values(cell));
            } else {
                let v: Vec<String> = values(cell).collect();
                if !v.is_empty() {
                    user.attributes.entry(key.clone()).or_default().extend(v);
                }
            }
        }
        out.users.push((at(record.position()), user));
    }
    Ok(out)
}
