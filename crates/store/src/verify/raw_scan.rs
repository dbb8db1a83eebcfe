//! An ordered scan of one statement through SQLite's C interface directly, for the two
//! bulk reads of a verification stretch (entry chunks and journal rows: a million rows of
//! up to seven columns for a million entries).
//!
//! `rusqlite` makes four calls into SQLite per column read (a bounds check, the type, the
//! pointer, the length) and wraps each value; this makes three and hands out the bytes.
//! A value of the wrong type reads as it does in `read_sqlite.rs`'s other reads: text and
//! blobs as their bytes, a number as no bytes, a non-integer as an impossible number — so
//! that the checks that follow name the row.

use rusqlite::{Connection, ffi};
use std::ffi::CString;
use std::os::raw::c_int;

/// A prepared statement stepped row by row; finalized when dropped.
pub(super) struct RawScan<'c> {
    stmt: *mut ffi::sqlite3_stmt,
    _conn: std::marker::PhantomData<&'c Connection>,
}

impl<'c> RawScan<'c> {
    /// Prepares `sql` on `conn` and binds `params` (integers, `?1`… or `$1`… in order).
    pub fn new(conn: &'c Connection, sql: &str, params: &[i64]) -> rusqlite::Result<Self> {
        let text = CString::new(sql).map_err(|_| rusqlite::Error::InvalidQuery)?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `conn` outlives the statement (the lifetime on `RawScan`), the SQL is a
        // NUL-terminated string, and the statement is finalized exactly once, in `drop`.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                conn.handle(),
                text.as_ptr(),
                -1,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        let scan = RawScan {
            stmt,
            _conn: std::marker::PhantomData,
        };
        if rc != ffi::SQLITE_OK || stmt.is_null() {
            return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None));
        }
        for (i, v) in params.iter().enumerate() {
            // SAFETY: a live statement; parameter indices start at 1.
            let rc = unsafe { ffi::sqlite3_bind_int64(scan.stmt, i as c_int + 1, *v) };
            if rc != ffi::SQLITE_OK {
                return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None));
            }
        }
        Ok(scan)
    }

    /// Steps to the next row: `Ok(false)` when there is none.
    pub fn step(&mut self) -> rusqlite::Result<bool> {
        // SAFETY: a live statement.
        match unsafe { ffi::sqlite3_step(self.stmt) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)),
        }
    }

    /// Column `i` of the current row as an integer (`i64::MIN` when it is not one).
    pub fn int(&self, i: usize) -> i64 {
        // SAFETY: a live statement positioned on a row (callers read after `step` gave
        // `true`); an index past the last column reads as NULL.
        unsafe {
            if ffi::sqlite3_column_type(self.stmt, i as c_int) == ffi::SQLITE_INTEGER {
                ffi::sqlite3_column_int64(self.stmt, i as c_int)
            } else {
                i64::MIN
            }
        }
    }

    /// Column `i` of the current row as bytes: text or a blob as it is, `None` for
    /// NULL, empty for a number. Valid until the next step.
    pub fn bytes(&self, i: usize) -> Option<&[u8]> {
        match self.kind(i) {
            ffi::SQLITE_NULL => None,
            ffi::SQLITE_TEXT | ffi::SQLITE_BLOB => Some(self.raw(i)),
            _ => Some(&[]),
        }
    }

    /// Column `i` of the current row if it is a blob; anything else (text written by
    /// hand, which zhifa's own reads refuse) reads as one byte, which no chunk can be, so
    /// the chunk is named.
    pub fn blob(&self, i: usize) -> &[u8] {
        if self.kind(i) == ffi::SQLITE_BLOB {
            self.raw(i)
        } else {
            &[0]
        }
    }

    fn kind(&self, i: usize) -> c_int {
        // SAFETY: as for `int`.
        unsafe { ffi::sqlite3_column_type(self.stmt, i as c_int) }
    }

    fn raw(&self, i: usize) -> &[u8] {
        // SAFETY: as for `int`, on a text or blob value (no conversion). The pointer is
        // asked for before the length, as SQLite's documentation requires, and stays
        // valid until the next step, which needs `&mut self` and so cannot happen while
        // the slice is borrowed. An empty value has no pointer.
        unsafe {
            let p = ffi::sqlite3_column_blob(self.stmt, i as c_int);
            let n = ffi::sqlite3_column_bytes(self.stmt, i as c_int);
            if p.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(p.cast::<u8>(), n.max(0) as usize)
            }
        }
    }
}

impl Drop for RawScan<'_> {
    fn drop(&mut self) {
        // SAFETY: finalized once; a null statement is a no-op for SQLite.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}
