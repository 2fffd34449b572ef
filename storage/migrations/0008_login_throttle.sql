-- Failed sign-ins, to slow down password guessing: after a run of failures a username
-- is refused for a while (see storage.RecordLoginFailure).
ALTER TABLE users
    ADD COLUMN failed_logins int NOT NULL DEFAULT 0,
    ADD COLUMN locked_until timestamptz;
