-- Priority arrivals (UU 25/2009 art. 29): the state of a checked-in
-- booking's priority claim: NULL (none), 'requested' (at the kiosk),
-- 'confirmed' or 'declined' (by staff at the counter).
ALTER TABLE bookings ADD COLUMN priority TEXT;
