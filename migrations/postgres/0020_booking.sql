-- 预约 booking: a collection site's time slots, each with its capacity, and the bookings of
-- them. `booked` counts the seats taken (held or confirmed); it is moved by the same statement
-- that checks it against the capacity, and the CHECK holds whatever a client does — two nodes
-- booking the last seat at once get one seat between them.
ALTER TABLE site ADD COLUMN bookable BIGINT NOT NULL DEFAULT 0;

CREATE TABLE booking_slot (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         BIGINT NOT NULL REFERENCES site(id),
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    capacity        BIGINT NOT NULL,
    booked          BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    UNIQUE (site_id, starts_at),
    CHECK (booked >= 0 AND booked <= capacity)
);

-- A booking: `reserved` (a seat held until hold_until), `confirmed` (with the person), then
-- `used` (scanned at the site), `cancelled`, or `expired` (a hold never confirmed).
CREATE TABLE booking (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    slot_id         BIGINT NOT NULL REFERENCES booking_slot(id),
    state           TEXT NOT NULL,
    hold_until      BIGINT,
    doc_type        TEXT,
    doc_no          TEXT,
    name            TEXT,
    phone           TEXT,
    address         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    confirmed_at    BIGINT,
    cancelled_at    BIGINT,
    used_at         BIGINT,
    tube_id         BIGINT REFERENCES tube(id)
);
CREATE INDEX booking_slot_state ON booking (slot_id, state);
CREATE INDEX booking_held ON booking (hold_until) WHERE state = 'reserved';
CREATE INDEX booking_address ON booking (address, created_at);
CREATE INDEX booking_person ON booking (doc_type, doc_no);
