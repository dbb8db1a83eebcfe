-- Evidence of a case (证据, 行政处罚法 第四十六条): its kind, name, source, the day and the
-- officer who collected it, and optionally its file as uploaded. The ledger entry commits
-- to the file's SHA-256 (computed from the stored bytes), as for issued documents.
CREATE TABLE case_evidence (
    id {id},
    case_id BIGINT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    -- For a thing seized or kept (物证): its specification and quantity with unit, as the
    -- 查封扣押 list (清单) shows them.
    spec TEXT NOT NULL DEFAULT '',
    quantity TEXT NOT NULL DEFAULT '',
    collected_on TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    file_name TEXT,
    file {blob},
    created_at BIGINT NOT NULL
);
CREATE INDEX case_evidence_by_case ON case_evidence (case_id, id)
