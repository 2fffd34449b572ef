-- GET Patient?_has:Observation:subject:code=8867-4

-- page
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.id IN (SELECT x1.target_id COLLATE "default" FROM search_reference x1 JOIN resources o2 ON o2.rid = x1.rid WHERE x1.sp = $2 AND x1.target_type = $3 AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $4)) AND NOT o2.deleted AND o2.rid IN (SELECT x3.rid FROM search_token x3 WHERE x3.sp = $5 AND x3.code = $6) AND true) ORDER BY r.rid ASC LIMIT $7
-- $1 = "Patient"
-- $2 = "Observation.subject"
-- $3 = "Patient"
-- $4 = "http://example.org/fhir/"
-- $5 = "Observation.code"
-- $6 = "8867-4"
-- $7 = 51

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.id IN (SELECT x1.target_id COLLATE "default" FROM search_reference x1 JOIN resources o2 ON o2.rid = x1.rid WHERE x1.sp = $2 AND x1.target_type = $3 AND (position(':' in x1.url) = 0 OR starts_with(x1.url, $4)) AND NOT o2.deleted AND o2.rid IN (SELECT x3.rid FROM search_token x3 WHERE x3.sp = $5 AND x3.code = $6) AND true)
-- $1 = "Patient"
-- $2 = "Observation.subject"
-- $3 = "Patient"
-- $4 = "http://example.org/fhir/"
-- $5 = "Observation.code"
-- $6 = "8867-4"
