//! Typed, bounds-checked views of DuckDB vectors: the only place that touches raw
//! vector memory.
//!
//! DuckDB hands a scalar function flat input vectors (the C API flattens constants)
//! and one flat output vector. Each view checks the column's logical type once per
//! chunk before it reinterprets the data, so a signature/type mismatch is an error,
//! never undefined behaviour; every row access is bounds-checked.

use std::error::Error;
use std::slice;

use duckdb::core::{DataChunkHandle, FlatVector, Inserter, LogicalTypeId};
use duckdb::ffi::{
    duckdb_data_chunk_get_vector, duckdb_list_entry, duckdb_list_vector_get_child, duckdb_list_vector_get_size,
    duckdb_string_t, duckdb_vector, duckdb_vector_get_data, duckdb_vector_get_validity,
};
use duckdb::vtab::arrow::WritableVector;

/// Errors from a function body; DuckDB shows their text as the query error.
pub type BoxError = Box<dyn Error>;

fn type_error(what: &str, index: usize, found: LogicalTypeId) -> BoxError {
    format!("internal error: argument {} is {found:?}, expected {what}", index + 1).into()
}

/// Which rows of a vector are not NULL (`None`: all of them).
#[derive(Clone, Copy)]
struct Validity<'a>(Option<&'a [u64]>);

impl<'a> Validity<'a> {
    /// # Safety
    /// `vector` must be a live vector holding at least `rows` rows for `'a`.
    unsafe fn of(vector: duckdb_vector, rows: usize) -> Self {
        // SAFETY: DuckDB returns NULL (all valid) or a mask of one bit per row.
        let mask = unsafe { duckdb_vector_get_validity(vector) };
        if mask.is_null() {
            Validity(None)
        } else {
            Validity(Some(unsafe { slice::from_raw_parts(mask, rows.div_ceil(64)) }))
        }
    }

    #[inline]
    fn is_valid(self, row: usize) -> bool {
        match self.0 {
            None => true,
            Some(words) => words.get(row / 64).is_some_and(|w| (w >> (row % 64)) & 1 == 1),
        }
    }
}

/// One input argument of a chunk, read as `T` (its physical type).
pub struct Column<'a, T> {
    values: &'a [T],
    validity: Validity<'a>,
}

impl<'a, T> Column<'a, T> {
    /// # Safety
    /// `vector` must be a live flat vector whose physical type is `T` and that holds
    /// at least `rows` rows for `'a`.
    unsafe fn new(vector: duckdb_vector, rows: usize) -> Self {
        let data = unsafe { duckdb_vector_get_data(vector) }.cast::<T>();
        let values = if rows == 0 || data.is_null() { &[][..] } else { unsafe { slice::from_raw_parts(data, rows) } };
        Self { values, validity: unsafe { Validity::of(vector, rows) } }
    }
}

impl<T: Copy> Column<'_, T> {
    /// The value in `row`, `None` for NULL (or a row past the chunk).
    #[inline]
    pub fn get(&self, row: usize) -> Option<T> {
        if self.validity.is_valid(row) {
            self.values.get(row).copied()
        } else {
            None
        }
    }
}

impl<'a> Column<'a, duckdb_string_t> {
    /// The bytes of the VARCHAR or BLOB in `row`, `None` for NULL.
    #[inline]
    pub fn bytes(&self, row: usize) -> Option<&'a [u8]> {
        if !self.validity.is_valid(row) {
            return None;
        }
        self.values.get(row).map(string_bytes)
    }

    /// The text in `row`, `None` for NULL. DuckDB's VARCHAR is UTF-8; anything else
    /// is reported rather than trusted.
    #[inline]
    pub fn text(&self, row: usize) -> Result<Option<&'a str>, BoxError> {
        match self.bytes(row) {
            None => Ok(None),
            Some(b) => Ok(Some(std::str::from_utf8(b).map_err(|_| "a VARCHAR value is not valid UTF-8")?)),
        }
    }
}

impl<'a> Column<'a, duckdb_string_t> {
    /// `Some(value)` when every row of the chunk holds the same value (`Some(None)`:
    /// all NULL), `None` when rows may differ. DuckDB flattens a constant argument
    /// into identical 16-byte `string_t`s (inline bytes zero-padded, or one shared
    /// pointer), so comparing those raw words finds constants without reading text.
    pub fn constant(&self) -> Option<Option<&'a [u8]>> {
        let first = self.values.first()?;
        let first_valid = self.validity.is_valid(0);
        let raw = |s: &duckdb_string_t| {
            // SAFETY: the inline view covers all 16 bytes of either variant, and
            // DuckDB initialises all of them (zero padding or prefix + pointer).
            unsafe { (s.value.inlined.length, s.value.inlined.inlined) }
        };
        let first_raw = raw(first);
        let same = self
            .values
            .iter()
            .enumerate()
            .all(|(row, s)| self.validity.is_valid(row) == first_valid && (!first_valid || raw(s) == first_raw));
        if !same {
            return None;
        }
        Some(if first_valid { Some(string_bytes(first)) } else { None })
    }
}

/// The bytes of a DuckDB `string_t`: up to 12 bytes inline, longer ones behind a pointer.
#[inline]
fn string_bytes(s: &duckdb_string_t) -> &[u8] {
    // SAFETY: both union variants start with the length; strings of at most 12
    // bytes are stored inline, longer ones point to `length` bytes that live as
    // long as the vector (and so as long as `s`).
    unsafe {
        let length = s.value.inlined.length as usize;
        if length <= 12 {
            slice::from_raw_parts(s.value.inlined.inlined.as_ptr().cast::<u8>(), length)
        } else {
            slice::from_raw_parts(s.value.pointer.ptr.cast::<u8>(), length)
        }
    }
}

/// DuckDB's INTERVAL: months, days and microseconds, kept apart.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Interval {
    /// Months.
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds.
    pub micros: i64,
}

/// A LIST(VARCHAR) argument.
pub struct ListColumn<'a> {
    entries: Column<'a, duckdb_list_entry>,
    child: Column<'a, duckdb_string_t>,
}

impl<'a> ListColumn<'a> {
    /// The elements of the list in `row` (NULL elements skipped), `None` for a NULL list.
    pub fn strings(&self, row: usize, out: &mut Vec<&'a str>) -> Result<bool, BoxError> {
        out.clear();
        let Some(entry) = self.entries.get(row) else { return Ok(false) };
        let start = usize::try_from(entry.offset)?;
        let end = start.checked_add(usize::try_from(entry.length)?).ok_or("list entry out of range")?;
        for i in start..end {
            if let Some(s) = self.child.text(i)? {
                out.push(s);
            }
        }
        Ok(true)
    }
}

/// The input chunk of one call, with typed column accessors.
pub struct Input<'a> {
    chunk: &'a DataChunkHandle,
    rows: usize,
}

impl<'a> Input<'a> {
    /// Wrap the chunk DuckDB passed to `invoke`.
    pub fn new(chunk: &'a DataChunkHandle) -> Self {
        Self { chunk, rows: chunk.len() }
    }

    /// Rows in the chunk.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of arguments.
    pub fn columns(&self) -> usize {
        self.chunk.num_columns()
    }

    /// The logical type of argument `index`.
    pub fn type_id(&self, index: usize) -> LogicalTypeId {
        self.chunk.flat_vector(index).logical_type().id()
    }

    fn raw(&self, index: usize) -> Result<duckdb_vector, BoxError> {
        if index >= self.columns() {
            return Err(format!("internal error: no argument {}", index + 1).into());
        }
        // SAFETY: the chunk is live for 'a and `index` is in range.
        Ok(unsafe { duckdb_data_chunk_get_vector(self.chunk.get_ptr(), index as u64) })
    }

    fn typed<T>(
        &self,
        index: usize,
        what: &str,
        accept: impl Fn(LogicalTypeId) -> bool,
    ) -> Result<Column<'a, T>, BoxError> {
        let found = self.type_id(index);
        if !accept(found) {
            return Err(type_error(what, index, found));
        }
        let vector = self.raw(index)?;
        // SAFETY: the logical type was checked to have physical type T; the
        // vector holds `rows` rows and lives as long as the chunk.
        Ok(unsafe { Column::new(vector, self.rows) })
    }

    /// A VARCHAR or BLOB argument.
    pub fn strings(&self, index: usize) -> Result<Column<'a, duckdb_string_t>, BoxError> {
        self.typed(index, "VARCHAR", |t| matches!(t, LogicalTypeId::Varchar | LogicalTypeId::Blob))
    }

    /// A BIGINT, TIMESTAMP or TIMESTAMP WITH TIME ZONE argument (all `i64`).
    pub fn i64s(&self, index: usize) -> Result<Column<'a, i64>, BoxError> {
        self.typed(index, "BIGINT or TIMESTAMP", |t| {
            matches!(t, LogicalTypeId::Bigint | LogicalTypeId::Timestamp | LogicalTypeId::TimestampTZ)
        })
    }

    /// An INTEGER or DATE argument (both `i32`).
    pub fn i32s(&self, index: usize) -> Result<Column<'a, i32>, BoxError> {
        self.typed(index, "INTEGER or DATE", |t| matches!(t, LogicalTypeId::Integer | LogicalTypeId::Date))
    }

    /// A DOUBLE argument.
    pub fn f64s(&self, index: usize) -> Result<Column<'a, f64>, BoxError> {
        self.typed(index, "DOUBLE", |t| t == LogicalTypeId::Double)
    }

    /// A BOOLEAN argument, read as bytes (any non-zero byte is true).
    pub fn bools(&self, index: usize) -> Result<Column<'a, u8>, BoxError> {
        self.typed(index, "BOOLEAN", |t| t == LogicalTypeId::Boolean)
    }

    /// An INTERVAL argument.
    pub fn intervals(&self, index: usize) -> Result<Column<'a, Interval>, BoxError> {
        self.typed(index, "INTERVAL", |t| t == LogicalTypeId::Interval)
    }

    /// A LIST(VARCHAR) argument.
    pub fn string_lists(&self, index: usize) -> Result<ListColumn<'a>, BoxError> {
        let entries: Column<'a, duckdb_list_entry> = self.typed(index, "VARCHAR[]", |t| t == LogicalTypeId::List)?;
        let vector = self.raw(index)?;
        // SAFETY: a live LIST vector; its child holds `size` elements.
        let (child, size) =
            unsafe { (duckdb_list_vector_get_child(vector), duckdb_list_vector_get_size(vector) as usize) };
        // SAFETY: the child of a LIST(VARCHAR) is a flat VARCHAR vector of `size` rows.
        // Its type is checked through the list's own signature (only VARCHAR[] is registered).
        let child = unsafe { Column::new(child, size) };
        Ok(ListColumn { entries, child })
    }
}

/// A primitive output vector of physical type `T`.
pub struct Out<'a, T> {
    vector: FlatVector<'a>,
    data: *mut T,
    rows: usize,
}

impl<'a, T: Copy> Out<'a, T> {
    fn new(
        output: &'a mut dyn WritableVector,
        rows: usize,
        what: &str,
        accept: impl Fn(LogicalTypeId) -> bool,
    ) -> Result<Self, BoxError> {
        let vector = output.flat_vector();
        let found = vector.logical_type().id();
        if !accept(found) {
            return Err(format!("internal error: result is {found:?}, expected {what}").into());
        }
        if rows > vector.capacity() {
            return Err("internal error: chunk larger than its result vector".into());
        }
        // SAFETY: the result's physical type is T (checked above).
        let data = unsafe { vector.as_mut_ptr::<T>() };
        Ok(Self { vector, data, rows })
    }

    /// Write `value` to `row`.
    #[inline]
    pub fn set(&mut self, row: usize, value: T) {
        if row < self.rows {
            // SAFETY: `row` is inside the result vector and T is its physical type.
            unsafe { self.data.add(row).write(value) };
        }
    }

    /// Write `value` to `row`, or NULL.
    #[inline]
    pub fn put(&mut self, row: usize, value: Option<T>) {
        match value {
            Some(v) => self.set(row, v),
            None => self.vector.set_null(row),
        }
    }
}

/// A BOOLEAN result.
pub fn bool_out(output: &mut dyn WritableVector, rows: usize) -> Result<Out<'_, bool>, BoxError> {
    Out::new(output, rows, "BOOLEAN", |t| t == LogicalTypeId::Boolean)
}

/// A BIGINT or TIMESTAMP result.
pub fn i64_out(output: &mut dyn WritableVector, rows: usize) -> Result<Out<'_, i64>, BoxError> {
    Out::new(output, rows, "BIGINT or TIMESTAMP", |t| {
        matches!(t, LogicalTypeId::Bigint | LogicalTypeId::Timestamp | LogicalTypeId::TimestampTZ)
    })
}

/// An INTEGER or DATE result.
pub fn i32_out(output: &mut dyn WritableVector, rows: usize) -> Result<Out<'_, i32>, BoxError> {
    Out::new(output, rows, "INTEGER or DATE", |t| matches!(t, LogicalTypeId::Integer | LogicalTypeId::Date))
}

/// A DOUBLE result.
pub fn f64_out(output: &mut dyn WritableVector, rows: usize) -> Result<Out<'_, f64>, BoxError> {
    Out::new(output, rows, "DOUBLE", |t| t == LogicalTypeId::Double)
}

/// A VARCHAR result.
pub struct TextOut<'a> {
    vector: FlatVector<'a>,
    rows: usize,
}

impl<'a> TextOut<'a> {
    /// Wrap the result vector; it must be VARCHAR.
    pub fn new(output: &'a mut dyn WritableVector, rows: usize) -> Result<Self, BoxError> {
        let vector = output.flat_vector();
        let found = vector.logical_type().id();
        if found != LogicalTypeId::Varchar {
            return Err(format!("internal error: result is {found:?}, expected VARCHAR").into());
        }
        Ok(Self { vector, rows })
    }

    /// Write `value` to `row` (DuckDB copies it).
    #[inline]
    pub fn set(&mut self, row: usize, value: &str) {
        if row < self.rows {
            self.vector.insert(row, value.as_bytes());
        }
    }

    /// Write ASCII bytes (e.g. hex digits) to `row` without a UTF-8 check; the
    /// caller only passes ASCII.
    #[inline]
    pub fn set_ascii(&mut self, row: usize, value: &[u8]) {
        debug_assert!(value.is_ascii());
        if row < self.rows {
            self.vector.insert(row, value);
        }
    }

    /// Write NULL to `row`.
    #[inline]
    pub fn set_null(&mut self, row: usize) {
        if row < self.rows {
            self.vector.set_null(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_reads_bits() {
        let words = [0b101u64, u64::MAX];
        let v = Validity(Some(&words));
        assert!(v.is_valid(0));
        assert!(!v.is_valid(1));
        assert!(v.is_valid(2));
        assert!(v.is_valid(64));
        assert!(!v.is_valid(128), "past the mask reads as NULL");
        assert!(Validity(None).is_valid(5));
    }
}
