-- Subscriptions: the relay's pruning index, the server's state of each Subscription,
-- the numbered events of each subscription (for $events and dedup), and reminders.

-- Sent outbox rows are pruned by age.
CREATE INDEX outbox_dispatched ON outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;

-- What the server keeps of a Subscription beside the resource: who created it (the
-- smart-auth caller, as JSON; null when anonymous) and how many events it has had.
CREATE TABLE subscription_state (
    subscription_id text PRIMARY KEY,
    owner           jsonb,
    events          bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every event a subscription matched, numbered from 1 per subscription, in the order
-- the changes were committed. seq is the outbox row of the change; a change that is
-- matched twice (a redelivered message) keeps its first number.
CREATE TABLE subscription_events (
    subscription_id text        NOT NULL,
    number          bigint      NOT NULL,
    seq             bigint      NOT NULL,
    rid             bigint      NOT NULL,
    type            text        NOT NULL,
    id              text        NOT NULL,
    version_id      integer     NOT NULL,
    action          text        NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, number),
    UNIQUE (subscription_id, seq)
);

-- One reminder per appointment: due a configurable time before its start; moved when the
-- appointment moves, withdrawn when it is cancelled or deleted.
CREATE TABLE reminders (
    appointment_id   text        PRIMARY KEY,
    patient_id       text        NOT NULL,
    start_at         timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    state            text        NOT NULL CHECK (state IN ('pending', 'sent', 'withdrawn')),
    communication_id text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE state = 'pending';
