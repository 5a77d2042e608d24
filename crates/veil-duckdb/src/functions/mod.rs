//! One type per SQL function, each in its own file: its signatures and its
//! vectorised body. Set-up that depends only on key id, scope, pattern or unit
//! (key derivation, HMAC states, compiled regex) is cached on the last value seen,
//! so a chunk whose arguments are constant pays for it once.

use std::error::Error;

use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
use duckdb::vscalar::ScalarFunctionSignature;
use duckdb::Connection;
use veil_core::{Key, Scope};

use crate::keyring;
use crate::vector::BoxError;

mod attribute_in;
mod classify;
mod fpe;
mod hash;
mod in_sample;
mod in_window;
mod mask_email;
mod mask_regex;
mod reveal;
mod round;
mod round_places;
mod tag_match;
mod token;
mod trunc_date;
mod unmask;

/// Register every `veil_*` function on `con`.
///
/// # Errors
/// When DuckDB refuses a registration.
pub fn register(con: &Connection) -> Result<(), Box<dyn Error>> {
    con.register_scalar_function::<hash::Hash>(hash::NAME)?;
    con.register_scalar_function::<mask_regex::MaskRegex>(mask_regex::NAME)?;
    con.register_scalar_function::<reveal::RevealFirst>(reveal::FIRST)?;
    con.register_scalar_function::<reveal::RevealLast>(reveal::LAST)?;
    con.register_scalar_function::<mask_email::MaskEmail>(mask_email::NAME)?;
    con.register_scalar_function::<round::Round>(round::NAME)?;
    con.register_scalar_function::<round_places::RoundPlaces>(round_places::NAME)?;
    con.register_scalar_function::<trunc_date::TruncDate>(trunc_date::NAME)?;
    con.register_scalar_function::<fpe::FpeEncrypt>(fpe::ENCRYPT)?;
    con.register_scalar_function::<fpe::FpeDecrypt>(fpe::DECRYPT)?;
    con.register_scalar_function::<token::Token>(token::NAME)?;
    con.register_scalar_function::<unmask::Unmask>(unmask::NAME)?;
    con.register_scalar_function::<tag_match::TagMatch>(tag_match::NAME)?;
    con.register_scalar_function::<attribute_in::AttributeIn>(attribute_in::NAME)?;
    con.register_scalar_function::<in_window::InWindow>(in_window::NAME)?;
    con.register_scalar_function::<in_sample::InSample>(in_sample::NAME)?;
    con.register_scalar_function::<classify::Classify>(classify::NAME)?;
    Ok(())
}

/// A signature from type ids.
fn signature(params: &[LogicalTypeId], result: LogicalTypeId) -> ScalarFunctionSignature {
    ScalarFunctionSignature::exact(params.iter().map(|&t| LogicalTypeHandle::from(t)).collect(), result.into())
}

/// Name the function in an error, so a user sees which call failed.
fn named(function: &str, result: Result<(), BoxError>) -> Result<(), BoxError> {
    result.map_err(|e| format!("{function}: {e}").into())
}

/// A veil-core error with its stable kind, e.g. `… [fpe_domain]`.
fn core_error(e: veil_core::Error) -> BoxError {
    format!("{e} [{}]", e.kind()).into()
}

/// A keyring error (unknown id, unreadable file).
fn keyring_error(message: String) -> BoxError {
    format!("{message} [keyring]").into()
}

/// What a chunk built for the last (key id, scope, reader, extra) it saw.
pub(crate) struct PerScope<T> {
    last: Option<Cached<T>>,
}

struct Cached<T> {
    key_id: Vec<u8>,
    scope: Vec<u8>,
    reader: Option<Vec<u8>>,
    extra: u64,
    value: T,
}

impl<T> Default for PerScope<T> {
    fn default() -> Self {
        Self { last: None }
    }
}

impl<T> PerScope<T> {
    /// The value built for these arguments; built (key looked up, scope parsed)
    /// only when they differ from the previous row's.
    pub(crate) fn get(
        &mut self,
        key_id: &[u8],
        scope: &[u8],
        reader: Option<&[u8]>,
        extra: u64,
        build: impl FnOnce(&Key, &Scope) -> Result<T, BoxError>,
    ) -> Result<&T, BoxError> {
        let hit = self.last.as_ref().is_some_and(|c| {
            c.extra == extra
                && same(&c.key_id, key_id)
                && same(&c.scope, scope)
                && match (&c.reader, reader) {
                    (Some(x), Some(y)) => same(x, y),
                    (None, None) => true,
                    _ => false,
                }
        });
        if !hit {
            let id = std::str::from_utf8(key_id).map_err(|_| "a key id is not valid UTF-8")?;
            let key = keyring::key(id).map_err(keyring_error)?;
            let mut parsed = Scope::parse(std::str::from_utf8(scope).map_err(|_| "a scope is not valid UTF-8")?);
            if let Some(reader) = reader {
                parsed = parsed.for_reader(std::str::from_utf8(reader).map_err(|_| "a reader is not valid UTF-8")?);
            }
            let value = build(key, &parsed)?;
            self.last = Some(Cached {
                key_id: key_id.to_vec(),
                scope: scope.to_vec(),
                reader: reader.map(<[u8]>::to_vec),
                extra,
                value,
            });
        }
        self.last.as_ref().map(|c| &c.value).ok_or_else(|| "internal error: empty cache".into())
    }
}

/// The last value built from one text argument (a pattern, a unit).
pub(crate) struct PerText<T> {
    last: Option<(Vec<u8>, Vec<u8>, T)>,
}

impl<T> Default for PerText<T> {
    fn default() -> Self {
        Self { last: None }
    }
}

impl<T> PerText<T> {
    /// The value built for (`a`, `b`); rebuilt only when they change.
    pub(crate) fn get(
        &mut self,
        a: &[u8],
        b: &[u8],
        build: impl FnOnce(&[u8], &[u8]) -> Result<T, BoxError>,
    ) -> Result<&T, BoxError> {
        let hit = self.last.as_ref().is_some_and(|(x, y, _)| same(x, a) && same(y, b));
        if !hit {
            let value = build(a, b)?;
            self.last = Some((a.to_vec(), b.to_vec(), value));
        }
        self.last.as_ref().map(|(_, _, v)| v).ok_or_else(|| "internal error: empty cache".into())
    }
}

/// Byte equality that never calls `memcmp` for empty slices: an empty `Vec`'s
/// pointer is dangling, and glibc's AVX-512 `memcmp` then takes a masked load from
/// an unmapped page — a microcode assist that made a per-row cache check cost
/// ~90 ns (found with perf; it was 75% of `veil_trunc_date`).
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// Text from an argument that must be UTF-8.
fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, BoxError> {
    std::str::from_utf8(bytes).map_err(|_| format!("{what} is not valid UTF-8").into())
}

/// The `VScalar` impl every function shares: no state, errors named.
macro_rules! scalar {
    ($type:ident, $name:expr, $run:path, $signatures:expr) => {
        #[doc = concat!("The SQL function `", stringify!($type), "`.")]
        pub struct $type;

        impl duckdb::vscalar::VScalar for $type {
            type State = ();

            fn invoke(
                _: &Self::State,
                input: &mut duckdb::core::DataChunkHandle,
                output: &mut dyn duckdb::vtab::arrow::WritableVector,
            ) -> Result<(), Box<dyn std::error::Error>> {
                crate::functions::named($name, $run(&crate::vector::Input::new(input), output))
            }

            fn signatures() -> Vec<duckdb::vscalar::ScalarFunctionSignature> {
                $signatures
            }
        }
    };
}
pub(crate) use scalar;
