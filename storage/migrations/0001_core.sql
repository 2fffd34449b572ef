-- Core tables: the current version of every resource, every version ever written,
-- the literal references between resources, and the outbox of changes.

-- One row per resource: its current version. A deleted resource keeps its row with
-- deleted = true, so a read can answer 410 and the version counter continues.
CREATE TABLE resources (
    rid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type         text        NOT NULL,
    id           text        NOT NULL,
    version_id   integer     NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    content      jsonb       NOT NULL,
    UNIQUE (type, id)
);

-- Every version, the current one included. content is NULL for a delete.
CREATE TABLE resource_versions (
    rid          bigint      NOT NULL REFERENCES resources (rid),
    version_id   integer     NOT NULL,
    type         text        NOT NULL,
    id           text        NOT NULL,
    last_updated timestamptz NOT NULL,
    method       text        NOT NULL CHECK (method IN ('POST', 'PUT', 'DELETE')),
    content      jsonb,
    PRIMARY KEY (rid, version_id)
);
CREATE INDEX resource_versions_system_history ON resource_versions (last_updated DESC, rid, version_id);
CREATE INDEX resource_versions_type_history ON resource_versions (type, last_updated DESC, rid, version_id);

-- Literal references from the current version of a live resource to another resource.
-- Used to refuse dangling references and to refuse deleting a resource still referenced.
CREATE TABLE resource_links (
    rid         bigint NOT NULL REFERENCES resources (rid) ON DELETE CASCADE,
    path        text   NOT NULL,
    target_type text   NOT NULL,
    target_id   text   NOT NULL
);
CREATE INDEX resource_links_source ON resource_links (rid);
CREATE INDEX resource_links_target ON resource_links (target_type, target_id);

-- The transactional outbox: one row per change, written in the same transaction as
-- the change. The subscriptions dispatcher reads it in seq order.
CREATE TABLE outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rid          bigint      NOT NULL,
    type         text        NOT NULL,
    id           text        NOT NULL,
    version_id   integer     NOT NULL,
    action       text        NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE dispatched_at IS NULL;
