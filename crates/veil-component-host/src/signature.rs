//! Which exports of a component a SQL host can call, read from the component's
//! own WIT (decoded from the binary, which is validated on the way).
//!
//! A SQL function takes and returns SQL values, so each parameter and the result
//! must be one of the [`ValueType`]s; `option<T>` parameters may be left out at
//! the end of a call (the component sees `none`), an `option<T>` result shows
//! `none` as NULL, and `result<T, E>` turns `E` into a query error
//! ([`ErrorType`]). An export `<name>-batch` of the matching shape (first
//! parameter `list<option<T>>`, result `list<option<R>>`, the other parameters
//! the same) is the batch form of `<name>`: a host calls it once per chunk.

use wit_parser::decoding::{decode, DecodedWasm};
use wit_parser::{Resolve, Type, TypeDefKind, WorldItem};

/// A WIT type a SQL host maps to a SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// `bool`.
    Bool,
    /// `s32`.
    S32,
    /// `s64`.
    S64,
    /// `u32`.
    U32,
    /// `f64`.
    F64,
    /// `char`: one Unicode scalar value, as text.
    Char,
    /// `string`.
    String,
    /// `list<u8>`: bytes.
    Bytes,
    /// `list<string>`.
    StringList,
}

impl ValueType {
    /// The type as WIT writes it.
    ///
    /// ```
    /// assert_eq!(veil_component_host::ValueType::Bytes.wit(), "list<u8>");
    /// ```
    pub fn wit(self) -> &'static str {
        match self {
            ValueType::Bool => "bool",
            ValueType::S32 => "s32",
            ValueType::S64 => "s64",
            ValueType::U32 => "u32",
            ValueType::F64 => "f64",
            ValueType::Char => "char",
            ValueType::String => "string",
            ValueType::Bytes => "list<u8>",
            ValueType::StringList => "list<string>",
        }
    }
}

/// One parameter of an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its WIT name (kebab-case).
    pub name: String,
    /// Its type (inside `option` when [`Param::optional`]).
    pub ty: ValueType,
    /// Declared `option<T>`: a call may leave it out (the component sees `none`).
    pub optional: bool,
}

/// How an export reports failure: the error type of its `result<T, E>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// A `variant` whose cases carry a `string` message or nothing (veil's
    /// `error`): the case name is the error kind.
    Variant(Vec<String>),
    /// An `enum`: the case name is the error kind.
    Enum(Vec<String>),
    /// A `string`: the message, of kind `error`.
    Text,
}

/// What an export returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Returns {
    /// The value's type (inside `option` when [`Returns::optional`]).
    pub ty: ValueType,
    /// `option<T>`: `none` shows as NULL.
    pub optional: bool,
    /// `result<_, E>`: how failures are reported; `None` when it cannot fail.
    pub error: Option<ErrorType>,
}

/// An export a SQL host can call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// The exported interface holding it (e.g. `veil:udf/masks@0.1.0`), `None`
    /// for a function the world exports itself.
    pub interface: Option<String>,
    /// Its WIT name (kebab-case), e.g. `hash`.
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// Its result.
    pub returns: Returns,
    /// The name of its batch form in the same interface, if it has one.
    pub batch: Option<String>,
}

impl Function {
    /// Its SQL name: `<prefix>_<name>` with `-` as `_`.
    ///
    /// ```
    /// # use veil_component_host::*;
    /// let f = Function {
    ///     interface: None,
    ///     name: "redact-iban".into(),
    ///     params: vec![],
    ///     returns: Returns { ty: ValueType::String, optional: false, error: None },
    ///     batch: None,
    /// };
    /// assert_eq!(f.sql_name("iban"), "iban_redact_iban");
    /// ```
    pub fn sql_name(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.name.replace('-', "_"))
    }

    /// The SQL overloads of the function: for each, which parameters it takes.
    /// Every parameter; then the `option` ones at the end left out one by one;
    /// then every `option` left out. No two overloads take the same number.
    ///
    /// ```
    /// # use veil_component_host::*;
    /// let p = |name: &str, optional| Param { name: name.into(), ty: ValueType::String, optional };
    /// let f = Function {
    ///     interface: None,
    ///     name: "in-sample".into(),
    ///     params: vec![p("key", false), p("reader", true), p("percent", false), p("salt", true)],
    ///     returns: Returns { ty: ValueType::Bool, optional: false, error: None },
    ///     batch: None,
    /// };
    /// assert_eq!(
    ///     f.overloads(),
    ///     vec![vec![true, true, true, true], vec![true, true, true, false], vec![true, false, true, false]]
    /// );
    /// ```
    pub fn overloads(&self) -> Vec<Vec<bool>> {
        let mut out = vec![vec![true; self.params.len()]];
        let mut given = vec![true; self.params.len()];
        for (i, p) in self.params.iter().enumerate().rev() {
            if !p.optional {
                break;
            }
            if let Some(g) = given.get_mut(i) {
                *g = false;
            }
            out.push(given.clone());
        }
        let required: Vec<bool> = self.params.iter().map(|p| !p.optional).collect();
        if !out.contains(&required) {
            out.push(required);
        }
        out
    }

    /// The signature as WIT writes it, e.g. `func(value: string) -> result<string, error>`.
    pub fn wit(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                if p.optional {
                    format!("{}: option<{}>", p.name, p.ty.wit())
                } else {
                    format!("{}: {}", p.name, p.ty.wit())
                }
            })
            .collect();
        let mut out = if self.returns.optional {
            format!("option<{}>", self.returns.ty.wit())
        } else {
            self.returns.ty.wit().to_owned()
        };
        if let Some(error) = &self.returns.error {
            out = format!("result<{out}, {}>", if *error == ErrorType::Text { "string" } else { "error" });
        }
        format!("func({}) -> {out}", params.join(", "))
    }
}

/// An export a SQL host cannot call, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The exported interface holding it, `None` at the world's top level.
    pub interface: Option<String>,
    /// Its WIT name.
    pub name: String,
    /// Why, e.g. ``parameter `keep` is `variant keep`, which has no SQL type``.
    pub reason: String,
}

/// A component's exports, sorted into what a SQL host can and cannot call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exports {
    /// Exports a host registers, in the component's order (batch forms are
    /// attached to their function, not listed).
    pub functions: Vec<Function>,
    /// Exports it leaves out.
    pub skipped: Vec<Skipped>,
}

impl Exports {
    /// The callable export named `name` (WIT name), from any interface.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// Why a file cannot be used as a component of SQL functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Not a valid component (a core module, a WIT package, corrupt bytes).
    #[error("not a valid WebAssembly component: {0}")]
    NotAComponent(String),
    /// The component imports something: it would not be sandboxed.
    #[error(
        "the component imports {}: a component of SQL functions must import nothing (no files, clocks or network); build it for wasm32-unknown-unknown",
        .0.join(", ")
    )]
    Imports(Vec<String>),
}

/// Read a component's exports.
///
/// # Errors
/// [`InspectError::NotAComponent`] for bytes that are not a valid component;
/// [`InspectError::Imports`] when it imports anything but types.
pub fn inspect(bytes: &[u8]) -> Result<Exports, InspectError> {
    // The preamble of a component: magic, version 0x0d, layer 1 (a core module is layer 0).
    if bytes.get(..8) != Some(b"\0asm\x0d\0\x01\0".as_slice()) {
        return Err(InspectError::NotAComponent(if bytes.starts_with(b"\0asm") {
            "this is a core module; encode it as a component (scripts/build-wasm does, with veil-wasm-tools)".into()
        } else {
            "the file does not start with the WebAssembly preamble".into()
        }));
    }
    let (resolve, world) = match decode(bytes) {
        Ok(DecodedWasm::Component(resolve, world)) => (resolve, world),
        Ok(DecodedWasm::WitPackage(..)) => {
            return Err(InspectError::NotAComponent("this is a WIT package, not a component".into()))
        }
        Err(e) => return Err(InspectError::NotAComponent(format!("{e:#}"))),
    };
    let world = resolve.worlds.get(world).ok_or_else(|| InspectError::NotAComponent("no world".into()))?;
    let imports: Vec<String> = world
        .imports
        .iter()
        .filter(|(_, item)| !matches!(item, WorldItem::Type { .. }))
        .map(|(key, _)| format!("`{}`", resolve.name_world_key(key)))
        .collect();
    if !imports.is_empty() {
        return Err(InspectError::Imports(imports));
    }
    let mut exports = Exports::default();
    for (key, item) in &world.exports {
        match item {
            WorldItem::Function(f) => sort(&resolve, None, &[f], &mut exports),
            WorldItem::Interface { id, .. } => {
                if let Some(interface) = resolve.interfaces.get(*id) {
                    let functions: Vec<&wit_parser::Function> = interface.functions.values().collect();
                    sort(&resolve, Some(resolve.name_world_key(key)), &functions, &mut exports);
                }
            }
            WorldItem::Type { .. } => {}
        }
    }
    Ok(exports)
}

/// Sort one interface's functions (or the world's own) into callable and skipped,
/// pairing batch forms with their functions.
fn sort(resolve: &Resolve, interface: Option<String>, functions: &[&wit_parser::Function], out: &mut Exports) {
    let mut batches_used = Vec::new();
    let mut mine = Vec::new();
    for f in functions {
        let skip = |reason: String| Skipped { interface: interface.clone(), name: f.name.clone(), reason };
        if !matches!(f.kind, wit_parser::FunctionKind::Freestanding) {
            out.skipped.push(skip("an async function or a resource method has no SQL form".into()));
            continue;
        }
        match scalar(resolve, f) {
            Ok((params, returns)) => {
                let batch_name = format!("{}-batch", f.name);
                let batch = functions
                    .iter()
                    .find(|b| b.name == batch_name)
                    .filter(|b| batch_form(resolve, b).is_some_and(|shape| shape.matches(&params, &returns)));
                if batch.is_some() {
                    batches_used.push(batch_name.clone());
                }
                mine.push(Function {
                    interface: interface.clone(),
                    name: f.name.clone(),
                    params,
                    returns,
                    batch: batch.map(|_| batch_name),
                });
            }
            Err(reason) => out.skipped.push(skip(reason)),
        }
    }
    // A batch form is called through its function, not registered on its own.
    out.skipped.retain(|s| s.interface != interface || !batches_used.contains(&s.name));
    mine.retain(|f| !batches_used.contains(&f.name));
    out.functions.extend(mine);
}

/// A parameter or result type as a [`ValueType`], looking through aliases.
fn value(resolve: &Resolve, ty: &Type) -> Result<ValueType, String> {
    Ok(match ty {
        Type::Bool => ValueType::Bool,
        Type::S32 => ValueType::S32,
        Type::S64 => ValueType::S64,
        Type::U32 => ValueType::U32,
        Type::F64 => ValueType::F64,
        Type::Char => ValueType::Char,
        Type::String => ValueType::String,
        Type::Id(id) => match resolve.types.get(*id).map(|t| &t.kind) {
            Some(TypeDefKind::List(Type::U8)) => ValueType::Bytes,
            Some(TypeDefKind::List(Type::String)) => ValueType::StringList,
            Some(TypeDefKind::Type(inner)) => value(resolve, inner)?,
            _ => return Err(format!("`{}`, which has no SQL type", describe(resolve, ty))),
        },
        _ => return Err(format!("`{}`, which has no SQL type", describe(resolve, ty))),
    })
}

/// The definition behind `ty`, looking through aliases.
fn kind<'a>(resolve: &'a Resolve, ty: &Type) -> Option<&'a TypeDefKind> {
    match ty {
        Type::Id(id) => match resolve.types.get(*id).map(|t| &t.kind) {
            Some(TypeDefKind::Type(inner)) => kind(resolve, inner),
            other => other,
        },
        _ => None,
    }
}

/// `T` or `option<T>`.
fn maybe(resolve: &Resolve, ty: &Type) -> Result<(ValueType, bool), String> {
    match kind(resolve, ty) {
        Some(TypeDefKind::Option(inner)) => Ok((value(resolve, inner)?, true)),
        _ => Ok((value(resolve, ty)?, false)),
    }
}

/// `result<T, E>` split into `T` and the error type, or `ty` that cannot fail.
fn fallible<'a>(resolve: &'a Resolve, ty: &'a Type) -> Result<(&'a Type, Option<ErrorType>), String> {
    let Some(TypeDefKind::Result(result)) = kind(resolve, ty) else { return Ok((ty, None)) };
    let ok = result.ok.as_ref().ok_or("it returns `result<_, E>` with no value")?;
    let error = match &result.err {
        None => return Err("its `result` has no error type".into()),
        Some(Type::String) => ErrorType::Text,
        Some(err) => match kind(resolve, err) {
            Some(TypeDefKind::Variant(v)) => {
                let mut cases = Vec::new();
                for case in &v.cases {
                    match &case.ty {
                        None | Some(Type::String) => cases.push(case.name.clone()),
                        Some(other) => {
                            return Err(format!(
                                "error case `{}` carries `{}`; cases carry a `string` message or nothing",
                                case.name,
                                describe(resolve, other)
                            ))
                        }
                    }
                }
                ErrorType::Variant(cases)
            }
            Some(TypeDefKind::Enum(e)) => ErrorType::Enum(e.cases.iter().map(|c| c.name.clone()).collect()),
            _ => return Err(format!("its error type `{}` is not a variant, enum or string", describe(resolve, err))),
        },
    };
    Ok((ok, Some(error)))
}

/// Parameters and result of a function called once per row.
fn scalar(resolve: &Resolve, f: &wit_parser::Function) -> Result<(Vec<Param>, Returns), String> {
    let mut params = Vec::new();
    for p in &f.params {
        let (ty, optional) = maybe(resolve, &p.ty).map_err(|e| format!("parameter `{}` is {e}", p.name))?;
        params.push(Param { name: p.name.clone(), ty, optional });
    }
    // Left-out parameters come from the end: only a tail of options may be omitted.
    let result = f.result.as_ref().ok_or("it returns nothing")?;
    let (ok, error) = fallible(resolve, result)?;
    let (ty, optional) = maybe(resolve, ok).map_err(|e| format!("it returns {e}"))?;
    Ok((params, Returns { ty, optional, error }))
}

/// The shape of a `-batch` export: `(list<option<T>>, rest…) -> [result<]list<option<R>>[, E>]`.
struct BatchShape {
    first: ValueType,
    rest: Vec<Param>,
    element: ValueType,
    error: Option<ErrorType>,
}

impl BatchShape {
    /// Is this the batch form of a function with these parameters and result?
    fn matches(&self, params: &[Param], returns: &Returns) -> bool {
        let Some((first, rest)) = params.split_first() else { return false };
        !first.optional
            && first.ty == self.first
            && rest == self.rest.as_slice()
            && returns.ty == self.element
            && returns.error == self.error
    }
}

fn batch_form(resolve: &Resolve, f: &wit_parser::Function) -> Option<BatchShape> {
    let list_of_options = |ty: &Type| match kind(resolve, ty) {
        Some(TypeDefKind::List(inner)) => match kind(resolve, inner) {
            Some(TypeDefKind::Option(t)) => value(resolve, t).ok(),
            _ => None,
        },
        _ => None,
    };
    let (first, rest) = f.params.split_first()?;
    let first = list_of_options(&first.ty)?;
    let mut params = Vec::new();
    for p in rest {
        let (ty, optional) = maybe(resolve, &p.ty).ok()?;
        params.push(Param { name: p.name.clone(), ty, optional });
    }
    let (ok, error) = fallible(resolve, f.result.as_ref()?).ok()?;
    Some(BatchShape { first, rest: params, element: list_of_options(ok)?, error })
}

/// A type as WIT writes it (named types by name), for messages.
fn describe(resolve: &Resolve, ty: &Type) -> String {
    let primitive = match ty {
        Type::Bool => "bool",
        Type::U8 => "u8",
        Type::U16 => "u16",
        Type::U32 => "u32",
        Type::U64 => "u64",
        Type::S8 => "s8",
        Type::S16 => "s16",
        Type::S32 => "s32",
        Type::S64 => "s64",
        Type::F32 => "f32",
        Type::F64 => "f64",
        Type::Char => "char",
        Type::String => "string",
        Type::ErrorContext => "error-context",
        Type::Id(id) => {
            let Some(def) = resolve.types.get(*id) else { return "?".into() };
            if let Some(name) = &def.name {
                return format!("{} {name}", def.kind.as_str());
            }
            let d = |t: &Type| describe(resolve, t);
            let o = |t: &Option<Type>| t.as_ref().map_or("_".to_owned(), d);
            return match &def.kind {
                TypeDefKind::List(t) => format!("list<{}>", d(t)),
                TypeDefKind::Option(t) => format!("option<{}>", d(t)),
                TypeDefKind::Result(r) => format!("result<{}, {}>", o(&r.ok), o(&r.err)),
                TypeDefKind::Tuple(t) => format!("tuple<{}>", t.types.iter().map(d).collect::<Vec<_>>().join(", ")),
                TypeDefKind::Type(t) => d(t),
                other => other.as_str().to_owned(),
            };
        }
    };
    primitive.to_owned()
}
