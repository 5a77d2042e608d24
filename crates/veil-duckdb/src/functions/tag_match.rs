//! `veil_tag_match(user_value, data_tag)`: does a user's value reach a data tag?

use duckdb::core::LogicalTypeId::{Boolean, Varchar};
use duckdb::vtab::arrow::WritableVector;
use veil_core::rows::tag_matches;

use super::signature;
use crate::vector::{bool_out, BoxError, Input};

/// SQL name.
pub const NAME: &str = "veil_tag_match";

super::scalar!(TagMatch, NAME, run, vec![signature(&[Varchar, Varchar], Boolean)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (users, tags) = (input.strings(0)?, input.strings(1)?);
    let mut out = bool_out(output, rows)?;
    for row in 0..rows {
        let result = match (users.text(row)?, tags.text(row)?) {
            (Some(user), Some(tag)) => Some(tag_matches(user, tag)),
            _ => None,
        };
        out.put(row, result);
    }
    Ok(())
}
