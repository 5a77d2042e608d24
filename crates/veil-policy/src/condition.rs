//! Conditions over readers: the small language that plans carry.
//!
//! A [`Condition`] mentions only facts about the reader (groups, attributes,
//! purposes, identity, approvals), never about rows, so a bindings generator can
//! render it as a `CASE WHEN` over the reader's facts, and [`Condition::eval`]
//! folds it away for one known reader. Tag functions of the DSL are resolved
//! against the data source before they become conditions.

use std::fmt;

use serde::Serialize;
use veil_core::rows::tag_matches;

use crate::users::Subject;

/// A boolean condition on the reader.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// Always true.
    Always,
    /// Always false.
    Never,
    /// The reader is this user.
    User {
        /// User name.
        name: String,
    },
    /// The reader is a member of this group (exact name).
    InGroup {
        /// Group name.
        group: String,
    },
    /// One of the reader's groups is `tag` or an ancestor of it (hierarchical).
    GroupReaches {
        /// The data tag the group must reach.
        tag: String,
    },
    /// The reader has attribute `key` with exactly `value`.
    HasAttribute {
        /// Attribute key.
        key: String,
        /// Attribute value.
        value: String,
    },
    /// One of the reader's values for `key` is `tag` or an ancestor of it.
    AttributeReaches {
        /// Attribute key.
        key: String,
        /// The data tag a value must reach.
        tag: String,
    },
    /// The reader acts under a project with this purpose.
    ActingUnder {
        /// Purpose name.
        purpose: String,
    },
    /// The reader asked for this source and one of these approvers approved.
    Approved {
        /// The data source.
        source: String,
        /// Users who may approve.
        users: Vec<String>,
        /// Members of these groups may approve.
        groups: Vec<String>,
    },
    /// Negation.
    Not {
        /// The negated condition.
        of: Box<Condition>,
    },
    /// Conjunction (empty: true).
    All {
        /// The conjuncts.
        of: Vec<Condition>,
    },
    /// Disjunction (empty: false).
    Any {
        /// The disjuncts.
        of: Vec<Condition>,
    },
}

impl Condition {
    /// Conjunction, simplified.
    ///
    /// ```
    /// use veil_policy::Condition;
    /// let g = Condition::InGroup { group: "Legal".into() };
    /// assert_eq!(Condition::all(vec![Condition::Always, g.clone()]), g);
    /// assert_eq!(Condition::all(vec![Condition::Never, g]), Condition::Never);
    /// ```
    pub fn all(items: Vec<Condition>) -> Condition {
        let mut out = Vec::new();
        for c in items {
            match c {
                Condition::Always => {}
                Condition::Never => return Condition::Never,
                Condition::All { of } => out.extend(of),
                c => {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
        }
        match out.len() {
            0 => Condition::Always,
            1 => out.pop().unwrap_or(Condition::Never),
            _ => Condition::All { of: out },
        }
    }

    /// Disjunction, simplified.
    ///
    /// ```
    /// use veil_policy::Condition;
    /// let g = Condition::InGroup { group: "Legal".into() };
    /// assert_eq!(Condition::any(vec![Condition::Never, g.clone()]), g);
    /// assert_eq!(Condition::any(vec![]), Condition::Never);
    /// ```
    pub fn any(items: Vec<Condition>) -> Condition {
        let mut out = Vec::new();
        for c in items {
            match c {
                Condition::Never => {}
                Condition::Always => return Condition::Always,
                Condition::Any { of } => out.extend(of),
                c => {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
        }
        match out.len() {
            0 => Condition::Never,
            1 => out.pop().unwrap_or(Condition::Never),
            _ => Condition::Any { of: out },
        }
    }

    /// Negation, simplified.
    ///
    /// ```
    /// use veil_policy::Condition;
    /// assert_eq!(Condition::not(Condition::Always), Condition::Never);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn not(c: Condition) -> Condition {
        match c {
            Condition::Always => Condition::Never,
            Condition::Never => Condition::Always,
            Condition::Not { of } => *of,
            c => Condition::Not { of: Box::new(c) },
        }
    }

    /// Is the condition true for this reader?
    ///
    /// ```
    /// use veil_policy::{Condition, Directory};
    /// let dir = Directory::from_yaml_str("users:\n  - {name: bob, attributes: {Access: Secret}}\n", "users.yaml").unwrap();
    /// let bob = dir.subject("bob", None).unwrap();
    /// let c = Condition::AttributeReaches { key: "Access".into(), tag: "Secret.HR".into() };
    /// assert!(c.eval(&bob));
    /// ```
    pub fn eval(&self, subject: &Subject) -> bool {
        match self {
            Condition::Always => true,
            Condition::Never => false,
            Condition::User { name } => subject.name == *name,
            Condition::InGroup { group } => subject.groups.contains(group),
            Condition::GroupReaches { tag } => subject.groups.iter().any(|g| tag_matches(g, tag)),
            Condition::HasAttribute { key, value } => {
                subject.attributes.get(key).is_some_and(|values| values.iter().any(|v| v == value))
            }
            Condition::AttributeReaches { key, tag } => {
                subject.attributes.get(key).is_some_and(|values| values.iter().any(|v| tag_matches(v, tag)))
            }
            Condition::ActingUnder { purpose } => subject.purposes.contains(purpose),
            Condition::Approved { source, users, groups } => subject.approvals.iter().any(|a| {
                a.source == *source
                    && (users.contains(&a.approver) || a.approver_groups.iter().any(|g| groups.contains(g)))
            }),
            Condition::Not { of } => !of.eval(subject),
            Condition::All { of } => of.iter().all(|c| c.eval(subject)),
            Condition::Any { of } => of.iter().any(|c| c.eval(subject)),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, of: &[Condition], op: &str| {
            write!(f, "(")?;
            for (i, c) in of.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{c}")?;
            }
            write!(f, ")")
        };
        match self {
            Condition::Always => write!(f, "everyone"),
            Condition::Never => write!(f, "no one"),
            Condition::User { name } => write!(f, "user is `{name}`"),
            Condition::InGroup { group } => write!(f, "member of group `{group}`"),
            Condition::GroupReaches { tag } => write!(f, "has a group reaching tag `{tag}`"),
            Condition::HasAttribute { key, value } => write!(f, "has `{key}` = `{value}`"),
            Condition::AttributeReaches { key, tag } => {
                write!(f, "has a `{key}` value reaching tag `{tag}`")
            }
            Condition::ActingUnder { purpose } => write!(f, "acts under purpose `{purpose}`"),
            Condition::Approved { source, .. } => write!(f, "was approved for `{source}`"),
            Condition::Not { of } => write!(f, "not {of}"),
            Condition::All { of } => list(f, of, "and"),
            Condition::Any { of } => list(f, of, "or"),
        }
    }
}
