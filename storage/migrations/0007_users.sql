-- careslot's users (the people who sign in through Hydra's login flow) and the EHR
-- launch contexts careslot issues. Passwords are stored only as argon2id hashes.
CREATE TABLE users (
    id            text PRIMARY KEY,           -- stable; the sub of their tokens
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('patient', 'practitioner', 'admin')),
    fhir_user     text,                       -- Patient/<id> or Practitioner/<id>
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (CASE role
        WHEN 'patient' THEN fhir_user LIKE 'Patient/%'
        WHEN 'practitioner' THEN fhir_user LIKE 'Practitioner/%'
        ELSE fhir_user IS NULL OR fhir_user LIKE 'Practitioner/%' END)
);

-- An EHR launch: the context (patient, encounter) that a launch value stands for, bound
-- to the user who created it, short-lived.
CREATE TABLE smart_launches (
    id         text PRIMARY KEY,              -- the opaque launch value
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    patient    text,
    encounter  text,
    expires_at timestamptz NOT NULL
);
CREATE INDEX smart_launches_expires_at ON smart_launches (expires_at);
