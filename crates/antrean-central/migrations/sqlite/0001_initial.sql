-- The schema of one office's database before offices (antrean-central 0.3):
-- created as it was, so that a database of that time is version 1 as it is.
CREATE TABLE IF NOT EXISTS bookings (
    code TEXT PRIMARY KEY, date TEXT NOT NULL, slot TEXT NOT NULL, letter TEXT NOT NULL,
    serial INTEGER NOT NULL, number TEXT NOT NULL, service TEXT NOT NULL, status TEXT NOT NULL,
    name TEXT, checked_in_at TEXT, kiosk TEXT, offline INTEGER NOT NULL DEFAULT 0,
    called_at TEXT, counter TEXT, done_at TEXT, ahead INTEGER, estimated_call TEXT
);
CREATE INDEX IF NOT EXISTS bookings_by_day ON bookings(date, slot, serial);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, date TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    id TEXT PRIMARY KEY, booking TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS health (kiosk TEXT PRIMARY KEY, report TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT, hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,
    role TEXT NOT NULL, office TEXT NOT NULL, kiosk TEXT, label TEXT,
    created TEXT NOT NULL, revoked TEXT
);
CREATE INDEX IF NOT EXISTS events_by_date ON events(date);
