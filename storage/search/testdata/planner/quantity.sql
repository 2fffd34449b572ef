-- GET Observation?value-quantity=ge5.4|http://unitsofmeasure.org|mg

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_quantity x1 WHERE x1.sp = $1 AND (x1.high >= $2::numeric AND x1.system = $3 AND x1.code = $4)) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $5) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $6 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $5
-- $1 = "Observation.value-quantity"
-- $2 = "5.4"
-- $3 = "http://unitsofmeasure.org"
-- $4 = "mg"
-- $5 = 51
-- $6 = "Observation"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_quantity x1 WHERE x1.sp = $2 AND (x1.high >= $3::numeric AND x1.system = $4 AND x1.code = $5))
-- $1 = "Observation"
-- $2 = "Observation.value-quantity"
-- $3 = "5.4"
-- $4 = "http://unitsofmeasure.org"
-- $5 = "mg"
