-- Relais schema for SQLite. Times are UTC, stored as RFC 3339 text with
-- microseconds, so that text order is time order.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    initials      TEXT NOT NULL UNIQUE,
    login         TEXT,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    email         TEXT,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    active        INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT,
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX users_login ON users (lower(login));
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Both addresses live in the contact row. Each has its own
-- (country, normalised postal code) index, which serves a postal prefix as
-- a byte range; the country is NULL only when the address is empty.
CREATE TABLE contacts (
    id                  INTEGER PRIMARY KEY,
    external_id         TEXT UNIQUE,
    civility            TEXT NOT NULL DEFAULT '',
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    company             TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    phone               TEXT NOT NULL DEFAULT '',
    commercial_owner_id INTEGER REFERENCES users (id),
    technical_owner_id  INTEGER REFERENCES users (id),
    perso_line1         TEXT NOT NULL DEFAULT '',
    perso_line2         TEXT NOT NULL DEFAULT '',
    perso_postal_code   TEXT NOT NULL DEFAULT '',
    perso_postal_norm   TEXT NOT NULL DEFAULT '',
    perso_city          TEXT NOT NULL DEFAULT '',
    perso_country       TEXT,
    pro_line1           TEXT NOT NULL DEFAULT '',
    pro_line2           TEXT NOT NULL DEFAULT '',
    pro_postal_code     TEXT NOT NULL DEFAULT '',
    pro_postal_norm     TEXT NOT NULL DEFAULT '',
    pro_city            TEXT NOT NULL DEFAULT '',
    pro_country         TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX contacts_perso_region ON contacts (perso_country, perso_postal_norm);
CREATE INDEX contacts_pro_region ON contacts (pro_country, pro_postal_norm);
CREATE INDEX contacts_commercial_owner ON contacts (commercial_owner_id);
CREATE INDEX contacts_technical_owner ON contacts (technical_owner_id);

CREATE TABLE batches (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    params          TEXT NOT NULL,
    actor_id        INTEGER REFERENCES users (id),
    actor_label     TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    matched         INTEGER NOT NULL DEFAULT 0,
    changed         INTEGER NOT NULL DEFAULT 0,
    already_owned   INTEGER NOT NULL DEFAULT 0,
    history_entries INTEGER NOT NULL DEFAULT 0,
    commercial      INTEGER NOT NULL DEFAULT 0,
    technical       INTEGER NOT NULL DEFAULT 0,
    undoes          INTEGER REFERENCES batches (id),
    undone_by       INTEGER REFERENCES batches (id),
    idempotency_key TEXT UNIQUE
);

-- Append-only. Entries written by a batch leave actor_label NULL and take
-- the batch's.
CREATE TABLE history (
    id                INTEGER PRIMARY KEY,
    contact_id        INTEGER NOT NULL REFERENCES contacts (id),
    at                TEXT NOT NULL,
    kind              TEXT NOT NULL,
    role              TEXT CHECK (role IN ('commercial', 'technical')),
    previous_owner_id INTEGER REFERENCES users (id),
    new_owner_id      INTEGER REFERENCES users (id),
    batch_id          INTEGER REFERENCES batches (id),
    actor_id          INTEGER REFERENCES users (id),
    actor_label       TEXT
);
CREATE INDEX history_contact ON history (contact_id, id);
CREATE INDEX history_batch ON history (batch_id, role);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
