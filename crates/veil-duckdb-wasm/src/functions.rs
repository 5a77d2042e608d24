//! A component's exports as DuckDB scalar functions.
//!
//! WIT types map to SQL types as: `string`, `char` → VARCHAR; `list<u8>` → BLOB;
//! `bool` → BOOLEAN; `s32` → INTEGER; `s64`, `u32` → BIGINT; `f64` → DOUBLE;
//! `list<string>` → VARCHAR[] (parameters only; NULL elements are left out). A
//! function with `option` parameters gets overloads that leave them out
//! ([`Function::overloads`]); the component sees `none` for those. SQL NULL in
//! any argument gives NULL without a call.

use std::cell::RefCell;
use std::error::Error;
use std::sync::Arc;

use duckdb::core::{Inserter, LogicalTypeHandle, LogicalTypeId};
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;
use duckdb::Connection;
use veil_component_host::runtime::{Column, Module, Value};
use veil_component_host::{Function, ValueType};

use crate::config::Entry;
use crate::vector::{bool_out, f64_out, i32_out, i64_out, BoxError, Input, Out, TextOut};

/// The SQL type of a WIT type.
fn sql_type(ty: ValueType) -> LogicalTypeHandle {
    match ty {
        ValueType::Bool => LogicalTypeId::Boolean.into(),
        ValueType::S32 => LogicalTypeId::Integer.into(),
        ValueType::S64 | ValueType::U32 => LogicalTypeId::Bigint.into(),
        ValueType::F64 => LogicalTypeId::Double.into(),
        ValueType::Bytes => LogicalTypeId::Blob.into(),
        ValueType::StringList => LogicalTypeHandle::list(&LogicalTypeId::Varchar.into()),
        _ => LogicalTypeId::Varchar.into(),
    }
}

/// One registered function: the module, which export, and its SQL name.
#[derive(Clone)]
pub struct Registered {
    module: Arc<Module>,
    index: usize,
    name: String,
}

impl Registered {
    fn function(&self) -> Result<&Function, BoxError> {
        self.module.functions().get(self.index).ok_or_else(|| "internal error: no such export".into())
    }
}

thread_local! {
    /// The overloads of the function being registered: [`VScalar::signatures`] is
    /// static, a component's exports are not, so [`register`] hands them over here
    /// just before DuckDB asks (on the same thread, once per registration).
    static SIGNATURES: RefCell<Vec<ScalarFunctionSignature>> = const { RefCell::new(Vec::new()) };
}

/// The `VScalar` every component function shares.
pub struct ComponentFunction;

impl VScalar for ComponentFunction {
    type State = Registered;

    fn invoke(
        state: &Registered,
        input: &mut duckdb::core::DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> Result<(), Box<dyn Error>> {
        run(state, &Input::new(input), output).map_err(|e| format!("{}: {e}", state.name).into())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        SIGNATURES.with(|s| s.take())
    }
}

/// Load every component of `entries`, check that none of their names is taken,
/// then register them all: a component that does not load, or a name that is
/// taken, fails before anything is registered.
///
/// # Errors
/// A message naming the components file's line and what went wrong.
pub fn register(con: &Connection, entries: &[Entry]) -> Result<(), Box<dyn Error>> {
    let mut planned: Vec<(String, Registered)> = Vec::new();
    for entry in entries {
        let bytes = std::fs::read(&entry.path)
            .map_err(|e| format!("{}: cannot read component `{}`: {e}", entry.at, entry.path.display()))?;
        let module = Arc::new(
            Module::new(&bytes, entry.limits).map_err(|e| format!("{}: `{}`: {e}", entry.at, entry.path.display()))?,
        );
        for (index, f) in module.functions().iter().enumerate() {
            if f.returns.ty == ValueType::StringList {
                continue; // a LIST result has no writer here
            }
            let name = f.sql_name(&entry.prefix);
            if let Some((_, other)) = planned.iter().find(|(n, _)| *n == name) {
                return Err(
                    format!("{}: `{name}` would be registered twice (also from `{}`)", entry.at, other.name).into()
                );
            }
            if exists(con, &name)? {
                return Err(format!(
                    "{}: a function `{name}` exists already; a component never replaces one: choose another prefix",
                    entry.at
                )
                .into());
            }
            planned.push((name.clone(), Registered { module: Arc::clone(&module), index, name }));
        }
    }
    for (name, registered) in planned {
        let f = registered.function()?;
        let overloads = f
            .overloads()
            .iter()
            .map(|given| {
                let params = f.params.iter().zip(given).filter(|(_, g)| **g).map(|(p, _)| sql_type(p.ty)).collect();
                ScalarFunctionSignature::exact(params, sql_type(f.returns.ty))
            })
            .collect();
        SIGNATURES.with(|s| s.replace(overloads));
        con.register_scalar_function_with_state::<ComponentFunction>(&name, &registered)?;
    }
    Ok(())
}

/// Is there a function called `name` (any schema, built in or registered)?
fn exists(con: &Connection, name: &str) -> Result<bool, Box<dyn Error>> {
    let count: i64 = con.query_row(
        "SELECT count(*) FROM duckdb_functions() WHERE lower(function_name) = lower(?)",
        [name],
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

/// One argument of the chunk as a column of values.
fn read(input: &Input<'_>, index: usize, ty: ValueType, rows: usize) -> Result<Column, BoxError> {
    let collect = |f: &dyn Fn(usize) -> Result<Option<Value>, BoxError>| -> Result<Column, BoxError> {
        (0..rows).map(f).collect::<Result<Vec<_>, _>>().map(Column::Rows)
    };
    match ty {
        ValueType::String | ValueType::Char => {
            let column = input.strings(index)?;
            if let Some(constant) = column.constant() {
                let text = constant.map(|b| std::str::from_utf8(b).map(|s| Value::Text(s.to_owned()))).transpose();
                return Ok(Column::Constant(text.map_err(|_| "a VARCHAR value is not valid UTF-8")?));
            }
            collect(&|row| Ok(column.text(row)?.map(|s| Value::Text(s.to_owned()))))
        }
        ValueType::Bytes => {
            let column = input.strings(index)?;
            collect(&|row| Ok(column.bytes(row).map(|b| Value::Bytes(b.to_vec()))))
        }
        ValueType::S64 | ValueType::U32 => {
            let column = input.i64s(index)?;
            collect(&|row| Ok(column.get(row).map(Value::Int)))
        }
        ValueType::S32 => {
            let column = input.i32s(index)?;
            collect(&|row| Ok(column.get(row).map(|v| Value::Int(i64::from(v)))))
        }
        ValueType::F64 => {
            let column = input.f64s(index)?;
            collect(&|row| Ok(column.get(row).map(Value::Float)))
        }
        ValueType::Bool => {
            let column = input.bools(index)?;
            collect(&|row| Ok(column.get(row).map(|b| Value::Bool(b != 0))))
        }
        ValueType::StringList => {
            let column = input.string_lists(index)?;
            let mut items = Vec::new();
            let mut values = Vec::with_capacity(rows);
            for row in 0..rows {
                let present = column.strings(row, &mut items)?;
                values.push(present.then(|| Value::TextList(items.iter().map(|s| (*s).to_owned()).collect())));
            }
            Ok(Column::Rows(values))
        }
        _ => Err(format!("internal error: no reader for `{}`", ty.wit()).into()),
    }
}

fn run(state: &Registered, input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let f = state.function()?;
    let rows = input.rows();
    // Overloads take different numbers of arguments: the count says which.
    let overloads = f.overloads();
    let given = overloads
        .iter()
        .find(|given| given.iter().filter(|g| **g).count() == input.columns())
        .ok_or("internal error: no overload takes this many arguments")?;
    let mut next = 0;
    let mut columns = Vec::with_capacity(given.len());
    for (p, g) in f.params.iter().zip(given) {
        if *g {
            columns.push(read(input, next, p.ty, rows)?);
            next += 1;
        } else {
            columns.push(Column::Absent);
        }
    }
    let values = state.module.call(state.index, columns, rows).map_err(|e| format!("{e} [{}]", e.kind()))?;
    write(f.returns.ty, output, values)
}

fn write(ty: ValueType, output: &mut dyn WritableVector, values: Vec<Option<Value>>) -> Result<(), BoxError> {
    let rows = values.len();
    let wrong = |v: &Value| -> BoxError { format!("internal error: `{v:?}` for a `{}` result", ty.wit()).into() };
    match ty {
        ValueType::String | ValueType::Char => {
            let mut out = TextOut::new(output, rows)?;
            for (row, value) in values.into_iter().enumerate() {
                match value {
                    Some(Value::Text(s)) => out.set(row, &s),
                    Some(v) => return Err(wrong(&v)),
                    None => out.set_null(row),
                }
            }
        }
        ValueType::Bytes => {
            let mut vector = output.flat_vector();
            for (row, value) in values.into_iter().enumerate() {
                match value {
                    Some(Value::Bytes(b)) => vector.insert(row, b.as_slice()),
                    Some(v) => return Err(wrong(&v)),
                    None => vector.set_null(row),
                }
            }
        }
        ValueType::S64 | ValueType::U32 => fill(i64_out(output, rows)?, values, |v| match v {
            Value::Int(i) => Ok(i),
            v => Err(wrong(&v)),
        })?,
        ValueType::S32 => fill(i32_out(output, rows)?, values, |v| match v {
            Value::Int(i) => i32::try_from(i).map_err(|_| wrong(&Value::Int(i))),
            v => Err(wrong(&v)),
        })?,
        ValueType::F64 => fill(f64_out(output, rows)?, values, |v| match v {
            Value::Float(x) => Ok(x),
            v => Err(wrong(&v)),
        })?,
        ValueType::Bool => fill(bool_out(output, rows)?, values, |v| match v {
            Value::Bool(b) => Ok(b),
            v => Err(wrong(&v)),
        })?,
        _ => return Err(format!("internal error: no writer for `{}`", ty.wit()).into()),
    }
    Ok(())
}

/// Write `values` to a primitive result, each converted by `get`.
fn fill<T: Copy>(
    mut out: Out<'_, T>,
    values: Vec<Option<Value>>,
    get: impl Fn(Value) -> Result<T, BoxError>,
) -> Result<(), BoxError> {
    for (row, value) in values.into_iter().enumerate() {
        match value {
            Some(v) => out.set(row, get(v)?),
            None => out.put(row, None),
        }
    }
    Ok(())
}
