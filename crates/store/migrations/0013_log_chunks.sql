-- Logs stored in chunks of 16 (crates/store/src/log_chunks.rs): entries with their
-- authentication codes, and the tree's nodes at every fourth level. The rows of
-- ledger_entries and ledger_nodes are copied into them by the step that follows this
-- migration (migrate.rs), then dropped by the next.
CREATE TABLE ledger_entry_chunks (
    log_id BIGINT NOT NULL,
    chunk BIGINT NOT NULL,
    -- Entries 16·chunk … 16·chunk+15, each a big-endian u16 length and its bytes.
    entries {blob} NOT NULL,
    -- Their authentication codes, framed the same way (empty: no code).
    codes {blob} NOT NULL,
    PRIMARY KEY (log_id, chunk)
) {without_rowid};

CREATE TABLE ledger_hash_chunks (
    log_id BIGINT NOT NULL,
    -- A multiple of 4.
    level BIGINT NOT NULL,
    chunk BIGINT NOT NULL,
    -- Nodes 16·chunk … 16·chunk+15 of the level, 32 bytes each.
    hashes {blob} NOT NULL,
    PRIMARY KEY (log_id, level, chunk)
) {without_rowid};

-- Each journal row carries the first 8 bytes of its entry's leaf hash (big-endian, as a
-- signed integer): the portal's 记录核验 finds an entry by its hash through it (and
-- checks the whole hash against the stored tree), and `zhifa verify` checks it with the
-- rest of the row.
ALTER TABLE journal ADD COLUMN leaf_key BIGINT;
CREATE INDEX journal_by_leaf ON journal (log_id, leaf_key);

-- When and by whom: read from the entry itself (journal.rs), no longer copied beside it.
ALTER TABLE journal DROP COLUMN at;
ALTER TABLE journal DROP COLUMN actor
