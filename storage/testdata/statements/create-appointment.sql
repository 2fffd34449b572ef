WITH cur AS (INSERT INTO resources (type, id, version_id, last_updated, content)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (type, id) DO NOTHING RETURNING rid),
version AS (INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method, content)
		SELECT rid, $3, $1, $2, $4, $6, $5 FROM cur),
links AS (INSERT INTO resource_links (rid, path, target_type, target_id)
			SELECT cur.rid, l.* FROM cur, unnest($7::text[], $8::text[], $9::text[]) AS l),
targets AS (SELECT count(*) AS live FROM unnest($10::text[], $11::text[]) AS t(type, id),
			LATERAL (SELECT FROM resources r WHERE r.type = t.type AND r.id = t.id AND NOT r.deleted FOR KEY SHARE) r),
box AS (INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, $1, $2, $3, $12 FROM cur),
cur_search_token AS (INSERT INTO search_token (rid, sp, system, code, text) SELECT cur.rid, v.* FROM cur, unnest($13::text[], $14::text[], $15::text[], $16::text[]) AS v),
cur_search_reference AS (INSERT INTO search_reference (rid, sp, target_type, target_id, url) SELECT cur.rid, v.* FROM cur, unnest($17::text[], $18::text[], $19::text[], $20::text[]) AS v),
cur_search_date AS (INSERT INTO search_date (rid, sp, low, high, multi) SELECT cur.rid, v.* FROM cur, unnest($21::text[], $22::timestamptz[], $23::timestamptz[], $24::bool[]) AS v)
SELECT rid, (SELECT live FROM targets) FROM cur
-- $1 = "Appointment"
-- $2 = "a1"
-- $3 = 1
-- $4 = "2030-01-07T09:00:00Z"
-- $5 = "{\"end\":\"2030-01-07T09:30:00Z\",\"id\":\"a1\",\"meta\":{\"lastUpdated\":\"2030-01-07T09:00:00Z\",\"versionId\":\"1\"},\"participant\":[{\"actor\":{\"reference\":\"Patient/p1\"},\"status\":\"accepted\"},{\"actor\":{\"reference\":\"Practitioner/d1\"},\"status\":\"accepted\"}],\"resourceType\":\"Appointment\",\"slot\":[{\"reference\":\"Slot/s1\"}],\"start\":\"2030-01-07T09:00:00Z\",\"status\":\"booked\"}"
-- $6 = "POST"
-- $7 = []string{"Appointment.participant[0].actor", "Appointment.participant[1].actor", "Appointment.slot[0]"}
-- $8 = []string{"Patient", "Practitioner", "Slot"}
-- $9 = []string{"p1", "d1", "s1"}
-- $10 = []string{"Patient", "Practitioner", "Slot"}
-- $11 = []string{"p1", "d1", "s1"}
-- $12 = "create"
-- $13 = []string{"Appointment.part-status", "Appointment.status"}
-- $14 = []string{"", ""}
-- $15 = []string{"accepted", "booked"}
-- $16 = []string{"", ""}
-- $17 = []string{"Appointment.actor", "Appointment.actor", "Appointment.patient", "Appointment.practitioner", "Appointment.slot"}
-- $18 = []string{"Patient", "Practitioner", "Patient", "Practitioner", "Slot"}
-- $19 = []string{"p1", "d1", "p1", "d1", "s1"}
-- $20 = []string{"", "", "", "", ""}
-- $21 = []string{"Appointment.date"}
-- $22 = []time.Time{time.Date(2030, time.January, 7, 9, 0, 0, 0, time.UTC)}
-- $23 = []time.Time{time.Date(2030, time.January, 7, 9, 0, 0, 999999000, time.UTC)}
-- $24 = []bool{false}
