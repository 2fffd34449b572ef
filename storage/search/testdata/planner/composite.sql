-- GET Observation?code-value-quantity=http://loinc.org|8867-4$gt100

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_composite x1 WHERE x1.sp = $1 AND ((x1.c1_system = $2 AND x1.c1_code = $3) AND (x1.c2_high > $4::numeric))) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $5) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $6 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $5
-- $1 = "Observation.code-value-quantity"
-- $2 = "http://loinc.org"
-- $3 = "8867-4"
-- $4 = "100"
-- $5 = 51
-- $6 = "Observation"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_composite x1 WHERE x1.sp = $2 AND ((x1.c1_system = $3 AND x1.c1_code = $4) AND (x1.c2_high > $5::numeric)))
-- $1 = "Observation"
-- $2 = "Observation.code-value-quantity"
-- $3 = "http://loinc.org"
-- $4 = "8867-4"
-- $5 = "100"
