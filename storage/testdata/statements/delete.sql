WITH locked AS (SELECT rid FROM resources WHERE rid = $1 FOR UPDATE),
cur AS (UPDATE resources SET version_id = $2, last_updated = $3, deleted = true
		WHERE rid = (SELECT rid FROM locked) RETURNING rid, type, id),
version AS (INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method)
		SELECT rid, $2, type, id, $3, 'DELETE' FROM cur),
drop_links AS (DELETE FROM resource_links WHERE rid = $1),
drop_search_string AS (DELETE FROM search_string WHERE rid = $1),
drop_search_token AS (DELETE FROM search_token WHERE rid = $1),
drop_search_reference AS (DELETE FROM search_reference WHERE rid = $1),
drop_search_date AS (DELETE FROM search_date WHERE rid = $1),
drop_search_number AS (DELETE FROM search_number WHERE rid = $1),
drop_search_quantity AS (DELETE FROM search_quantity WHERE rid = $1),
drop_search_uri AS (DELETE FROM search_uri WHERE rid = $1),
drop_search_composite AS (DELETE FROM search_composite WHERE rid = $1),
box AS (INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, type, id, $2, 'delete' FROM cur)
SELECT 1
-- $1 = 7
-- $2 = 3
-- $3 = "2030-01-07T09:00:00Z"
