-- GET Observation?subject:Patient.family=smith

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_reference x1 JOIN resources t2 ON t2.type = x1.target_type COLLATE "default" AND t2.id = x1.target_id COLLATE "default" AND t2.type = x1.target_type AND t2.id = x1.target_id WHERE x1.sp = $4 AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $5)) AND NOT t2.deleted AND (t2.type = $1 AND t2.rid IN (SELECT x3.rid FROM search_string x3 WHERE x3.sp = $2 AND x3.value LIKE $3) AND true)) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $6) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $7 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $6
-- $1 = "Patient"
-- $2 = "Patient.family"
-- $3 = "smith%"
-- $4 = "Observation.subject"
-- $5 = "http://example.org/fhir/"
-- $6 = 51
-- $7 = "Observation"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_reference x1 JOIN resources t2 ON t2.type = x1.target_type COLLATE "default" AND t2.id = x1.target_id COLLATE "default" AND t2.type = x1.target_type AND t2.id = x1.target_id WHERE x1.sp = $5 AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $6)) AND NOT t2.deleted AND (t2.type = $2 AND t2.rid IN (SELECT x3.rid FROM search_string x3 WHERE x3.sp = $3 AND x3.value LIKE $4) AND true))
-- $1 = "Observation"
-- $2 = "Patient"
-- $3 = "Patient.family"
-- $4 = "smith%"
-- $5 = "Observation.subject"
-- $6 = "http://example.org/fhir/"
