-- GET Patient?identifier=http://example.org/mrn|123

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $1 AND (x1.system = $2 AND x1.code = $3)) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $4) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $5 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $4
-- $1 = "Patient.identifier"
-- $2 = "http://example.org/mrn"
-- $3 = "123"
-- $4 = 51
-- $5 = "Patient"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $2 AND (x1.system = $3 AND x1.code = $4))
-- $1 = "Patient"
-- $2 = "Patient.identifier"
-- $3 = "http://example.org/mrn"
-- $4 = "123"
