-- 执法事项清单: each item has a code in its agency's list and one row per version, in
-- force from its effective date until the next version's. A version's content is the
-- canonical JSON of `zhifa_domain::catalog::ItemContent`; name, category and department
-- are copied out of it for searching and filtering. Items and versions are ledgered.
CREATE TABLE catalog_items (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    code TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agency_id, code)
);
-- 最后更新 of a list: the newest item change, without reading any version.
CREATE INDEX catalog_items_by_update ON catalog_items (agency_id, updated_at);
CREATE TABLE catalog_item_versions (
    id {id},
    item_id BIGINT NOT NULL REFERENCES catalog_items(id),
    version_no BIGINT NOT NULL,
    effective_from TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    department TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (item_id, version_no),
    UNIQUE (item_id, effective_from)
);
CREATE INDEX catalog_versions_by_item ON catalog_item_versions (item_id, effective_from);
-- The 承办机构 filter's choices, from the index alone (versions carry their content).
CREATE INDEX catalog_versions_by_department ON catalog_item_versions (department, item_id)
