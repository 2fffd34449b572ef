-- GET Patient?_id=p1&_revinclude=Appointment:patient

-- page
SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.id = ANY($2::text[]) ORDER BY r.rid ASC LIMIT $3
-- $1 = "Patient"
-- $2 = []string{"p1"}
-- $3 = 51

-- count
SELECT count(*) FROM resources r WHERE r.type = $1 AND NOT r.deleted AND r.id = ANY($2::text[])
-- $1 = "Patient"
-- $2 = []string{"p1"}

-- revinclude
SELECT DISTINCT ON (o.rid) o.rid, o.type, o.id, o.version_id, o.last_updated, o.content FROM resources m JOIN search_reference x ON x.target_id = m.id AND x.target_type = m.type JOIN resources o ON o.rid = x.rid WHERE m.rid = ANY($1::bigint[]) AND x.sp = ANY($2::text[]) AND position(':' in x.url) = 0 AND NOT o.deleted ORDER BY o.rid LIMIT $3
-- $1 = []int64{1, 2}
-- $2 = []string{"Appointment.patient"}
-- $3 = 1000
