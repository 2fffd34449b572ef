-- The AuditEvents of writes, stored in the write's own transaction (a small row that
-- rides with the COMMIT) and moved into AuditEvent resources, with their search index,
-- by the audit writer in batches. A row is deleted in the transaction that stores its
-- AuditEvent: a crash or a stop between the two loses nothing.
CREATE TABLE audit_pending (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc jsonb  NOT NULL
);
