-- GET Patient?birthdate:missing=true

-- page
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $1 AND NOT r.deleted AND NOT EXISTS (SELECT 1 FROM search_date x1 WHERE x1.rid = r.rid AND x1.sp = $2) ORDER BY r.rid ASC LIMIT $3
-- $1 = "Patient"
-- $2 = "Patient.birthdate"
-- $3 = 51

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND NOT EXISTS (SELECT 1 FROM search_date x1 WHERE x1.rid = r.rid AND x1.sp = $2)
-- $1 = "Patient"
-- $2 = "Patient.birthdate"
