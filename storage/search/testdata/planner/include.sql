-- GET Appointment?patient=Patient/p1&_include=Appointment:actor

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_reference x1 WHERE x1.sp = $1 AND ((x1.target_id = $2 AND x1.target_type = $3) AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $4)))) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $5) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $6 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $5
-- $1 = "Appointment.patient"
-- $2 = "p1"
-- $3 = "Patient"
-- $4 = "http://example.org/fhir/"
-- $5 = 51
-- $6 = "Appointment"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_reference x1 WHERE x1.sp = $2 AND ((x1.target_id = $3 AND x1.target_type = $4) AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $5))))
-- $1 = "Appointment"
-- $2 = "Appointment.patient"
-- $3 = "p1"
-- $4 = "Patient"
-- $5 = "http://example.org/fhir/"

-- include
SELECT DISTINCT ON (t.rid) t.rid, t.type, t.id, t.version_id, t.last_updated, t.content FROM search_reference x JOIN resources t ON t.type = x.target_type COLLATE "default" AND t.id = x.target_id COLLATE "default" WHERE x.rid = ANY($1::bigint[]) AND x.sp = ANY($2::text[]) AND position(':' in x.url) = 0 AND NOT t.deleted ORDER BY t.rid LIMIT $3
-- $1 = []int64{1, 2}
-- $2 = []string{"Appointment.actor"}
-- $3 = 1000
