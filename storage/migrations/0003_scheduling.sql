-- Scheduling: the tables that let PostgreSQL itself refuse a double booking, whatever
-- the number of careslot processes. The rules in package resources keep them in step
-- with the Appointment, Slot and Schedule resources, in the same transaction as the write.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The time each active appointment (pending, booked, arrived, checked-in) takes from
-- each practitioner and patient in it. The exclusion constraint is the double-booking
-- rule: one actor's time ranges never overlap. Ranges are half-open [start, end), so
-- back-to-back appointments (one ends when the next starts) do not overlap.
CREATE TABLE appointment_times (
    appointment_id text      NOT NULL,
    actor_type     text      NOT NULL CHECK (actor_type IN ('Practitioner', 'Patient')),
    actor_id       text      NOT NULL,
    during         tstzrange NOT NULL CHECK (NOT isempty(during)),
    CONSTRAINT appointment_times_no_overlap
        EXCLUDE USING gist (actor_type WITH =, actor_id WITH =, during WITH &&)
);
CREATE INDEX appointment_times_appointment ON appointment_times (appointment_id);

-- Which appointment holds which slot: a slot is held by at most one appointment.
CREATE TABLE slot_bookings (
    slot_id        text PRIMARY KEY,
    appointment_id text NOT NULL
);
CREATE INDEX slot_bookings_appointment ON slot_bookings (appointment_id);

-- Holds made by Appointment/$hold (pending appointments with an expiry), so expired
-- ones can be found and released without scanning appointments.
CREATE TABLE appointment_holds (
    appointment_id text PRIMARY KEY,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX appointment_holds_expiry ON appointment_holds (expires_at);

-- Every schedule: the references of its actors (a PractitionerRole actor also adds its
-- practitioner) and its specialty tokens, for $find and $generate-slots.
CREATE TABLE schedules (
    schedule_id text PRIMARY KEY,
    active      boolean NOT NULL,
    actors      text[]  NOT NULL,
    specialties text[]  NOT NULL
);
CREATE INDEX schedules_actors ON schedules USING gin (actors);

-- Every live slot that is not entered-in-error. Slots of one schedule never overlap.
CREATE TABLE schedule_slots (
    slot_id       text PRIMARY KEY,
    schedule_id   text      NOT NULL,
    during        tstzrange NOT NULL CHECK (NOT isempty(during)),
    status        text      NOT NULL,
    service_types text[]    NOT NULL,
    specialties   text[]    NOT NULL,
    CONSTRAINT schedule_slots_no_overlap
        EXCLUDE USING gist (schedule_id WITH =, during WITH &&)
);
CREATE INDEX schedule_slots_free ON schedule_slots USING gist (during) WHERE status = 'free';

-- The insurance rule looks up a patient's coverages by beneficiary.
CREATE INDEX resources_coverage_beneficiary ON resources ((content -> 'beneficiary' ->> 'reference'))
    WHERE type = 'Coverage';
