-- GET Patient?name:exact=Smith&given:contains=ann

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_string x1 WHERE x1.sp = $1 AND x1.value LIKE $2) m WHERE true AND m.rid IN (SELECT x2.rid FROM search_string x2 WHERE x2.sp = $3 AND x2.exact = $4) GROUP BY m.rid ORDER BY m.rid ASC LIMIT $5) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $6 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $5
-- $1 = "Patient.given"
-- $2 = "%ann%"
-- $3 = "Patient.name"
-- $4 = "Smith"
-- $5 = 51
-- $6 = "Patient"

-- count
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_string x1 WHERE x1.sp = $2 AND x1.value LIKE $3) m WHERE true AND m.rid IN (SELECT x2.rid FROM search_string x2 WHERE x2.sp = $4 AND x2.exact = $5)) SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched)
-- $1 = "Patient"
-- $2 = "Patient.given"
-- $3 = "%ann%"
-- $4 = "Patient.name"
-- $5 = "Smith"
