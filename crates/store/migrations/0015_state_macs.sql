-- Operational state the database alone must not be able to forge. Each session and each
-- counted login failure carries an HMAC, under the installation's entry-authentication
-- key (held in the key directory, not in the database), of the columns that decide what
-- it grants or locks. A row inserted or edited with SQL has no valid code: it signs nobody
-- in and locks nobody out, and `zhifa verify` names it. Rows from before this migration
-- have no code: the sessions end (users sign in again) and the failure counts restart.
ALTER TABLE sessions ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE login_failures ADD COLUMN mac TEXT NOT NULL DEFAULT '';
-- 1 while the attempt's password is being checked: it holds one of the lockout's slots
-- (so parallel guesses cannot exceed it) but is no failure.
ALTER TABLE login_failures ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;
DELETE FROM sessions;
DELETE FROM login_failures
