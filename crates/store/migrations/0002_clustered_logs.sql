-- The log tables, clustered by their primary key on SQLite (WITHOUT ROWID; PostgreSQL
-- ignores the placeholder). A SQLite table with a composite primary key otherwise keeps
-- its rows in rowid order beside a separate key index, so every ordered read of a log (a
-- tile, a proof's nodes, `zhifa verify`) and every append pays a second B-tree descent
-- per row. Rebuilt by copying: same columns, same keys, same data.

CREATE TABLE ledger_entries_new (
    log_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    entry BYTEA NOT NULL,
    PRIMARY KEY (log_id, seq)
) {without_rowid};
INSERT INTO ledger_entries_new (log_id, seq, entry) SELECT log_id, seq, entry FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;

CREATE TABLE ledger_nodes_new (
    log_id BIGINT NOT NULL,
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (log_id, level, idx)
) {without_rowid};
INSERT INTO ledger_nodes_new (log_id, level, idx, hash) SELECT log_id, level, idx, hash FROM ledger_nodes;
DROP TABLE ledger_nodes;
ALTER TABLE ledger_nodes_new RENAME TO ledger_nodes;
-- Finding an entry by its leaf hash (the portal's 记录核验).
CREATE INDEX ledger_leaves_by_hash ON ledger_nodes (log_id, hash) WHERE level = 0;

CREATE TABLE journal_new (
    log_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    agency_id BIGINT REFERENCES agencies(id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    snapshot BIGINT NOT NULL DEFAULT 0,
    payload TEXT,
    salt BYTEA,
    PRIMARY KEY (log_id, seq)
) {without_rowid};
INSERT INTO journal_new (log_id, seq, agency_id, at, actor, action, subject_kind, subject_id, snapshot, payload, salt)
    SELECT log_id, seq, agency_id, at, actor, action, subject_kind, subject_id, snapshot, payload, salt FROM journal;
DROP TABLE journal;
ALTER TABLE journal_new RENAME TO journal;
CREATE INDEX journal_by_subject ON journal (subject_kind, subject_id);
CREATE INDEX journal_by_action ON journal (action);
