-- GET Appointment?actor=Practitioner/1&status=booked

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_reference x1 WHERE x1.sp = $1 AND ((x1.target_id = $2 AND x1.target_type = $3) AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $4)))) m WHERE true AND m.rid IN (SELECT x2.rid FROM search_token x2 WHERE x2.sp = $5 AND x2.code = $6) GROUP BY m.rid ORDER BY m.rid ASC LIMIT $7) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $8 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $7
-- $1 = "Appointment.actor"
-- $2 = "1"
-- $3 = "Practitioner"
-- $4 = "http://example.org/fhir/"
-- $5 = "Appointment.status"
-- $6 = "booked"
-- $7 = 51
-- $8 = "Appointment"

-- count
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_reference x1 WHERE x1.sp = $2 AND ((x1.target_id = $3 AND x1.target_type = $4) AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $5)))) m WHERE true AND m.rid IN (SELECT x2.rid FROM search_token x2 WHERE x2.sp = $6 AND x2.code = $7)) SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched)
-- $1 = "Appointment"
-- $2 = "Appointment.actor"
-- $3 = "1"
-- $4 = "Practitioner"
-- $5 = "http://example.org/fhir/"
-- $6 = "Appointment.status"
-- $7 = "booked"
