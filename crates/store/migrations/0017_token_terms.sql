-- An API token's terms, chosen when it is made: when it expires (epoch milliseconds;
-- NULL for a token made before this migration, which expires a year after it was made,
-- `zhifa_domain::token::expiry`) and whether it may only read (0/1). Like every column of
-- the row they are covered by the token's salted commitment in the log: left out of the
-- snapshot while NULL / 0, so tokens made earlier still match their entries.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN read_only BIGINT NOT NULL DEFAULT 0
