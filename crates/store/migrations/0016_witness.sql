-- Witnessing (C2SP tlog-witness). An installation may witness other installations' logs
-- (a county's zhifa cosigning its townships' checkpoints), and its own logs may ask
-- witnesses to cosign theirs.

-- The logs this installation witnesses, each with the log's public key. `mac` is an HMAC
-- under the installation's entry key (held in the key directory): a log added, or its
-- key swapped, with SQL alone is not trusted.
CREATE TABLE witnessed_logs (
    origin TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    vkey TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    mac TEXT NOT NULL
);

-- The newest checkpoint this installation cosigned for each witnessed log: the log's
-- signed note with the witness's cosignature line appended.
CREATE TABLE witness_heads (
    origin TEXT PRIMARY KEY REFERENCES witnessed_logs (origin) ON DELETE CASCADE,
    size BIGINT NOT NULL,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL
);

-- Checkpoints a witnessed log signed that do not extend what was cosigned before: the
-- evidence of a rollback or a split view, kept and shown on the portal.
CREATE TABLE witness_conflicts (
    id {id},
    origin TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    old_size BIGINT NOT NULL,
    size BIGINT NOT NULL,
    cosigned_size BIGINT NOT NULL,
    reason TEXT NOT NULL,
    checkpoint TEXT NOT NULL
);
CREATE INDEX witness_conflicts_by_origin ON witness_conflicts (origin, received_at);

-- The witnesses this installation's logs ask for cosignatures: the witness's
-- cosignature/v1 key and its submission prefix (`mac` as above).
CREATE TABLE log_witnesses (
    vkey TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    mac TEXT NOT NULL
);

-- Cosignatures obtained on this installation's checkpoints, one line per witness and size.
CREATE TABLE ledger_cosignatures (
    log_id BIGINT NOT NULL,
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    PRIMARY KEY (log_id, witness, size)
);
