//! veil-monitor: schema monitoring, so that transform DDL never opens data
//! before policies catch up.
//!
//! - [`Snapshot`]: a catalog at one moment (from dbt, a catalog YAML file, an
//!   engine's information_schema, or a saved JSON file);
//! - [`diff`]: what changed between two snapshots (new, dropped, recreated
//!   tables and views, table/view swaps, columns, types, tags);
//! - [`reconcile`]: the lockdown rules: what to tag `New`, what to bind again,
//!   which views to drop.
//!
//! The engine side (reading information_schema, binding, storing the snapshot
//! in the target) is in `veil-cli`; see `docs/monitoring.md`.

mod diff;
mod error;
mod reconcile;
mod snapshot;

pub use diff::{diff, Change, Diff};
pub use error::{Error, Result};
pub use reconcile::{baseline, keep_tags, reconcile, Reconciled, AUTOMATIC_TAG_PREFIXES};
pub use snapshot::{same_type, ColumnSnapshot, Kind, LiveColumn, Snapshot, SourceSnapshot, FORMAT_VERSION};
