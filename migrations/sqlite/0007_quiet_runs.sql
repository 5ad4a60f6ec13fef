-- Idempotency keys of runs that changed nothing. Such a run records no
-- batch, so the journal lists only runs that did something; its key is
-- kept here, with its parameters and counts, so that a repeated request
-- returns that first result instead of running again once the contacts
-- have changed. A key is either on a batch or here, never both.
CREATE TABLE quiet_runs (
    idempotency_key TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    params          TEXT NOT NULL,
    at              TEXT NOT NULL,
    matched         INTEGER NOT NULL,
    already_owned   INTEGER NOT NULL
);
