//! The canonical encoding of a log entry.
//!
//! An entry names its sequence number, time, agency, actor, action and subject, and
//! commits to the changed data with H(salt ‖ payload) under the log's hash. The payload
//! and salt are kept outside the log, so that de-identification or the end of a
//! publication period can delete them without breaking the tree.
//!
//! Encoding (version 1), all integers big-endian:
//!
//! ```text
//! "zhifa/entry/v1\n"            15 bytes, fixed
//! seq        u64
//! time       i64               milliseconds since the Unix epoch (UTC)
//! agency     u16 length ‖ UTF-8
//! actor      u16 length ‖ UTF-8   e.g. "user:12", "anonymous", "system:demo"
//! action     u16 length ‖ UTF-8   e.g. "department.create"
//! kind       u16 length ‖ UTF-8   subject kind, e.g. "department"
//! subject    u16 length ‖ UTF-8   subject id
//! commitment 32 bytes
//! ```
//!
//! The same content gives the same bytes on every platform and database.

use crate::hash::{Hash, HashAlg};

const MAGIC: &[u8] = b"zhifa/entry/v1\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub time_ms: i64,
    pub agency: String,
    pub actor: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub commitment: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("entry is malformed: {0}")]
    Malformed(&'static str),
    #[error("entry field too long: {0}")]
    TooLong(&'static str),
}

/// H(salt ‖ payload): the commitment to a change's data.
pub fn commitment(alg: HashAlg, salt: &[u8], payload: &[u8]) -> Hash {
    alg.digest(&[salt, payload])
}

fn put_text(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), EntryError> {
    let len = u16::try_from(s.len()).map_err(|_| EntryError::TooLong(field))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        if self.0.len() < n {
            return Err(EntryError::Malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn text(&mut self) -> Result<&'a str, EntryError> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| EntryError::Malformed("UTF-8"))
    }
}

/// An entry decoded in place, borrowing its text from the encoded bytes (verification
/// reads millions of entries and needs no copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub seq: u64,
    pub time_ms: i64,
    pub agency: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
    pub commitment: Hash,
}

impl<'a> EntryRef<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<EntryRef<'a>, EntryError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(EntryError::Malformed("not a zhifa v1 entry"));
        }
        let seq = u64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
        let time_ms = i64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
        let entry = EntryRef {
            seq,
            time_ms,
            agency: r.text()?,
            actor: r.text()?,
            action: r.text()?,
            subject_kind: r.text()?,
            subject_id: r.text()?,
            commitment: r.take(32)?.try_into().expect("32 bytes"),
        };
        if !r.0.is_empty() {
            return Err(EntryError::Malformed("trailing bytes"));
        }
        Ok(entry)
    }

    /// The sequence number and agency of an encoded entry, without checking the rest
    /// (a replay that only rebuilds the tree needs no more; the full decode is elsewhere).
    pub fn header(bytes: &'a [u8]) -> Result<(u64, &'a str), EntryError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(EntryError::Malformed("not a zhifa v1 entry"));
        }
        let seq = u64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
        r.take(8)?;
        Ok((seq, r.text()?))
    }

    pub fn to_entry(&self) -> Entry {
        Entry {
            seq: self.seq,
            time_ms: self.time_ms,
            agency: self.agency.to_owned(),
            actor: self.actor.to_owned(),
            action: self.action.to_owned(),
            subject_kind: self.subject_kind.to_owned(),
            subject_id: self.subject_id.to_owned(),
            commitment: self.commitment,
        }
    }
}

impl Entry {
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        put_text(&mut out, "agency", &self.agency)?;
        put_text(&mut out, "actor", &self.actor)?;
        put_text(&mut out, "action", &self.action)?;
        put_text(&mut out, "subject_kind", &self.subject_kind)?;
        put_text(&mut out, "subject_id", &self.subject_id)?;
        out.extend_from_slice(&self.commitment);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        EntryRef::decode(bytes).map(|e| e.to_entry())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Entry {
        Entry {
            seq: 41,
            time_ms: 1_764_000_000_000,
            agency: "zhutang".into(),
            actor: "user:3".into(),
            action: "department.create".into(),
            subject_kind: "department".into(),
            subject_id: "7".into(),
            commitment: commitment(HashAlg::Sha256, b"salt", "{\"name\":\"司法所\"}".as_bytes()),
        }
    }

    #[test]
    fn known_encoding() {
        let bytes = sample().encode().unwrap();
        assert!(bytes.starts_with(b"zhifa/entry/v1\n\0\0\0\0\0\0\0\x29"));
        assert_eq!(
            bytes.len(),
            15 + 8 + 8 + (2 + 7) + (2 + 6) + (2 + 17) + (2 + 10) + (2 + 1) + 32
        );
        assert_eq!(Entry::decode(&bytes).unwrap(), sample());
        assert_eq!(EntryRef::header(&bytes).unwrap(), (41, "zhutang"));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        let bytes = sample().encode().unwrap();
        assert!(Entry::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Entry::decode(&[bytes.as_slice(), b"x"].concat()).is_err());
        assert!(Entry::decode(b"zhifa/entry/v2\n").is_err());
        let mut long = sample();
        long.subject_id = "x".repeat(70_000);
        assert!(long.encode().is_err());
    }

    proptest! {
        #[test]
        fn round_trip(seq: u64, time_ms: i64, agency in "\\PC{0,20}", subject in "\\PC{0,40}") {
            let e = Entry { seq, time_ms, agency, subject_id: subject, ..sample() };
            prop_assert_eq!(Entry::decode(&e.encode().unwrap()).unwrap(), e);
        }
    }
}
