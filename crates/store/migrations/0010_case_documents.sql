-- 执法文书 issued for a case: the PDF and DOCX exactly as handed out. The ledger entry of
-- each row commits to the SHA-256 of both files (computed from the stored bytes when the
-- row is snapshotted), so a file changed afterwards no longer matches its entry.
CREATE TABLE case_documents (
    id {id},
    case_id BIGINT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    step TEXT NOT NULL,
    pdf {blob} NOT NULL,
    docx {blob} NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX case_documents_by_case ON case_documents (case_id, id)
