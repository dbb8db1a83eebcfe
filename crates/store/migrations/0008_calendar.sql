-- Years of the working-day calendar added or corrected by an administrator (e.g. 2027 once
-- the State Council publishes it). `id` is the year. They are merged over the years shipped
-- in data/calendar/mainland.toml (a year here replaces the shipped one). Days are stored as
-- the data file writes them: one date or FROM..TO range per line. Every change is an entry
-- of the installation's log.
CREATE TABLE calendar_years (
    id BIGINT PRIMARY KEY,
    notice TEXT NOT NULL,
    holidays TEXT NOT NULL,
    workdays TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
)
