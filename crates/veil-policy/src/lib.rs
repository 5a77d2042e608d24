//! veil-policy: the policy model of veil.
//!
//! Inputs are facts: **policies** (YAML; subscription policies decide who may
//! read a data source, data policies decide how columns and rows are shown),
//! **users** (groups, multi-valued attributes, projects with purposes) and a
//! **catalog** (data sources with table tags and typed, tagged columns).
//! Outputs are a [`Decision`] per reader and source, a [`Plan`] per source (for
//! a bindings generator to render as SQL for some engine), a [`ReaderPlan`]
//! specialised to one reader, and a readable explanation.
//!
//! veil-policy knows no target engine and generates no SQL. Everything fails
//! closed: a source no policy reaches is readable by no one, a rule that cannot
//! be applied hides rows or masks values, and any error means "deny".
//!
//! ```
//! use veil_policy::{Catalog, Directory, Engine, PolicySet};
//!
//! let policies = PolicySet::from_yaml_str(r#"
//! name: Employees read customers
//! type: subscription
//! actions: {type: grant, entitlements: {groups: [Employees]}}
//! circumstances: [{type: tags, tag: Customer}]
//! ---
//! name: Hash e-mails
//! type: data
//! circumstances: [{type: columnTags, columnTag: PII}]
//! rules:
//!   - type: mask
//!     columns: {tags: [PII.Email]}
//!     mask: {type: hash}
//!     exceptFor: {groups: [Support]}
//! "#, "policies.yaml").unwrap();
//! let users = Directory::from_yaml_str(r#"
//! users:
//!   - {name: ann, groups: [Employees]}
//!   - {name: sam, groups: [Employees, Support]}
//! "#, "users.yaml").unwrap();
//! let catalog = Catalog::from_yaml_str(r#"
//! sources:
//!   - name: shop.customers
//!     tags: [Customer]
//!     columns:
//!       - {name: email, type: text, tags: [PII.Email]}
//! "#, "catalog.yaml").unwrap();
//! let engine = Engine::new(policies, users, catalog).unwrap();
//!
//! let ann = engine.directory().subject("ann", None).unwrap();
//! let plan = engine.plan_for(&ann, "shop.customers").unwrap();
//! assert!(plan.allowed);
//! assert_eq!(plan.columns[0].chain[0].mask.kind(), "hash");
//!
//! let sam = engine.directory().subject("sam", None).unwrap();
//! assert!(engine.plan_for(&sam, "shop.customers").unwrap().columns[0].chain.is_empty());
//! ```
#![forbid(unsafe_code)]

mod catalog;
mod condition;
pub mod dsl;
mod engine;
mod entities;
mod error;
mod explain;
mod framework;
mod lint;
mod mask;
mod matrix;
mod plan;
mod policy;
mod scim;
pub mod sql;
mod users;
mod users_csv;
mod yaml;

pub use catalog::{column_name_matches, Catalog, Column, ColumnType, DataSource, RelationKind};
pub use condition::Condition;
pub use engine::{decision_from, Engine, NEW_COLUMN_POLICY, NEW_COLUMN_TAG};
pub use entities::{entities_from_yaml_str, load_entities};
pub use error::{Error, Location, Result};
pub use explain::{describe_mask, describe_rows};
pub use framework::{Derived, Framework, CATEGORY_TAG, ENTITY_TAG, SENSITIVITY_TAG};
pub use mask::{component_prefix, HashScope, Keep, Literal, Mask, Rounding, TimeUnit};
pub use matrix::{ReaderSet, Readers};
pub use plan::{
    Access, ColumnPlan, Decision, Explanation, MaskCase, Plan, ReaderColumn, ReaderMask, ReaderPlan, Reason, RowFilter,
    RowPredicate, Warning,
};
pub use policy::{
    check_components, component_masks, Applies, Circumstance, ColumnTarget, ComponentUse, DataRule, Merge, Operator,
    PlacedMask, Policy, PolicyBody, PolicySet, RowRule, Subscribers,
};
pub use users::{Approval, Directory, Subject, User};
pub use yaml::read_files_with;
