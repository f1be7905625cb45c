-- 预约 booking: a collection site's time slots, each with its capacity, and the bookings of
-- them. `booked` counts the seats taken (held or confirmed); it is moved by the same statement
-- that checks it against the capacity, and the CHECK holds whatever a client does — two nodes
-- booking the last seat at once get one seat between them.
ALTER TABLE site ADD COLUMN bookable INTEGER NOT NULL DEFAULT 0;

CREATE TABLE booking_slot (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES site(id),
    starts_at       INTEGER NOT NULL,
    ends_at         INTEGER NOT NULL,
    capacity        INTEGER NOT NULL,
    booked          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    UNIQUE (site_id, starts_at),
    CHECK (booked >= 0 AND booked <= capacity)
);

-- A booking: `reserved` (a seat held until hold_until), `confirmed` (with the person), then
-- `used` (scanned at the site), `cancelled`, or `expired` (a hold never confirmed).
CREATE TABLE booking (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    slot_id         INTEGER NOT NULL REFERENCES booking_slot(id),
    state           TEXT NOT NULL,
    hold_until      INTEGER,
    doc_type        TEXT,
    doc_no          TEXT,
    name            TEXT,
    phone           TEXT,
    address         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    cancelled_at    INTEGER,
    used_at         INTEGER,
    tube_id         INTEGER REFERENCES tube(id)
);
CREATE INDEX booking_slot_state ON booking (slot_id, state);
CREATE INDEX booking_held ON booking (hold_until) WHERE state = 'reserved';
CREATE INDEX booking_address ON booking (address, created_at);
CREATE INDEX booking_person ON booking (doc_type, doc_no);
