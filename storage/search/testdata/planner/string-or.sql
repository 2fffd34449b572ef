-- GET Patient?family=smith,jones

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_string x1 WHERE x1.sp = $1 AND (x1.value LIKE $2 OR x1.value LIKE $3)) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $4) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $5 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $4
-- $1 = "Patient.family"
-- $2 = "smith%"
-- $3 = "jones%"
-- $4 = 51
-- $5 = "Patient"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_string x1 WHERE x1.sp = $2 AND (x1.value LIKE $3 OR x1.value LIKE $4))
-- $1 = "Patient"
-- $2 = "Patient.family"
-- $3 = "smith%"
-- $4 = "jones%"
