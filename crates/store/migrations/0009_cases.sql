-- Cases (案件): one row per case with its current step; the parties, the assigned officers
-- (with their 回避 declarations) and every act (立案, each completed step, the proposed
-- penalty, an extension, a pause) in their own rows. Every row is ledgered: each act is
-- an entry of the agency's log committing to the event and to the case's new state.
-- Dates of acts are calendar dates (YYYY-MM-DD, Beijing time) as the officer gave them.

-- How an agency numbers the cases of a procedure ({年} and {号} in the pattern).
CREATE TABLE case_number_patterns (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    procedure TEXT NOT NULL,
    pattern TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agency_id, procedure)
);

-- The last number given per agency, procedure and year. Taken inside the transaction that
-- opens the case, so a rollback returns the number: no gaps, no duplicates.
CREATE TABLE case_counters (
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    procedure TEXT NOT NULL,
    year BIGINT NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (agency_id, procedure, year)
) {without_rowid};

CREATE TABLE cases (
    id {id},
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    department_id BIGINT NOT NULL REFERENCES departments(id),
    procedure TEXT NOT NULL,
    number TEXT NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    item_id BIGINT REFERENCES catalog_items(id),
    cause TEXT NOT NULL,
    step TEXT NOT NULL,
    entered_on TEXT NOT NULL,
    opened_on TEXT NOT NULL,
    closed_on TEXT,
    due_on TEXT,
    penalty TEXT NOT NULL DEFAULT '',
    major TEXT NOT NULL DEFAULT '',
    window_waived BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agency_id, number),
    UNIQUE (agency_id, procedure, year, seq)
);
-- The list pages newest first, and the due-soon and overdue counts, each by index alone,
-- for the whole agency and for one department.
CREATE INDEX cases_by_agency ON cases (agency_id, id);
CREATE INDEX cases_by_due ON cases (agency_id, closed_on, due_on);
CREATE INDEX cases_by_department ON cases (agency_id, department_id, id);
CREATE INDEX cases_by_department_due ON cases (agency_id, department_id, closed_on, due_on);

CREATE TABLE case_parties (
    id {id},
    case_id BIGINT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    id_code TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX case_parties_by_case ON case_parties (case_id);

CREATE TABLE case_officers (
    id {id},
    case_id BIGINT NOT NULL REFERENCES cases(id),
    person_id BIGINT NOT NULL REFERENCES people(id),
    declared_on TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (case_id, person_id)
);
CREATE INDEX case_officers_by_person ON case_officers (person_id, case_id);

CREATE TABLE case_events (
    id {id},
    case_id BIGINT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL,
    step TEXT NOT NULL,
    to_step TEXT,
    on_day TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (case_id, id)
