-- Websocket binding tokens ($get-ws-binding-token): a browser's WebSocket cannot send an
-- Authorization header, so it binds with a short-lived, single-use token instead. Only
-- the token's SHA-256 is kept; the row names the subscription it binds and the caller
-- (smart-auth caller as JSON, null when anonymous) it binds as. Kept in the database so
-- that any replica accepts a token another one issued.
CREATE TABLE ws_binding_tokens (
    token_hash      bytea       PRIMARY KEY,
    subscription_id text        NOT NULL,
    caller          jsonb,
    expires_at      timestamptz NOT NULL
);

-- Expired tokens are pruned by age.
CREATE INDEX ws_binding_tokens_expires ON ws_binding_tokens (expires_at);
