-- GET Subscription?url=https://example.org/hook

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_uri x1 WHERE x1.sp = $1 AND x1.value = $2) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $3) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $4 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $3
-- $1 = "Subscription.url"
-- $2 = "https://example.org/hook"
-- $3 = 51
-- $4 = "Subscription"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_uri x1 WHERE x1.sp = $2 AND x1.value = $3)
-- $1 = "Subscription"
-- $2 = "Subscription.url"
-- $3 = "https://example.org/hook"
