WITH cur AS (INSERT INTO resources (type, id, version_id, last_updated, content)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (type, id) DO NOTHING RETURNING rid),
version AS (INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method, content)
		SELECT rid, $3, $1, $2, $4, $6, $5 FROM cur),
box AS (INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, $1, $2, $3, $7 FROM cur)
SELECT rid, 0 FROM cur
-- $1 = "Basic"
-- $2 = "b1"
-- $3 = 1
-- $4 = "2030-01-07T09:00:00Z"
-- $5 = "{\"code\":{\"text\":\"x\"},\"id\":\"b1\",\"meta\":{\"lastUpdated\":\"2030-01-07T09:00:00Z\",\"versionId\":\"1\"},\"resourceType\":\"Basic\"}"
-- $6 = "POST"
-- $7 = "create"
