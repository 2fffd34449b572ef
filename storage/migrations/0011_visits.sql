-- The visit of an appointment: the one Encounter that records it. The primary key is
-- what keeps it to one Encounter per appointment when an arrival and a client's POST of
-- an Encounter race; the rules (resources/visit.go) keep the rows in step with the
-- Encounters' appointment references.
CREATE TABLE visits (
    appointment_id text PRIMARY KEY,
    encounter_id   text NOT NULL
);
CREATE INDEX visits_encounter ON visits (encounter_id);
