//! Users and groups from a SCIM 2.0 export (RFC 7643 resources, JSON).
//!
//! Accepted shapes: a `ListResponse` (`{"Resources": [...]}`), an object with
//! `Users` and `Groups` arrays, a bare array of resources, or one resource. A
//! resource is a User or a Group by its `schemas` (or `meta.resourceType`).
//!
//! - User: `userName` is the reader's name. Users with `active: false` are left
//!   out (they read nothing). Attributes: `userType`, `title`,
//!   `preferredLanguage`, `locale`, `timezone`, the primary address's `country`,
//!   `roles` and `entitlements` (their `value`s), and every plain field of each
//!   extension object (`urn:…:enterprise:2.0:User`: `department`,
//!   `costCenter`, …), named as written.
//! - Group: `displayName` is the group's name; `members` (by user or group
//!   `id`) are its members, through nested groups too. A user's own `groups`
//!   (`display` or `value`) count as well.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Location, Result};
use crate::users::{Parsed, User};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const HELP: &str = "a SCIM export holds User resources (userName, groups, attributes, extensions) and Group resources (displayName, members); see docs/policies.md#users-from-scim-and-csv";

/// Core User attributes taken as veil attributes (single strings).
const USER_STRINGS: &[&str] = &["userType", "title", "preferredLanguage", "locale", "timezone"];
/// Core User attributes taken as veil attributes (lists of `{value}`).
const USER_LISTS: &[&str] = &["roles", "entitlements"];

/// Does this JSON text look like SCIM (rather than veil's own users format)?
pub(crate) fn is_scim(text: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        // Malformed: let the SCIM parser say where, if it looks like SCIM at all.
        return ["urn:ietf:params:scim", "\"Resources\"", "\"userName\""].iter().any(|s| text.contains(s));
    };
    match &value {
        Value::Array(items) => items.iter().any(|i| i.get("schemas").is_some()),
        Value::Object(map) => map.contains_key("schemas") || map.contains_key("Resources") || map.contains_key("Users"),
        _ => false,
    }
}

/// Where in the text the `n`-th (0-based) JSON string `"key"` is written (a key
/// or a value), as a location; the file's start when it is not found.
fn key_location(path: &Path, text: &str, key: &str, n: usize) -> Location {
    let needle = format!("\"{key}\"");
    let offset = text
        .match_indices(&needle)
        .filter(|(at, _)| !text.get(..*at).is_some_and(|before| before.ends_with('\\')))
        .nth(n)
        .map(|(at, _)| at);
    match offset.and_then(|at| text.get(..at)) {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Location::new(path, line, column)
        }
        None => Location::new(path, 1, 1),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(Value::Array(items)) => items.iter().flat_map(|i| strings(Some(i))).collect(),
        _ => Vec::new(),
    }
}

fn is_kind(resource: &Map<String, Value>, schema: &str, kind: &str) -> bool {
    strings(resource.get("schemas")).iter().any(|s| s == schema)
        || resource.get("meta").and_then(|m| m.get("resourceType")).and_then(Value::as_str) == Some(kind)
}

/// What a resource is: by its `schemas` or `meta.resourceType`, else by the
/// array holding it (`Users`, `Groups`), else a User when it has a `userName`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
    Other,
}

fn kind(resource: &Map<String, Value>, held_in: Option<Kind>) -> Kind {
    if is_kind(resource, GROUP_SCHEMA, "Group") {
        Kind::Group
    } else if is_kind(resource, USER_SCHEMA, "User") {
        Kind::User
    } else if let Some(kind) = held_in {
        kind
    } else if resource.contains_key("userName") {
        Kind::User
    } else {
        Kind::Other
    }
}

/// The resources of an export with what each is, in document order.
fn resources(value: Value, path: &Path) -> Result<Vec<(Kind, Map<String, Value>)>> {
    let items: Vec<(Option<Kind>, Value)> = match value {
        Value::Array(items) => items.into_iter().map(|i| (None, i)).collect(),
        Value::Object(mut map) => {
            if let Some(Value::Array(items)) = map.remove("Resources") {
                items.into_iter().map(|i| (None, i)).collect()
            } else if map.contains_key("Users") || map.contains_key("Groups") {
                let mut items = Vec::new();
                for (key, kind) in [("Users", Kind::User), ("Groups", Kind::Group)] {
                    if let Some(Value::Array(more)) = map.remove(key) {
                        items.extend(more.into_iter().map(|i| (Some(kind), i)));
                    }
                }
                items
            } else {
                vec![(None, Value::Object(map))]
            }
        }
        _ => {
            return Err(Error::Yaml {
                location: Location::new(path, 1, 1),
                message: "a SCIM export must be a JSON object or array".into(),
                help: HELP.into(),
            })
        }
    };
    Ok(items
        .into_iter()
        .filter_map(|(held_in, i)| match i {
            Value::Object(map) => Some((kind(&map, held_in), map)),
            _ => None,
        })
        .collect())
}

/// Attributes of one User resource.
fn user_attributes(resource: &Map<String, Value>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |key: &str, values: Vec<String>| {
        let values: BTreeSet<String> = values.into_iter().filter(|v| !v.trim().is_empty()).collect();
        if !values.is_empty() {
            out.entry(key.to_owned()).or_default().extend(values);
        }
    };
    for key in USER_STRINGS {
        add(key, strings(resource.get(*key)));
    }
    for key in USER_LISTS {
        let values = match resource.get(*key) {
            Some(Value::Array(items)) => items.iter().flat_map(|i| strings(i.get("value"))).collect(),
            _ => Vec::new(),
        };
        add(key, values);
    }
    if let Some(Value::Array(addresses)) = resource.get("addresses") {
        let primary = addresses
            .iter()
            .find(|a| a.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| addresses.first());
        add("country", strings(primary.and_then(|a| a.get("country"))));
    }
    for (key, value) in resource {
        if key.starts_with("urn:") {
            if let Value::Object(fields) = value {
                for (field, v) in fields {
                    // Plain values and lists of them; objects (`manager`) are not facts here.
                    if !matches!(v, Value::Object(_)) {
                        add(field, strings(Some(v)));
                    }
                }
            }
        }
    }
    out
}

/// A User resource read, its groups not yet resolved.
struct ScimUser {
    location: Location,
    user: User,
    id: Option<String>,
    /// Groups named by id only (`groups: [{value}]`).
    group_ids: Vec<String>,
}

/// Parse a SCIM 2.0 export.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Parsed> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::Yaml {
        location: Location::new(path, e.line(), e.column()),
        message: format!("not valid JSON: {e}"),
        help: HELP.into(),
    })?;
    let mut users: Vec<ScimUser> = Vec::new();
    // Group id -> (name, member ids).
    let mut groups: Vec<(Option<String>, String, Vec<String>)> = Vec::new();
    let mut user_n = 0;
    for (kind, resource) in resources(value, path)? {
        let id = resource.get("id").and_then(Value::as_str).map(str::to_owned);
        // Where an invalid resource is: its id as written.
        let at = || key_location(path, text, id.as_deref().unwrap_or_default(), 0);
        if kind == Kind::Group {
            let Some(name) = resource.get("displayName").and_then(Value::as_str) else {
                return Err(Error::Invalid {
                    location: at(),
                    message: format!("a SCIM Group (id `{}`) has no displayName", id.unwrap_or_default()),
                    help: HELP.into(),
                });
            };
            let members = match resource.get("members") {
                Some(Value::Array(m)) => m.iter().flat_map(|m| strings(m.get("value"))).collect(),
                _ => Vec::new(),
            };
            groups.push((id, name.to_owned(), members));
        } else if kind == Kind::User {
            let location = key_location(path, text, "userName", user_n);
            let Some(name) = resource.get("userName").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) else {
                return Err(Error::Invalid {
                    location: at(),
                    message: format!("a SCIM User (id `{}`) has no userName", id.unwrap_or_default()),
                    help: HELP.into(),
                });
            };
            user_n += 1;
            if resource.get("active").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let mut user = User { name: name.to_owned(), attributes: user_attributes(&resource), ..User::default() };
            let mut group_ids = Vec::new();
            if let Some(Value::Array(own)) = resource.get("groups") {
                for g in own {
                    // `display` is the name; a bare `value` is an id, resolved below.
                    if let Some(display) = g.get("display").and_then(Value::as_str) {
                        user.groups.insert(display.to_owned());
                    } else if let Some(value) = g.get("value").and_then(Value::as_str) {
                        group_ids.push(value.to_owned());
                    }
                }
            }
            users.push(ScimUser { location, user, id, group_ids });
        }
    }
    // Members of each group, through nested groups (cycles end when nothing changes).
    let name_of: BTreeMap<&str, &str> =
        groups.iter().filter_map(|(id, name, _)| id.as_deref().map(|id| (id, name.as_str()))).collect();
    let mut members: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (_, name, ids) in &groups {
        members.entry(name.as_str()).or_default().extend(ids.iter().map(String::as_str));
    }
    loop {
        let mut changed = false;
        let snapshot = members.clone();
        for ids in members.values_mut() {
            let nested: Vec<&str> = ids.iter().filter_map(|id| name_of.get(id)).copied().collect();
            for group in nested {
                for inner in snapshot.get(group).into_iter().flatten() {
                    changed |= ids.insert(inner);
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut out = Parsed::default();
    for ScimUser { location, mut user, id, group_ids } in users {
        for value in &group_ids {
            user.groups.insert(name_of.get(value.as_str()).map_or(value.as_str(), |n| n).to_owned());
        }
        if let Some(id) = id.as_deref() {
            for (group, ids) in &members {
                if ids.contains(id) {
                    user.groups.insert((*group).to_owned());
                }
            }
        }
        out.users.push((location, user));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_locations_skip_escaped_keys() {
        let text = "{\n  \"a\": \"\\\"userName\\\"\",\n  \"userName\": \"x\"}";
        let at = key_location(Path::new("u.json"), text, "userName", 0);
        assert_eq!((at.line, at.column), (3, 3));
    }
}
