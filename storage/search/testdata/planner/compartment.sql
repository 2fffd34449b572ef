-- GET Observation?code=8867-4

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $1 AND x1.code = $2) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $3) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $4 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $3
-- $1 = "Observation.code"
-- $2 = "8867-4"
-- $3 = 51
-- $4 = "Observation"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $2 AND x1.code = $3)
-- $1 = "Observation"
-- $2 = "Observation.code"
-- $3 = "8867-4"

-- in the compartment of Patient/p1
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $2 AND x1.code = $3) AND r.rid IN (SELECT x2.rid FROM search_reference x2 WHERE x2.sp = ANY($4::text[]) AND x2.target_type = $5 AND x2.target_id = $6 AND position(':' in x2.url) = 0) ORDER BY r.rid ASC LIMIT $7
-- $1 = "Observation"
-- $2 = "Observation.code"
-- $3 = "8867-4"
-- $4 = []string{"Observation.subject", "Observation.performer"}
-- $5 = "Patient"
-- $6 = "p1"
-- $7 = 51
