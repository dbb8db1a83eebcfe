-- The other published lists (随机抽查事项清单, 重大执法决定法制审核目录清单, 音像记录事项清单):
-- one row per entry, its values as canonical JSON keyed by the columns the domain declares
-- for the list (`zhifa_domain::lists`). A withdrawn entry stays, marked, so its history
-- remains; every change is an entry of the agency's log.
CREATE TABLE list_entries (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    content TEXT NOT NULL,
    withdrawn BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agency_id, kind, code)
);
CREATE INDEX list_entries_by_update ON list_entries (agency_id, kind, updated_at)
