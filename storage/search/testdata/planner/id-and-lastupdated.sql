-- GET Patient?_id=a,b&_lastUpdated=ge2030-01-01T00:00:00Z

-- page
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.id = ANY($2::text[]) AND (r.last_updated >= $3::timestamptz AND (r.last_updated > $4::timestamptz OR r.last_updated >= $3::timestamptz)) ORDER BY r.rid ASC LIMIT $5
-- $1 = "Patient"
-- $2 = []string{"a", "b"}
-- $3 = "2030-01-01T00:00:00Z"
-- $4 = "2030-01-01T00:00:00.999999Z"
-- $5 = 51

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.id = ANY($2::text[]) AND (r.last_updated >= $3::timestamptz AND (r.last_updated > $4::timestamptz OR r.last_updated >= $3::timestamptz))
-- $1 = "Patient"
-- $2 = []string{"a", "b"}
-- $3 = "2030-01-01T00:00:00Z"
-- $4 = "2030-01-01T00:00:00.999999Z"
