WITH cur AS (UPDATE resources SET version_id = $3, last_updated = $4, deleted = false, content = $5
			WHERE rid = $6 RETURNING rid),
drop_links AS (DELETE FROM resource_links WHERE rid = $6),
version AS (INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method, content)
		SELECT rid, $3, $1, $2, $4, $7, $5 FROM cur),
links AS (INSERT INTO resource_links (rid, path, target_type, target_id)
			SELECT cur.rid, l.* FROM cur, unnest($8::text[], $9::text[], $10::text[]) AS l),
targets AS (SELECT count(*) AS live FROM unnest($11::text[], $12::text[]) AS t(type, id),
			LATERAL (SELECT FROM resources r WHERE r.type = t.type AND r.id = t.id AND NOT r.deleted FOR KEY SHARE) r),
box AS (INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, $1, $2, $3, $13 FROM cur),
drop_search_string AS (DELETE FROM search_string WHERE rid = $6),
drop_search_token AS (DELETE FROM search_token WHERE rid = $6),
drop_search_reference AS (DELETE FROM search_reference WHERE rid = $6),
drop_search_date AS (DELETE FROM search_date WHERE rid = $6),
drop_search_number AS (DELETE FROM search_number WHERE rid = $6),
drop_search_quantity AS (DELETE FROM search_quantity WHERE rid = $6),
drop_search_uri AS (DELETE FROM search_uri WHERE rid = $6),
drop_search_composite AS (DELETE FROM search_composite WHERE rid = $6),
cur_search_string AS (INSERT INTO search_string (rid, sp, value, exact) SELECT cur.rid, v.* FROM cur, unnest($14::text[], $15::text[], $16::text[]) AS v),
cur_search_token AS (INSERT INTO search_token (rid, sp, system, code, text) SELECT cur.rid, v.* FROM cur, unnest($17::text[], $18::text[], $19::text[], $20::text[]) AS v),
cur_search_reference AS (INSERT INTO search_reference (rid, sp, target_type, target_id, url) SELECT cur.rid, v.* FROM cur, unnest($21::text[], $22::text[], $23::text[], $24::text[]) AS v),
cur_search_date AS (INSERT INTO search_date (rid, sp, low, high, multi) SELECT cur.rid, v.* FROM cur, unnest($25::text[], $26::timestamptz[], $27::timestamptz[], $28::bool[]) AS v)
SELECT rid, (SELECT live FROM targets) FROM cur
-- $1 = "Patient"
-- $2 = "p1"
-- $3 = 2
-- $4 = "2030-01-07T09:00:00Z"
-- $5 = "{\"birthDate\":\"1974-12-25\",\"gender\":\"female\",\"generalPractitioner\":[{\"reference\":\"Practitioner/d1\"},{\"reference\":\"Organization/o1\"}],\"id\":\"p1\",\"identifier\":[{\"system\":\"http://example.org/mrn\",\"value\":\"123\"}],\"managingOrganization\":{\"reference\":\"Organization/o1\"},\"meta\":{\"lastUpdated\":\"2030-01-07T09:00:00Z\",\"versionId\":\"2\"},\"name\":[{\"family\":\"Smith\",\"given\":[\"Ann\"]}],\"resourceType\":\"Patient\"}"
-- $6 = 7
-- $7 = "PUT"
-- $8 = []string{"Patient.generalPractitioner[0]", "Patient.generalPractitioner[1]", "Patient.managingOrganization"}
-- $9 = []string{"Practitioner", "Organization", "Organization"}
-- $10 = []string{"d1", "o1", "o1"}
-- $11 = []string{"Practitioner", "Organization"}
-- $12 = []string{"d1", "o1"}
-- $13 = "update"
-- $14 = []string{"Patient.family", "Patient.given", "Patient.name", "Patient.name", "Patient.phonetic", "Patient.phonetic"}
-- $15 = []string{"smith", "ann", "smith", "ann", "smith", "ann"}
-- $16 = []string{"Smith", "Ann", "Smith", "Ann", "Smith", "Ann"}
-- $17 = []string{"Patient.deceased", "Patient.gender", "Patient.identifier"}
-- $18 = []string{"", "", "http://example.org/mrn"}
-- $19 = []string{"false", "female", "123"}
-- $20 = []string{"", "", ""}
-- $21 = []string{"Patient.general-practitioner", "Patient.general-practitioner", "Patient.organization"}
-- $22 = []string{"Practitioner", "Organization", "Organization"}
-- $23 = []string{"d1", "o1", "o1"}
-- $24 = []string{"", "", ""}
-- $25 = []string{"Patient.birthdate"}
-- $26 = []time.Time{time.Date(1974, time.December, 25, 0, 0, 0, 0, time.UTC)}
-- $27 = []time.Time{time.Date(1974, time.December, 25, 23, 59, 59, 999999000, time.UTC)}
-- $28 = []bool{false}
