-- GET Patient?_sort=family,-birthdate&_count=10

-- page
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content, s0.k::text, s1.k::text FROM resources r CROSS JOIN LATERAL (SELECT COALESCE(min(NULLIF(x.value, '')), U&'\+10FFFF') COLLATE "C" AS k FROM search_string x WHERE x.rid = r.rid AND x.sp = $1) s0 CROSS JOIN LATERAL (SELECT COALESCE(max(x.high), '-infinity'::timestamptz) AS k FROM search_date x WHERE x.rid = r.rid AND x.sp = $2) s1 WHERE r.type = $3 AND NOT r.deleted ORDER BY s0.k ASC, s1.k DESC, r.rid ASC LIMIT $4
-- $1 = "Patient.family"
-- $2 = "Patient.birthdate"
-- $3 = "Patient"
-- $4 = 11

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted
-- $1 = "Patient"
