WITH cur AS (INSERT INTO resources (type, id, version_id, last_updated, content)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (type, id) DO NOTHING RETURNING rid),
version AS (INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method, content)
		SELECT rid, $3, $1, $2, $4, $6, $5 FROM cur),
links AS (INSERT INTO resource_links (rid, path, target_type, target_id)
			SELECT cur.rid, l.* FROM cur, unnest($7::text[], $8::text[], $9::text[]) AS l),
targets AS (SELECT count(*) AS live FROM unnest($10::text[], $11::text[]) AS t(type, id),
			LATERAL (SELECT FROM resources r WHERE r.type = t.type AND r.id = t.id AND NOT r.deleted FOR KEY SHARE) r),
box AS (INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, $1, $2, $3, $12 FROM cur),
cur_search_string AS (INSERT INTO search_string (rid, sp, value, exact) SELECT cur.rid, v.* FROM cur, unnest($13::text[], $14::text[], $15::text[]) AS v),
cur_search_token AS (INSERT INTO search_token (rid, sp, system, code, text) SELECT cur.rid, v.* FROM cur, unnest($16::text[], $17::text[], $18::text[], $19::text[]) AS v),
cur_search_reference AS (INSERT INTO search_reference (rid, sp, target_type, target_id, url) SELECT cur.rid, v.* FROM cur, unnest($20::text[], $21::text[], $22::text[], $23::text[]) AS v),
cur_search_date AS (INSERT INTO search_date (rid, sp, low, high, multi) SELECT cur.rid, v.* FROM cur, unnest($24::text[], $25::timestamptz[], $26::timestamptz[], $27::bool[]) AS v)
SELECT rid, (SELECT live FROM targets) FROM cur
-- $1 = "Patient"
-- $2 = "p1"
-- $3 = 1
-- $4 = "2030-01-07T09:00:00Z"
-- $5 = "{\"birthDate\":\"1974-12-25\",\"gender\":\"female\",\"generalPractitioner\":[{\"reference\":\"Practitioner/d1\"},{\"reference\":\"Organization/o1\"}],\"id\":\"p1\",\"identifier\":[{\"system\":\"http://example.org/mrn\",\"value\":\"123\"}],\"managingOrganization\":{\"reference\":\"Organization/o1\"},\"meta\":{\"lastUpdated\":\"2030-01-07T09:00:00Z\",\"versionId\":\"1\"},\"name\":[{\"family\":\"Smith\",\"given\":[\"Ann\"]}],\"resourceType\":\"Patient\"}"
-- $6 = "POST"
-- $7 = []string{"Patient.generalPractitioner[0]", "Patient.generalPractitioner[1]", "Patient.managingOrganization"}
-- $8 = []string{"Practitioner", "Organization", "Organization"}
-- $9 = []string{"d1", "o1", "o1"}
-- $10 = []string{"Practitioner", "Organization"}
-- $11 = []string{"d1", "o1"}
-- $12 = "create"
-- $13 = []string{"Patient.family", "Patient.given", "Patient.name", "Patient.name", "Patient.phonetic", "Patient.phonetic"}
-- $14 = []string{"smith", "ann", "smith", "ann", "smith", "ann"}
-- $15 = []string{"Smith", "Ann", "Smith", "Ann", "Smith", "Ann"}
-- $16 = []string{"Patient.deceased", "Patient.gender", "Patient.identifier"}
-- $17 = []string{"", "", "http://example.org/mrn"}
-- $18 = []string{"false", "female", "123"}
-- $19 = []string{"", "", ""}
-- $20 = []string{"Patient.general-practitioner", "Patient.general-practitioner", "Patient.organization"}
-- $21 = []string{"Practitioner", "Organization", "Organization"}
-- $22 = []string{"d1", "o1", "o1"}
-- $23 = []string{"", "", ""}
-- $24 = []string{"Patient.birthdate"}
-- $25 = []time.Time{time.Date(1974, time.December, 25, 0, 0, 0, 0, time.UTC)}
-- $26 = []time.Time{time.Date(1974, time.December, 25, 23, 59, 59, 999999000, time.UTC)}
-- $27 = []bool{false}
