-- Finding cases by words: the two-character pieces (bigrams) of each case's number, cause
-- and parties (names and identifiers) — all fixed when the case is opened — and how many
-- cases of the agency have each piece, so that a search starts from its rarest piece
-- instead of reading every case. Derived from the ledgered rows; not itself ledgered.
CREATE TABLE case_words (
    agency_id BIGINT NOT NULL,
    gram TEXT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    PRIMARY KEY (agency_id, gram, case_id)
) {without_rowid};

CREATE TABLE case_word_counts (
    agency_id BIGINT NOT NULL,
    gram TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (agency_id, gram)
) {without_rowid}
