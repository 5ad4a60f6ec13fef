-- Idempotency keys of runs that changed nothing. Such a run records no
-- batch, so the journal lists only runs that did something; its key is
-- kept here, with its parameters and counts, so that a repeated request
-- returns that first result instead of running again once the contacts
-- have changed. A key is either on a batch or here, never both.
CREATE TABLE quiet_runs (
    idempotency_key text PRIMARY KEY,
    kind            text NOT NULL,
    params          jsonb NOT NULL,
    at              timestamptz NOT NULL,
    matched         bigint NOT NULL,
    already_owned   bigint NOT NULL
);
