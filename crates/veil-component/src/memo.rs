//! The last prepared mask of each kind, kept so a scalar call made once per row
//! (a SQL UDF) pays the set-up (compiling a regex, deriving a key, an AES key
//! schedule) once per distinct argument set, as a batch call does once per batch.
//! One entry per kind: a query calls one function with constant arguments.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A slot for one prepared value and the arguments it was prepared from.
pub type Slot<K, V> = RefCell<Option<(K, V)>>;

/// Run `f` on the value prepared for the arguments `same` accepts, preparing it
/// with `make` (and remembering it under `key()`) when the slot holds another.
pub fn with<K, V, R, E>(
    slot: &'static LocalKey<Slot<K, V>>,
    same: impl Fn(&K) -> bool,
    key: impl FnOnce() -> K,
    make: impl FnOnce() -> Result<V, E>,
    f: impl FnOnce(&V) -> R,
) -> Result<R, E> {
    slot.with(|cell| {
        if let Ok(held) = cell.try_borrow() {
            if let Some((k, v)) = held.as_ref() {
                if same(k) {
                    return Ok(f(v));
                }
            }
        }
        let value = make()?;
        let out = f(&value);
        if let Ok(mut held) = cell.try_borrow_mut() {
            *held = Some((key(), value));
        }
        Ok(out)
    })
}

/// The arguments of a keyed mask: key, scope and reader.
#[derive(PartialEq, Eq)]
pub struct Keyed {
    key_hex: String,
    scope: String,
    reader: Option<String>,
}

impl Keyed {
    /// Remember these arguments.
    pub fn new(key_hex: &str, scope: &str, reader: Option<&str>) -> Self {
        Self { key_hex: key_hex.to_owned(), scope: scope.to_owned(), reader: reader.map(str::to_owned) }
    }

    /// Are these the remembered arguments?
    pub fn is(&self, key_hex: &str, scope: &str, reader: Option<&str>) -> bool {
        self.key_hex == key_hex && self.scope == scope && self.reader.as_deref() == reader
    }
}
