-- GET Slot?schedule=Schedule/s1&status=free&start=ge2030-01-07T00:00:00Z&_sort=start

-- page
WITH slot_schedules AS MATERIALIZED (SELECT t.id FROM resources t WHERE t.type = 'Schedule' AND NOT t.deleted AND t.id = ANY($3::text[])), matched AS MATERIALIZED (SELECT m.rid FROM (SELECT c.rid FROM (SELECT r.rid, s.schedule_id FROM schedule_slots s JOIN resources r ON r.type = 'Slot' AND r.id = s.slot_id AND NOT r.deleted WHERE s.schedule_id IN (SELECT id FROM slot_schedules) AND s.status = ANY($4::text[]) AND s.during && tstzrange($5::timestamptz, NULL, '[]') UNION ALL SELECT u.rid, u.target_id COLLATE "default" FROM search_reference u WHERE u.sp = $6 AND u.url <> '' AND (position(':' in u.url) = 0 OR starts_with(u.url, $7)) AND u.target_type = 'Schedule' AND u.target_id COLLATE "default" IN (SELECT id FROM slot_schedules) AND u.rid IN (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $8 AND x1.code = $9)) c WHERE EXISTS (SELECT 1 FROM search_reference v WHERE v.rid = c.rid AND v.sp = $10 AND v.target_type = 'Schedule' AND v.target_id = c.schedule_id COLLATE "C")) m WHERE true AND m.rid IN (SELECT x2.rid FROM search_date x2 WHERE x2.sp = $11 AND tstzrange(x2.low, x2.high, '[]') && tstzrange($14::timestamptz, $15::timestamptz, '[]') AND (x2.high >= $12::timestamptz AND (x2.high > $13::timestamptz OR x2.low >= $12::timestamptz)))) SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content, s0.k::text FROM resources r CROSS JOIN LATERAL (SELECT COALESCE(min(x.low), 'infinity'::timestamptz) AS k FROM search_date x WHERE x.rid = r.rid AND x.sp = $1) s0 WHERE r.type = $2 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched) ORDER BY s0.k ASC, r.rid ASC LIMIT $16
-- $1 = "Slot.start"
-- $2 = "Slot"
-- $3 = []string{"s1"}
-- $4 = []string{"free"}
-- $5 = "2030-01-06T23:59:59Z"
-- $6 = "Slot.schedule"
-- $7 = "http://example.org/fhir/"
-- $8 = "Slot.status"
-- $9 = "free"
-- $10 = "Slot.schedule"
-- $11 = "Slot.start"
-- $12 = "2030-01-07T00:00:00Z"
-- $13 = "2030-01-07T00:00:00.999999Z"
-- $14 = "2030-01-07T00:00:00Z"
-- $15 = "9999-12-31T23:59:59.999999Z"
-- $16 = 51

-- count
WITH slot_schedules AS MATERIALIZED (SELECT t.id FROM resources t WHERE t.type = 'Schedule' AND NOT t.deleted AND t.id = ANY($2::text[])), matched AS MATERIALIZED (SELECT m.rid FROM (SELECT c.rid FROM (SELECT r.rid, s.schedule_id FROM schedule_slots s JOIN resources r ON r.type = 'Slot' AND r.id = s.slot_id AND NOT r.deleted WHERE s.schedule_id IN (SELECT id FROM slot_schedules) AND s.status = ANY($3::text[]) AND s.during && tstzrange($4::timestamptz, NULL, '[]') UNION ALL SELECT u.rid, u.target_id COLLATE "default" FROM search_reference u WHERE u.sp = $5 AND u.url <> '' AND (position(':' in u.url) = 0 OR starts_with(u.url, $6)) AND u.target_type = 'Schedule' AND u.target_id COLLATE "default" IN (SELECT id FROM slot_schedules) AND u.rid IN (SELECT x1.rid FROM search_token x1 WHERE x1.sp = $7 AND x1.code = $8)) c WHERE EXISTS (SELECT 1 FROM search_reference v WHERE v.rid = c.rid AND v.sp = $9 AND v.target_type = 'Schedule' AND v.target_id = c.schedule_id COLLATE "C")) m WHERE true AND m.rid IN (SELECT x2.rid FROM search_date x2 WHERE x2.sp = $10 AND tstzrange(x2.low, x2.high, '[]') && tstzrange($13::timestamptz, $14::timestamptz, '[]') AND (x2.high >= $11::timestamptz AND (x2.high > $12::timestamptz OR x2.low >= $11::timestamptz)))) SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched)
-- $1 = "Slot"
-- $2 = []string{"s1"}
-- $3 = []string{"free"}
-- $4 = "2030-01-06T23:59:59Z"
-- $5 = "Slot.schedule"
-- $6 = "http://example.org/fhir/"
-- $7 = "Slot.status"
-- $8 = "free"
-- $9 = "Slot.schedule"
-- $10 = "Slot.start"
-- $11 = "2030-01-07T00:00:00Z"
-- $12 = "2030-01-07T00:00:00.999999Z"
-- $13 = "2030-01-07T00:00:00Z"
-- $14 = "9999-12-31T23:59:59.999999Z"
