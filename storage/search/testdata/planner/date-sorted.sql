-- GET Observation?date=ge2020-01-01&_sort=-date

-- page
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content, s0.k::text FROM resources r CROSS JOIN LATERAL (SELECT COALESCE(max(x.high), '-infinity'::timestamptz) AS k FROM search_date x WHERE x.rid = r.rid AND x.sp = $1) s0 WHERE r.type = $2 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_date x1 WHERE x1.sp = $3 AND tstzrange(x1.low, x1.high, '[]') && tstzrange($6::timestamptz, $7::timestamptz, '[]') AND (x1.high >= $4::timestamptz AND (x1.high > $5::timestamptz OR x1.low >= $4::timestamptz))) ORDER BY s0.k DESC, r.rid ASC LIMIT $8
-- $1 = "Observation.date"
-- $2 = "Observation"
-- $3 = "Observation.date"
-- $4 = "2020-01-01T00:00:00Z"
-- $5 = "2020-01-01T23:59:59.999999Z"
-- $6 = "2020-01-01T00:00:00Z"
-- $7 = "9999-12-31T23:59:59.999999Z"
-- $8 = 51

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_date x1 WHERE x1.sp = $2 AND tstzrange(x1.low, x1.high, '[]') && tstzrange($5::timestamptz, $6::timestamptz, '[]') AND (x1.high >= $3::timestamptz AND (x1.high > $4::timestamptz OR x1.low >= $3::timestamptz)))
-- $1 = "Observation"
-- $2 = "Observation.date"
-- $3 = "2020-01-01T00:00:00Z"
-- $4 = "2020-01-01T23:59:59.999999Z"
-- $5 = "2020-01-01T00:00:00Z"
-- $6 = "9999-12-31T23:59:59.999999Z"
