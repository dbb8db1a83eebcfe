-- Each entry's authentication code (crates/ledger/src/auth.rs): key id ‖ HMAC-SHA256 of the
-- entry under a key kept outside the database. NULL for entries written before codes
-- existed; those are accepted only where a signed checkpoint already covers them.
ALTER TABLE ledger_entries ADD COLUMN mac BYTEA
