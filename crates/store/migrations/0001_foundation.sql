-- zhifa foundation schema. One source for both backends: `{id}` becomes the backend's
-- auto-increment primary key. Booleans are BIGINT 0/1 and times are epoch milliseconds
-- (BIGINT) because sqlx's Any driver maps neither BOOLEAN on SQLite nor timestamps.

CREATE TABLE agencies (
    id {id},
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    legal_basis TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    parent_id BIGINT REFERENCES agencies(id),
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE departments (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    name TEXT NOT NULL,
    duties TEXT NOT NULL DEFAULT '',
    sort_order BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agency_id, name)
);

CREATE TABLE people (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    department_id BIGINT REFERENCES departments(id),
    name TEXT NOT NULL,
    position TEXT NOT NULL DEFAULT '',
    phone TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX people_by_department ON people (agency_id, department_id);

CREATE TABLE leadership_members (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    name TEXT NOT NULL,
    rank TEXT NOT NULL,
    post TEXT NOT NULL,
    sort_order BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX leadership_by_agency ON leadership_members (agency_id, sort_order);

CREATE TABLE users (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    person_id BIGINT REFERENCES people(id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Comma-separated role codes; one row read per request resolves a session.
    roles TEXT NOT NULL DEFAULT '',
    disabled BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Sessions are operational state shared by all app nodes; the session id is stored hashed.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    client_ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    revoked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE login_failures (
    id {id},
    username TEXT NOT NULL,
    at BIGINT NOT NULL,
    client_ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX login_failures_by_user ON login_failures (username, at);

-- The journal: one row per change of state, login, logout, failure and denial, written
-- in the same transaction as the change. Each row is the readable side of one entry of
-- its log (`ledger_entries`, same log_id and seq); `payload` and `salt` are what the
-- entry's commitment covers, and may be erased (de-identification) without breaking
-- the log. `snapshot` = 1 when the payload is the full state of the subject's row.
CREATE TABLE journal (
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
);
CREATE INDEX journal_by_subject ON journal (subject_kind, subject_id);
CREATE INDEX journal_by_action ON journal (action);

-- One append-only Merkle log per agency (log_id = agency id) and one for the
-- installation itself (log_id 0: failed logins of unknown users and the like).
-- `origin` is the checkpoint origin line, fixed at creation.
CREATE TABLE ledger_logs (
    log_id BIGINT PRIMARY KEY,
    origin TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    hash_alg TEXT NOT NULL,
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- The canonical bytes of each entry (crates/ledger/src/entry.rs).
CREATE TABLE ledger_entries (
    log_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    entry BYTEA NOT NULL,
    PRIMARY KEY (log_id, seq)
);

-- Every perfect subtree hash; level 0 holds the leaf hashes.
CREATE TABLE ledger_nodes (
    log_id BIGINT NOT NULL,
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (log_id, level, idx)
);
-- Finding an entry by its leaf hash (the portal's 记录核验).
CREATE INDEX ledger_leaves_by_hash ON ledger_nodes (log_id, hash) WHERE level = 0;

-- Signed tree heads (C2SP tlog-checkpoint notes), kept as history.
CREATE TABLE ledger_checkpoints (
    log_id BIGINT NOT NULL,
    size BIGINT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (log_id, size)
);

-- Public keys of each log, in signed-note verifier form; retired keys stay so that old
-- checkpoints remain verifiable. Private keys never enter the database.
CREATE TABLE ledger_keys (
    id {id},
    log_id BIGINT NOT NULL,
    verifier_key TEXT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    -- The log size when the key was retired: it may sign no checkpoint beyond it.
    retired_at_size BIGINT
);
