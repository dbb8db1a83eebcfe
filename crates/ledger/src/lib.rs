//! zhifa's tamper-evident log. Pure: no I/O, no database, no clock.
//!
//! - [`hash`]: RFC 9162 §2.1 leaf and node hashing over SHA-256 (default) or SM3 (国密).
//! - [`tree`]: appending (the compact range), tree heads, inclusion and consistency
//!   proofs — planned as lists of stored subtree nodes so that a database can fetch
//!   them in one query — and their verification.
//! - [`tiles`]: C2SP `tlog-tiles` paths and entry bundles.
//! - [`note`]: C2SP `tlog-checkpoint` bodies and `signed-note` signatures (Ed25519, SM2).
//! - [`entry`]: the canonical encoding of a log entry and its commitment to a payload.
//! - [`proofs`]: some entries with their inclusion proofs and the files bound to them
//!   (a case's 卷宗), verified offline.
//! - [`witness`]: C2SP `tlog-witness` requests, the witness's decision, and
//!   `cosignature/v1` cosignatures.

pub mod auth;
pub mod bundle;
pub mod entry;
pub mod hash;
pub mod note;
pub mod proofs;
pub mod tiles;
pub mod tree;
pub mod witness;

pub use hash::{Hash, HashAlg};
