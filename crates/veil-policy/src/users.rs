//! Facts about readers: users, groups (whose attributes members inherit),
//! projects (which carry purposes) and recorded access approvals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
use crate::yaml::{self, OneOrMany};

const HELP: &str = "a users file has `users:` (name, groups, attributes, projects), optional `groups:` (name, attributes), `projects:` (name, purposes) and `approvals:` (user, source, approvedBy); see docs/policies.md";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    groups: Vec<RawGroup>,
    #[serde(default)]
    projects: Vec<RawProject>,
    #[serde(default)]
    approvals: Vec<RawApproval>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: serde_saphyr::Spanned<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, OneOrMany<String>>,
    #[serde(default)]
    projects: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    #[serde(default)]
    attributes: BTreeMap<String, OneOrMany<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: String,
    #[serde(default)]
    purposes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawApproval {
    user: String,
    source: String,
    approved_by: String,
}

/// One user as written in the directory (before group inheritance).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// User name (unique).
    pub name: String,
    /// Groups the user is a member of.
    pub groups: BTreeSet<String>,
    /// The user's own attributes; values are multi-valued.
    pub attributes: BTreeMap<String, BTreeSet<String>>,
    /// Projects the user is a member of.
    pub projects: BTreeSet<String>,
}

/// A recorded approval: `approver` let `user` read `source`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// The data source.
    pub source: String,
    /// Who approved.
    pub approver: String,
    /// The approver's groups when the directory was loaded.
    pub approver_groups: BTreeSet<String>,
}

/// A reader as policies see it: own and inherited facts, and the purposes of
/// the project they act under (none when acting under no project).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// User name.
    pub name: String,
    /// Groups.
    pub groups: BTreeSet<String>,
    /// Attributes: the user's own, plus those of every group they are in.
    pub attributes: BTreeMap<String, BTreeSet<String>>,
    /// The project acted under, if any.
    pub project: Option<String>,
    /// Purposes of that project.
    pub purposes: BTreeSet<String>,
    /// Approvals recorded for this user.
    pub approvals: Vec<Approval>,
}

/// All users, groups, projects and approvals.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Directory {
    users: BTreeMap<String, User>,
    group_attributes: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    projects: BTreeMap<String, BTreeSet<String>>,
    approvals: BTreeMap<String, Vec<Approval>>,
}

fn values(raw: BTreeMap<String, OneOrMany<String>>) -> BTreeMap<String, BTreeSet<String>> {
    raw.into_iter().map(|(k, v)| (k, v.into_vec().into_iter().collect())).collect()
}

/// Facts read from one users file, whatever its format, before merging.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Users, each with where its name is written.
    pub users: Vec<(Location, User)>,
    /// Group attributes members inherit.
    pub groups: Vec<(String, BTreeMap<String, BTreeSet<String>>)>,
    /// Projects with their purposes.
    pub projects: Vec<(String, Vec<String>)>,
    /// Approvals: user, source, approver.
    pub approvals: Vec<(String, String, String)>,
}

impl Parsed {
    fn from_yaml(path: &Path, raw: RawDirectory) -> Self {
        Parsed {
            users: raw
                .users
                .into_iter()
                .map(|u| {
                    let at = u.name.referenced;
                    let location = Location::new(path, at.line() as usize, at.column() as usize);
                    let user = User {
                        name: u.name.value,
                        groups: u.groups.into_iter().collect(),
                        attributes: values(u.attributes),
                        projects: u.projects.into_iter().collect(),
                    };
                    (location, user)
                })
                .collect(),
            groups: raw.groups.into_iter().map(|g| (g.name, values(g.attributes))).collect(),
            projects: raw.projects.into_iter().map(|p| (p.name, p.purposes)).collect(),
            approvals: raw.approvals.into_iter().map(|a| (a.user, a.source, a.approved_by)).collect(),
        }
    }
}

/// The formats a users file may have, by its extension.
const USER_FILE_EXTENSIONS: &[&str] = &["yaml", "yml", "json", "csv"];

impl Directory {
    /// Parse a users file.
    ///
    /// ```
    /// let dir = veil_policy::Directory::from_yaml_str(r#"
    /// groups:
    ///   - {name: Legal Team, attributes: {Department: Legal}}
    /// users:
    ///   - {name: ann, groups: [Legal Team], attributes: {sales_region: [Ohio, Michigan]}}
    /// "#, "users.yaml").unwrap();
    /// let ann = dir.subject("ann", None).unwrap();
    /// assert!(ann.attributes["Department"].contains("Legal"));
    /// assert_eq!(ann.attributes["sales_region"].len(), 2);
    /// ```
    ///
    /// # Errors
    /// [`Error::Yaml`] for malformed input; [`Error::Invalid`] for a user
    /// defined twice.
    pub fn from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::build(Self::parse_yaml(text, path)?)
    }

    fn parse_yaml(text: &str, path: &Path) -> Result<Vec<Parsed>> {
        let docs: Vec<RawDirectory> = yaml::documents(path, text, HELP)?;
        Ok(docs.into_iter().map(|d| Parsed::from_yaml(path, d)).collect())
    }

    /// Parse one users file of any format veil reads, chosen by its extension:
    /// `.csv` ([`crate::users_csv`]), `.json` holding SCIM 2.0 resources
    /// ([`crate::scim`]), otherwise veil's YAML (JSON of the same shape too).
    ///
    /// # Errors
    /// As [`Directory::from_yaml_str`], with file:line:column for CSV and SCIM too.
    pub fn from_str_as(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::build(Self::parse_any(text, path)?)
    }

    fn parse_any(text: &str, path: &Path) -> Result<Vec<Parsed>> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(vec![crate::users_csv::parse(text, path)?]),
            Some("json") if crate::scim::is_scim(text) => Ok(vec![crate::scim::parse(text, path)?]),
            _ => Self::parse_yaml(text, path),
        }
    }

    fn build(docs: Vec<Parsed>) -> Result<Self> {
        let mut dir = Directory::default();
        let mut raw_approvals = Vec::new();
        let mut defined: BTreeMap<String, Location> = BTreeMap::new();
        for raw in docs {
            for (name, attributes) in raw.groups {
                let entry = dir.group_attributes.entry(name).or_default();
                for (k, v) in attributes {
                    entry.entry(k).or_default().extend(v);
                }
            }
            for (name, purposes) in raw.projects {
                dir.projects.entry(name).or_default().extend(purposes);
            }
            for (location, user) in raw.users {
                if let Some(first) = defined.get(&user.name) {
                    return Err(Error::Invalid {
                        location,
                        message: format!("user `{}` is defined twice (first at {first})", user.name),
                        help: "merge the two entries into one".into(),
                    });
                }
                defined.insert(user.name.clone(), location);
                dir.users.insert(user.name.clone(), user);
            }
            raw_approvals.extend(raw.approvals);
        }
        for (user, source, approver) in raw_approvals {
            let approver_groups = dir.users.get(&approver).map(|u| u.groups.clone()).unwrap_or_default();
            dir.approvals.entry(user).or_default().push(Approval { source, approver, approver_groups });
        }
        Ok(dir)
    }

    /// Load a users file, or a folder of them (every `.yaml`, `.yml`, `.json`
    /// and `.csv` file below it, merged): veil's YAML, a SCIM 2.0 export (JSON:
    /// User and Group resources) or CSV (one user per row). See docs/policies.md.
    ///
    /// # Errors
    /// As [`Directory::from_str_as`], plus [`Error::Io`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let mut docs = Vec::new();
        for (p, text) in yaml::read_files_with(path.as_ref(), USER_FILE_EXTENSIONS)? {
            docs.extend(Self::parse_any(&text, &p)?);
        }
        Self::build(docs)
    }

    /// Build a directory from users (e.g. from SCIM or a generator); no group
    /// attributes, projects or approvals.
    pub fn from_users(users: impl IntoIterator<Item = User>) -> Self {
        Self { users: users.into_iter().map(|u| (u.name.clone(), u)).collect(), ..Self::default() }
    }

    /// All users, by name.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Every project with its purposes, by name.
    pub fn projects(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> {
        self.projects.iter().map(|(name, purposes)| (name.as_str(), purposes))
    }

    /// Add a project (e.g. a dbt exposure) with its purposes; purposes of a
    /// project already known are added to its own.
    pub fn add_project(&mut self, name: &str, purposes: impl IntoIterator<Item = String>) {
        self.projects.entry(name.to_string()).or_default().extend(purposes);
    }

    /// Is there a user in this group?
    pub fn group_has_members(&self, group: &str) -> bool {
        self.users.values().any(|u| u.groups.contains(group))
    }

    /// The reader `name`, acting under `project` (or none).
    ///
    /// # Errors
    /// [`Error::UnknownUser`]; [`Error::Project`] when the project does not
    /// exist or the user is not a member (fail closed: no purposes are assumed).
    pub fn subject(&self, name: &str, project: Option<&str>) -> Result<Subject> {
        let user = self.users.get(name).ok_or_else(|| Error::UnknownUser(name.to_string()))?;
        let mut attributes = user.attributes.clone();
        for g in &user.groups {
            if let Some(inherited) = self.group_attributes.get(g) {
                for (k, v) in inherited {
                    attributes.entry(k.clone()).or_default().extend(v.iter().cloned());
                }
            }
        }
        let mut purposes = BTreeSet::new();
        if let Some(project) = project {
            let err = |reason: &str| Error::Project {
                user: name.to_string(),
                project: project.to_string(),
                reason: reason.to_string(),
            };
            let project_purposes = self.projects.get(project).ok_or_else(|| err("no such project"))?;
            if !user.projects.contains(project) {
                return Err(err("the user is not a member"));
            }
            purposes.clone_from(project_purposes);
        }
        Ok(Subject {
            name: user.name.clone(),
            groups: user.groups.clone(),
            attributes,
            project: project.map(str::to_string),
            purposes,
            approvals: self.approvals.get(name).cloned().unwrap_or_default(),
        })
    }
}
