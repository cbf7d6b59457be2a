-- A city's central service: every office in one database, shared by
-- several instances. Queue serials, booking codes and the board's `seq`
-- are allocated inside the transactions that need them, under row locks
-- (booking_days for bookings, office_state for the event log).

-- Bookings of every office. A queue number is never given twice.
CREATE TABLE bookings (
    office TEXT NOT NULL,
    code TEXT NOT NULL,
    date DATE NOT NULL,
    slot TEXT NOT NULL,
    letter TEXT NOT NULL,
    serial INTEGER NOT NULL,
    number TEXT NOT NULL,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    name TEXT,
    checked_in_at TEXT,
    kiosk TEXT,
    offline BOOLEAN NOT NULL DEFAULT FALSE,
    called_at TEXT,
    counter TEXT,
    done_at TEXT,
    ahead INTEGER,
    estimated_call TEXT,
    PRIMARY KEY (office, code),
    UNIQUE (office, date, slot, serial)
);
CREATE INDEX bookings_waiting ON bookings (office, date, status, slot, serial);

-- The day's running number of booking codes per office; its row is the
-- lock every booking of that office and day takes first.
CREATE TABLE booking_days (
    office TEXT NOT NULL,
    date DATE NOT NULL,
    running INTEGER NOT NULL,
    PRIMARY KEY (office, date)
);

-- Per office: the event log's head (last seq and its day) and the notice;
-- its row is the lock every change of that office's board takes first.
CREATE TABLE office_state (
    office TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_date DATE,
    notice TEXT
);

-- The board's events: the replay source for Last-Event-ID and where a
-- listener catches up after a missed notification.
CREATE TABLE events (
    office TEXT NOT NULL,
    seq BIGINT NOT NULL,
    date DATE NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (office, seq)
);
CREATE INDEX events_by_date ON events (office, date);

CREATE TABLE counters (
    office TEXT NOT NULL,
    id TEXT NOT NULL,
    booking TEXT,
    PRIMARY KEY (office, id)
);

CREATE TABLE health (
    office TEXT NOT NULL,
    kiosk TEXT NOT NULL,
    report TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (office, kiosk)
);

-- API tokens: SHA-256 hashes only.
CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    role TEXT NOT NULL,
    office TEXT NOT NULL,
    kiosk TEXT,
    label TEXT,
    created TEXT NOT NULL,
    revoked TEXT
);
