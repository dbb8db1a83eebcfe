-- 执法证件: enforcement credentials and 法律职业资格 certificates, one row each. Dates are
-- calendar dates (YYYY-MM-DD, Beijing time); `status` is what an administrator set
-- (valid | suspended | revoked), and 过期 is derived from `valid_to` on the day asked.
-- `qr_token` is the random, unguessable key of the public check page /v/{token}.
-- Each change (with its reason) is an entry of the agency's log.
CREATE TABLE credentials (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    person_id BIGINT NOT NULL REFERENCES people(id),
    kind TEXT NOT NULL,
    number TEXT NOT NULL UNIQUE,
    issuer TEXT NOT NULL,
    area TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    qr_token TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX credentials_by_person ON credentials (person_id);
CREATE INDEX credentials_by_agency ON credentials (agency_id, valid_to)
