//! `veil_attribute_in(value, values, hierarchical)`: is a row's value one of the
//! reader's attribute values (or, hierarchically, below one of them)?

use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
use duckdb::vscalar::ScalarFunctionSignature;
use duckdb::vtab::arrow::WritableVector;
use veil_core::rows::attribute_in;

use crate::vector::{bool_out, BoxError, Input};

/// SQL name.
pub const NAME: &str = "veil_attribute_in";

super::scalar!(AttributeIn, NAME, run, signatures());

fn signatures() -> Vec<ScalarFunctionSignature> {
    let varchar = || LogicalTypeHandle::from(LogicalTypeId::Varchar);
    vec![ScalarFunctionSignature::exact(
        vec![varchar(), LogicalTypeHandle::list(&varchar()), LogicalTypeId::Boolean.into()],
        LogicalTypeId::Boolean.into(),
    )]
}

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, lists, hierarchical) = (input.strings(0)?, input.string_lists(1)?, input.bools(2)?);
    let mut out = bool_out(output, rows)?;
    let mut allowed = Vec::new();
    for row in 0..rows {
        let (Some(value), Some(h)) = (values.text(row)?, hierarchical.get(row)) else {
            out.put(row, None);
            continue;
        };
        if !lists.strings(row, &mut allowed)? {
            out.put(row, None);
            continue;
        }
        out.set(row, attribute_in(value, &allowed, h != 0));
    }
    Ok(())
}
