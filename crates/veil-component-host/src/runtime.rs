//! Calling a component's exports with wasmtime, under limits.
//!
//! [`Module::new`] compiles a component (refusing one with imports) and
//! [`Module::call`] runs one of its [`Function`]s over a column of rows: the batch
//! form once per run of rows whose other arguments are equal (usually once per
//! chunk), otherwise the function once per row. A row with SQL NULL in any
//! argument gives NULL without a call.
//!
//! Every call runs in a fresh fuel budget ([`Limits::fuel_per_call`] for set-up
//! such as compiling a pattern, [`Limits::fuel_per_row`] for each row in the call
//! and [`Limits::fuel_per_byte`] for each byte of its arguments, so long values
//! may take longer) and an instance whose linear memory may not grow past
//! [`Limits::memory_bytes`]; a trap, running out of fuel or hitting the memory
//! limit is a [`CallError`], and the instance it happened in is thrown away.
//! Instances are pooled: each thread calling at once gets its own.

use std::sync::Mutex;

use wasmtime::component::{Component, ComponentExportIndex, Func, InstancePre, Linker, Val};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};

use crate::signature::{inspect, ErrorType, Exports, Function, InspectError, ValueType};

/// Limits on every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly, Wasm instructions; about 5 billion a second here) for each
    /// call, whatever its size: set-up such as deriving a key or compiling a pattern.
    pub fuel_per_call: u64,
    /// Fuel per row a call handles.
    pub fuel_per_row: u64,
    /// Fuel per byte of the arguments (strings, bytes, lists).
    pub fuel_per_byte: u64,
    /// The most linear memory an instance may have, in bytes.
    pub memory_bytes: usize,
}

impl Limits {
    /// The defaults: 1 billion fuel per call (about 0.2 s), 10 million per row
    /// (veil's FF1 of a card number takes 0.27 million, its keyed hash of an
    /// e-mail address 0.1 million), 4096 per byte (a 1 MiB value: 4.3 billion; a
    /// regex mask replacing every character of it takes 1.2 billion), 256 MiB of
    /// memory per instance.
    pub const DEFAULT: Limits =
        Limits { fuel_per_call: 1_000_000_000, fuel_per_row: 10_000_000, fuel_per_byte: 4096, memory_bytes: 256 << 20 };

    /// The budget of one call over `rows` rows holding `bytes` bytes of arguments.
    pub fn fuel(&self, rows: usize, bytes: usize) -> u64 {
        let rows = self.fuel_per_row.saturating_mul(rows as u64);
        let bytes = self.fuel_per_byte.saturating_mul(bytes as u64);
        self.fuel_per_call.saturating_add(rows).saturating_add(bytes)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A SQL value on its way into or out of a component.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `s32`, `s64` or `u32`.
    Int(i64),
    /// `f64`.
    Float(f64),
    /// `string` or `char`.
    Text(String),
    /// `list<u8>`.
    Bytes(Vec<u8>),
    /// `list<string>`.
    TextList(Vec<String>),
}

impl Value {
    /// Size in bytes, for splitting large batches.
    fn size(&self) -> usize {
        match self {
            Value::Text(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::TextList(l) => l.iter().map(|s| s.len() + 8).sum(),
            _ => 8,
        }
    }
}

/// One argument of a call: a value per row, one value for every row, or none.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// One value (or NULL) per row.
    Rows(Vec<Option<Value>>),
    /// The same value (or NULL) in every row.
    Constant(Option<Value>),
    /// Left out (an `option` parameter): the component sees `none`. Unlike NULL,
    /// it does not make the result NULL.
    Absent,
}

impl Column {
    fn get(&self, row: usize) -> Option<&Value> {
        match self {
            Column::Rows(values) => values.get(row).and_then(Option::as_ref),
            Column::Constant(value) => value.as_ref(),
            Column::Absent => None,
        }
    }

    fn is_null(&self, row: usize) -> bool {
        !matches!(self, Column::Absent) && self.get(row).is_none()
    }

    fn take(&mut self, row: usize) -> Option<Value> {
        match self {
            Column::Rows(values) => values.get_mut(row).and_then(Option::take),
            Column::Constant(value) => value.clone(),
            Column::Absent => None,
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The export returned its error value (`result::err`).
    #[error("{message}")]
    Returned {
        /// The error's case name with `-` as `_` (e.g. `fpe_domain`), or `error`.
        kind: String,
        /// Its message.
        message: String,
    },
    /// The component trapped (e.g. `unreachable`, a stack overflow).
    #[error("the component trapped: {0}")]
    Trap(String),
    /// The call used its whole fuel budget (the budget).
    #[error("the component ran out of fuel ({0} for the call): it runs too long or never stops")]
    Fuel(u64),
    /// The instance tried to grow its memory past the limit.
    #[error("the component needed more than {} MiB of memory", .0 >> 20)]
    Memory(usize),
    /// An argument does not fit the parameter's WIT type (e.g. a negative `u32`).
    #[error("{0}")]
    Argument(String),
    /// The component broke its contract (a batch of the wrong length, a wrong type back).
    #[error("the component broke its contract: {0}")]
    Contract(String),
    /// wasmtime failed outside the component (instantiation, an internal error).
    #[error("{0}")]
    Host(String),
}

impl CallError {
    /// A stable name for the failure, e.g. `fpe_domain`, `trap`, `fuel`, `memory_limit`.
    pub fn kind(&self) -> &str {
        match self {
            CallError::Returned { kind, .. } => kind,
            CallError::Trap(_) => "trap",
            CallError::Fuel(_) => "fuel",
            CallError::Memory(_) => "memory_limit",
            CallError::Argument(_) => "invalid_argument",
            CallError::Contract(_) => "contract",
            CallError::Host(_) => "host",
        }
    }

    /// Whether the instance may be in a broken state and must not be reused.
    fn poisons(&self) -> bool {
        !matches!(self, CallError::Returned { .. } | CallError::Argument(_))
    }
}

/// Why a component cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not a usable component (see [`InspectError`]).
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// wasmtime cannot compile or prepare it.
    #[error("wasmtime cannot compile the component: {0}")]
    Compile(String),
}

/// Store data: the memory limit, and whether a call hit it.
struct Limiter {
    memory_bytes: usize,
    hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = true;
            return Err(wasmtime::format_err!("memory limit of {} bytes", self.memory_bytes));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// One instance and the functions looked up in it.
struct Slot {
    store: Store<Limiter>,
    /// Per function: the function and its batch form.
    funcs: Vec<(Func, Option<Func>)>,
}

/// A compiled component, ready to call.
pub struct Module {
    exports: Exports,
    limits: Limits,
    pre: InstancePre<Limiter>,
    engine: Engine,
    /// Per function: its export index and its batch form's.
    indices: Vec<(ComponentExportIndex, Option<ComponentExportIndex>)>,
    pool: Mutex<Vec<Slot>>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("exports", &self.exports).field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Module {
    /// Compile `bytes` (a component with no imports) to call under `limits`.
    ///
    /// # Errors
    /// [`LoadError`] when it is not a component, imports anything or does not compile.
    pub fn new(bytes: &[u8], limits: Limits) -> Result<Self, LoadError> {
        let exports = inspect(bytes)?;
        let compile = |e: wasmtime::Error| LoadError::Compile(format!("{e:#}"));
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(compile)?;
        let component = Component::new(&engine, bytes).map_err(compile)?;
        let pre = Linker::new(&engine).instantiate_pre(&component).map_err(compile)?;
        let mut indices = Vec::new();
        for f in &exports.functions {
            let index = |name: &str| {
                let interface = match &f.interface {
                    Some(interface) => Some(component.get_export_index(None, interface)?),
                    None => None,
                };
                component.get_export_index(interface.as_ref(), name)
            };
            let missing = || LoadError::Compile(format!("export `{}` is not in the component", f.name));
            let batch = match &f.batch {
                Some(batch) => Some(index(batch).ok_or_else(missing)?),
                None => None,
            };
            indices.push((index(&f.name).ok_or_else(missing)?, batch));
        }
        Ok(Self { exports, limits, pre, engine, indices, pool: Mutex::new(Vec::new()) })
    }

    /// The callable exports.
    pub fn functions(&self) -> &[Function] {
        &self.exports.functions
    }

    /// Every export, callable or not.
    pub fn exports(&self) -> &Exports {
        &self.exports
    }

    /// The limits calls run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn take_slot(&self) -> Result<Slot, CallError> {
        if let Some(slot) = self.pool.lock().ok().and_then(|mut pool| pool.pop()) {
            return Ok(slot);
        }
        let host = |e: wasmtime::Error| CallError::Host(format!("cannot instantiate the component: {e:#}"));
        let mut store = Store::new(&self.engine, Limiter { memory_bytes: self.limits.memory_bytes, hit: false });
        store.limiter(|limiter| limiter);
        // Instantiation runs start functions: give it a budget too.
        store.set_fuel(self.limits.fuel(0, 0)).map_err(host)?;
        let instance = self.pre.instantiate(&mut store).map_err(host)?;
        let mut funcs = Vec::new();
        for (index, batch) in &self.indices {
            let get = |store: &mut Store<Limiter>, index: &ComponentExportIndex| {
                instance.get_func(&mut *store, index).ok_or_else(|| CallError::Host("an export is missing".into()))
            };
            let func = get(&mut store, index)?;
            let batch = match batch {
                Some(b) => Some(get(&mut store, b)?),
                None => None,
            };
            funcs.push((func, batch));
        }
        Ok(Slot { store, funcs })
    }

    /// Run function `index` (of [`Module::functions`]) over `rows` rows, one
    /// [`Column`] per parameter ([`Column::Absent`] only for `option` ones).
    /// Returns one value per row, `None` for NULL.
    ///
    /// # Errors
    /// The first [`CallError`] of any call; no partial result.
    pub fn call(&self, index: usize, args: Vec<Column>, rows: usize) -> Result<Vec<Option<Value>>, CallError> {
        let f = self.exports.functions.get(index).ok_or_else(|| CallError::Host("no such function".into()))?;
        let absent_ok = args.iter().zip(&f.params).all(|(a, p)| p.optional || !matches!(a, Column::Absent));
        if args.len() != f.params.len() || !absent_ok {
            return Err(CallError::Host(format!("`{}` called with the wrong arguments", f.name)));
        }
        let mut slot = self.take_slot()?;
        let result = self.run(&mut slot, index, f, args, rows);
        let keep = match &result {
            Ok(_) => true,
            Err(e) => !e.poisons(),
        };
        if keep {
            if let Ok(mut pool) = self.pool.lock() {
                pool.push(slot);
            }
        }
        result
    }

    fn run(
        &self,
        slot: &mut Slot,
        index: usize,
        f: &Function,
        mut args: Vec<Column>,
        rows: usize,
    ) -> Result<Vec<Option<Value>>, CallError> {
        let (func, batch) = slot.funcs.get(index).cloned().ok_or_else(|| CallError::Host("no such function".into()))?;
        let mut out: Vec<Option<Value>> = vec![None; rows];
        let has_nulls = |args: &[Column], row: usize, from: usize| args.iter().skip(from).any(|a| a.is_null(row));
        let Some(batch) = batch else {
            for (row, slot_out) in out.iter_mut().enumerate() {
                if has_nulls(&args, row, 0) {
                    continue;
                }
                let bytes = args.iter().filter_map(|a| a.get(row)).map(Value::size).sum();
                let params = args
                    .iter_mut()
                    .zip(&f.params)
                    .map(|(a, p)| lower(a.take(row), p.ty, p.optional, &p.name))
                    .collect::<Result<Vec<Val>, _>>()?;
                let result = self.invoke(&mut slot.store, func, f, params, self.limits.fuel(1, bytes))?;
                *slot_out = lift_returned(result, f)?;
            }
            return Ok(out);
        };
        // Runs of rows whose other arguments are equal (and not NULL), each one
        // batch call, split so no call lowers much more than an eighth of the memory.
        let budget = (self.limits.memory_bytes / 8).max(1);
        let mut row = 0;
        while row < rows {
            if has_nulls(&args, row, 1) {
                row += 1;
                continue;
            }
            let start = row;
            let mut bytes = 0;
            let same =
                |a: &Column, r: usize| matches!(a, Column::Constant(_) | Column::Absent) || a.get(r) == a.get(start);
            while row < rows && (row == start || (bytes < budget && args.iter().skip(1).all(|a| same(a, row)))) {
                bytes += args.first().and_then(|a| a.get(row)).map_or(0, Value::size);
                row += 1;
            }
            let (first, rest) = args.split_first_mut().ok_or_else(|| CallError::Host("no value argument".into()))?;
            let first_param = f.params.first().ok_or_else(|| CallError::Host("no parameters".into()))?;
            let mut nulls = Vec::with_capacity(row - start);
            let mut values = Vec::with_capacity(row - start);
            for r in start..row {
                let value = first.take(r);
                nulls.push(value.is_none());
                let value = value.map(|v| lower(Some(v), first_param.ty, false, &first_param.name).map(Box::new));
                values.push(Val::Option(value.transpose()?));
            }
            let mut params = vec![Val::List(values)];
            let bytes = bytes + rest.iter().filter_map(|a| a.get(start)).map(Value::size).sum::<usize>();
            for (a, p) in rest.iter_mut().zip(f.params.iter().skip(1)) {
                params.push(lower(a.take(start), p.ty, p.optional, &p.name)?);
            }
            let result = self.invoke(&mut slot.store, batch, f, params, self.limits.fuel(row - start, bytes))?;
            let Val::List(list) = returned(result, f)? else {
                return Err(CallError::Contract("the batch form did not return a list".into()));
            };
            if list.len() != row - start {
                return Err(CallError::Contract(format!("{} values in, {} out", row - start, list.len())));
            }
            for ((r, value), null) in (start..row).zip(list).zip(nulls) {
                let Val::Option(value) = value else {
                    return Err(CallError::Contract("a batch value is not an option".into()));
                };
                // NULL in, NULL out, whatever the component says.
                if let (Some(o), false) = (out.get_mut(r), null) {
                    *o = value.map(|v| lift(*v, f.returns.ty)).transpose()?;
                }
            }
        }
        Ok(out)
    }

    /// One call with a fresh budget; wasmtime's failures classified.
    fn invoke(
        &self,
        store: &mut Store<Limiter>,
        func: Func,
        f: &Function,
        params: Vec<Val>,
        fuel: u64,
    ) -> Result<Val, CallError> {
        store.set_fuel(fuel).map_err(|e| CallError::Host(format!("{e:#}")))?;
        store.data_mut().hit = false;
        let mut results = [Val::Bool(false)];
        match func.call(&mut *store, &params, &mut results) {
            Ok(()) => {
                let [result] = results;
                Ok(result)
            }
            Err(e) => Err(if store.data().hit {
                CallError::Memory(self.limits.memory_bytes)
            } else {
                match e.downcast_ref::<Trap>() {
                    Some(Trap::OutOfFuel) => CallError::Fuel(fuel),
                    Some(trap) => CallError::Trap(format!("{trap} in `{}`", f.name)),
                    None => CallError::Trap(format!("{e:#}")),
                }
            }),
        }
    }
}

/// A SQL value as the WIT value of type `ty` (wrapped in `option` when `optional`).
fn lower(value: Option<Value>, ty: ValueType, optional: bool, name: &str) -> Result<Val, CallError> {
    let bad =
        |v: &Value| CallError::Argument(format!("argument `{name}` ({v:?}) does not fit WIT type `{}`", ty.wit()));
    let Some(value) = value else {
        return if optional { Ok(Val::Option(None)) } else { Err(CallError::Host(format!("NULL reached `{name}`"))) };
    };
    let val = match (ty, value) {
        (ValueType::Bool, Value::Bool(b)) => Val::Bool(b),
        (ValueType::S64, Value::Int(i)) => Val::S64(i),
        (ValueType::S32, Value::Int(i)) => Val::S32(i32::try_from(i).map_err(|_| bad(&Value::Int(i)))?),
        (ValueType::U32, Value::Int(i)) => Val::U32(u32::try_from(i).map_err(|_| bad(&Value::Int(i)))?),
        (ValueType::F64, Value::Float(x)) => Val::Float64(x),
        (ValueType::String, Value::Text(s)) => Val::String(s),
        (ValueType::Char, Value::Text(s)) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(bad(&Value::Text(s))),
            }
        }
        (ValueType::Bytes, Value::Bytes(b)) => Val::List(b.into_iter().map(Val::U8).collect()),
        (ValueType::StringList, Value::TextList(l)) => Val::List(l.into_iter().map(Val::String).collect()),
        (_, v) => return Err(bad(&v)),
    };
    Ok(if optional { Val::Option(Some(Box::new(val))) } else { val })
}

/// A WIT value of type `ty` as a SQL value.
fn lift(val: Val, ty: ValueType) -> Result<Value, CallError> {
    let wrong = |v: &Val| CallError::Contract(format!("expected `{}`, got {v:?}", ty.wit()));
    Ok(match (ty, val) {
        (ValueType::Bool, Val::Bool(b)) => Value::Bool(b),
        (ValueType::S64, Val::S64(i)) => Value::Int(i),
        (ValueType::S32, Val::S32(i)) => Value::Int(i64::from(i)),
        (ValueType::U32, Val::U32(i)) => Value::Int(i64::from(i)),
        (ValueType::F64, Val::Float64(x)) => Value::Float(x),
        (ValueType::String, Val::String(s)) => Value::Text(s),
        (ValueType::Char, Val::Char(c)) => Value::Text(c.to_string()),
        (ValueType::Bytes, Val::List(l)) => Value::Bytes(
            l.into_iter().map(|v| if let Val::U8(b) = v { Ok(b) } else { Err(wrong(&v)) }).collect::<Result<_, _>>()?,
        ),
        (ValueType::StringList, Val::List(l)) => Value::TextList(
            l.into_iter()
                .map(|v| if let Val::String(s) = v { Ok(s) } else { Err(wrong(&v)) })
                .collect::<Result<_, _>>()?,
        ),
        (_, v) => return Err(wrong(&v)),
    })
}

/// The value inside a `result<T, E>` (or the result itself), the error turned into [`CallError::Returned`].
fn returned(val: Val, f: &Function) -> Result<Val, CallError> {
    let Some(error) = &f.returns.error else { return Ok(val) };
    match val {
        Val::Result(Ok(Some(ok))) => Ok(*ok),
        Val::Result(Err(err)) => Err(returned_error(err.map(|e| *e), error)),
        other => Err(CallError::Contract(format!("expected a result, got {other:?}"))),
    }
}

fn returned_error(err: Option<Val>, ty: &ErrorType) -> CallError {
    let kind = |case: &str| case.replace('-', "_");
    match (err, ty) {
        (Some(Val::Variant(case, payload)), ErrorType::Variant(_)) => CallError::Returned {
            kind: kind(&case),
            message: match payload.map(|p| *p) {
                Some(Val::String(message)) => message,
                _ => case.clone(),
            },
        },
        (Some(Val::Enum(case)), ErrorType::Enum(_)) => CallError::Returned { kind: kind(&case), message: case },
        (Some(Val::String(message)), ErrorType::Text) => CallError::Returned { kind: "error".into(), message },
        (other, _) => CallError::Contract(format!("an error value of the wrong type: {other:?}")),
    }
}

/// A scalar call's result as a SQL value (`none` as NULL).
fn lift_returned(val: Val, f: &Function) -> Result<Option<Value>, CallError> {
    match returned(val, f)? {
        Val::Option(inner) if f.returns.optional => inner.map(|v| lift(*v, f.returns.ty)).transpose(),
        other => lift(other, f.returns.ty).map(Some),
    }
}
