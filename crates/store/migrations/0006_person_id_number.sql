-- A person's 公民身份号码 (GB 11643), optional and internal: checked on entry, never shown
-- on the portal; like every column it is covered by the row's salted commitment.
ALTER TABLE people ADD COLUMN id_number TEXT
