-- GET Appointment?date=ge2030-01-07&date=lt2030-01-08

-- page
WITH matched AS MATERIALIZED (SELECT m.rid FROM (SELECT x1.rid FROM search_date x1 WHERE x1.sp = $1 AND tstzrange(x1.low, x1.high, '[]') && tstzrange($5::timestamptz, $6::timestamptz, '[]') AND (x1.high >= $2::timestamptz AND (x1.high > $3::timestamptz OR x1.low >= $2::timestamptz)) AND x1.low < $4::timestamptz) m WHERE true GROUP BY m.rid ORDER BY m.rid ASC LIMIT $7) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $8 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY r.rid ASC LIMIT $7
-- $1 = "Appointment.date"
-- $2 = "2030-01-07T00:00:00Z"
-- $3 = "2030-01-07T23:59:59.999999Z"
-- $4 = "2030-01-08T00:00:00Z"
-- $5 = "2030-01-07T00:00:00Z"
-- $6 = "2030-01-07T23:59:59.999999Z"
-- $7 = 51
-- $8 = "Appointment"

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT x1.rid FROM search_date x1 WHERE x1.sp = $2 AND tstzrange(x1.low, x1.high, '[]') && tstzrange($6::timestamptz, $7::timestamptz, '[]') AND (x1.high >= $3::timestamptz AND (x1.high > $4::timestamptz OR x1.low >= $3::timestamptz)) AND x1.low < $5::timestamptz)
-- $1 = "Appointment"
-- $2 = "Appointment.date"
-- $3 = "2030-01-07T00:00:00Z"
-- $4 = "2030-01-07T23:59:59.999999Z"
-- $5 = "2030-01-08T00:00:00Z"
-- $6 = "2030-01-07T00:00:00Z"
-- $7 = "2030-01-07T23:59:59.999999Z"
