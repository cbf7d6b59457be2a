-- Several offices in one database: an office column in every table of
-- office data. Rows from before belong to the office in the temporary
-- table `legacy_office` (the configuration's first office), which the
-- migration runner fills before this runs.
CREATE TABLE bookings_v2 (
    office TEXT NOT NULL, code TEXT NOT NULL, date TEXT NOT NULL, slot TEXT NOT NULL,
    letter TEXT NOT NULL, serial INTEGER NOT NULL, number TEXT NOT NULL, service TEXT NOT NULL,
    status TEXT NOT NULL, name TEXT, checked_in_at TEXT, kiosk TEXT,
    offline INTEGER NOT NULL DEFAULT 0, called_at TEXT, counter TEXT, done_at TEXT,
    ahead INTEGER, estimated_call TEXT,
    PRIMARY KEY (office, code)
);
INSERT INTO bookings_v2 (office, code, date, slot, letter, serial, number, service, status,
    name, checked_in_at, kiosk, offline, called_at, counter, done_at, ahead, estimated_call)
SELECT (SELECT office FROM legacy_office), code, date, slot, letter, serial, number, service,
    status, name, checked_in_at, kiosk, offline, called_at, counter, done_at, ahead, estimated_call
FROM bookings;
DROP TABLE bookings;
ALTER TABLE bookings_v2 RENAME TO bookings;
-- A queue number is never given twice.
CREATE UNIQUE INDEX bookings_numbers ON bookings(office, date, slot, serial);
CREATE INDEX bookings_waiting ON bookings(office, date, status, slot, serial);

CREATE TABLE events_v2 (
    office TEXT NOT NULL, seq INTEGER NOT NULL, date TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (office, seq)
);
INSERT INTO events_v2 (office, seq, date, kind, data)
SELECT (SELECT office FROM legacy_office), seq, date, kind, data FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_by_date ON events(office, date);

CREATE TABLE counters_v2 (
    office TEXT NOT NULL, id TEXT NOT NULL, booking TEXT,
    PRIMARY KEY (office, id)
);
INSERT INTO counters_v2 (office, id, booking)
SELECT (SELECT office FROM legacy_office), id, booking FROM counters;
DROP TABLE counters;
ALTER TABLE counters_v2 RENAME TO counters;

CREATE TABLE health_v2 (
    office TEXT NOT NULL, kiosk TEXT NOT NULL, report TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (office, kiosk)
);
INSERT INTO health_v2 (office, kiosk, report, at)
SELECT (SELECT office FROM legacy_office), kiosk, report, at FROM health;
DROP TABLE health;
ALTER TABLE health_v2 RENAME TO health;

-- Each office's notice (was the `notice` row of `meta`).
CREATE TABLE office_state (office TEXT PRIMARY KEY, notice TEXT);
INSERT INTO office_state (office, notice)
SELECT (SELECT office FROM legacy_office), value FROM meta WHERE key = 'notice';
DROP TABLE meta;
