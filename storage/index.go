package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/storage/search"
)

// replaceIndexSQL rewrites every search index row of one resource in one statement, so a
// write pays one round trip for its index whatever the number of values. The DELETEs and
// INSERTs share a snapshot: the DELETEs cannot see the new rows.
const replaceIndexSQL = `WITH
  d1 AS (DELETE FROM search_string WHERE rid = $1),
  d2 AS (DELETE FROM search_token WHERE rid = $1),
  d3 AS (DELETE FROM search_reference WHERE rid = $1),
  d4 AS (DELETE FROM search_date WHERE rid = $1),
  d5 AS (DELETE FROM search_number WHERE rid = $1),
  d6 AS (DELETE FROM search_quantity WHERE rid = $1),
  d7 AS (DELETE FROM search_uri WHERE rid = $1),
  d8 AS (DELETE FROM search_composite WHERE rid = $1),
  i1 AS (INSERT INTO search_string (rid, sp, value, exact)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])),
  i2 AS (INSERT INTO search_token (rid, sp, system, code, text)
         SELECT $1, * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[])),
  i3 AS (INSERT INTO search_reference (rid, sp, target_type, target_id, url)
         SELECT $1, * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[])),
  i4 AS (INSERT INTO search_date (rid, sp, low, high, multi)
         SELECT $1, * FROM unnest($13::text[], $14::timestamptz[], $15::timestamptz[], $16::bool[])),
  i5 AS (INSERT INTO search_number (rid, sp, value)
         SELECT $1, * FROM unnest($17::text[], $18::numeric[])),
  i6 AS (INSERT INTO search_quantity (rid, sp, system, code, unit, low, high)
         SELECT $1, * FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::numeric[], $24::numeric[])),
  i7 AS (INSERT INTO search_uri (rid, sp, value)
         SELECT $1, * FROM unnest($25::text[], $26::text[])),
  i8 AS (INSERT INTO search_composite (rid, sp, c1_system, c1_code, c2_system, c2_code, c2_low, c2_high, c2_from, c2_to, c2_text)
         SELECT $1, * FROM unnest($27::text[], $28::text[], $29::text[], $30::text[], $31::text[],
                                  $32::numeric[], $33::numeric[], $34::timestamptz[], $35::timestamptz[], $36::text[]))
SELECT 1`

// insertIndexSQL is replaceIndexSQL for a resource's first version, which has no rows to delete.
var insertIndexSQL = "WITH " + replaceIndexSQL[strings.Index(replaceIndexSQL, "i1 AS"):]

// removeIndexSQL drops every search index row of one resource.
const removeIndexSQL = `WITH
  d1 AS (DELETE FROM search_string WHERE rid = $1),
  d2 AS (DELETE FROM search_token WHERE rid = $1),
  d3 AS (DELETE FROM search_reference WHERE rid = $1),
  d4 AS (DELETE FROM search_date WHERE rid = $1),
  d5 AS (DELETE FROM search_number WHERE rid = $1),
  d6 AS (DELETE FROM search_quantity WHERE rid = $1),
  d7 AS (DELETE FROM search_uri WHERE rid = $1)
DELETE FROM search_composite WHERE rid = $1`

// writeSearchIndex replaces the search index rows of rid with those extracted from content.
func (t *Tx) writeSearchIndex(ctx context.Context, rid int64, typ string, content []byte) error {
	reg := search.Definitions()
	if !reg.Searchable(typ) {
		return nil
	}
	rows := reg.Extract(typ, content)
	sql := replaceIndexSQL
	if rows.New {
		sql = insertIndexSQL
	}
	if _, err := t.pg.Exec(ctx, sql, indexArgs(rid, rows)...); err != nil {
		return fmt.Errorf("storage: search index of %s: %w", typ, mapPgError(err))
	}
	return nil
}

// removeSearchIndex drops the search index rows of a deleted resource.
func (t *Tx) removeSearchIndex(ctx context.Context, rid int64) error {
	if _, err := t.pg.Exec(ctx, removeIndexSQL, rid); err != nil {
		return fmt.Errorf("storage: remove search index: %w", mapPgError(err))
	}
	return nil
}

// indexArgs lays the rows out as the column arrays of replaceIndexSQL.
func indexArgs(rid int64, rows *search.Rows) []any {
	args := []any{rid}
	col := func(n int) [][]string {
		c := make([][]string, n)
		return c
	}
	s := col(3)
	for _, r := range rows.Strings {
		s[0], s[1], s[2] = append(s[0], r.SP), append(s[1], r.Value), append(s[2], r.Exact)
	}
	tk := col(4)
	for _, r := range rows.Tokens {
		tk[0], tk[1], tk[2], tk[3] = append(tk[0], r.SP), append(tk[1], r.System), append(tk[2], r.Code), append(tk[3], r.Text)
	}
	rf := col(4)
	for _, r := range rows.References {
		rf[0], rf[1], rf[2], rf[3] = append(rf[0], r.SP), append(rf[1], r.Type), append(rf[2], r.ID), append(rf[3], r.URL)
	}
	var dsp []string
	var dlow, dhigh []time.Time
	var dmulti []bool
	for _, r := range rows.Dates {
		dsp, dlow, dhigh, dmulti = append(dsp, r.SP), append(dlow, r.Low), append(dhigh, r.High), append(dmulti, r.Multi)
	}
	nm := col(2)
	for _, r := range rows.Numbers {
		nm[0], nm[1] = append(nm[0], r.SP), append(nm[1], r.Value)
	}
	qt := col(6)
	for _, r := range rows.Quantities {
		qt[0], qt[1], qt[2], qt[3], qt[4], qt[5] = append(qt[0], r.SP), append(qt[1], r.System), append(qt[2], r.Code), append(qt[3], r.Unit), append(qt[4], r.Low), append(qt[5], r.High)
	}
	ur := col(2)
	for _, r := range rows.URIs {
		ur[0], ur[1] = append(ur[0], r.SP), append(ur[1], r.Value)
	}
	cp := col(5)
	var clow, chigh, ctext []*string
	var cfrom, cto []*time.Time
	for _, r := range rows.Composites {
		cp[0], cp[1], cp[2], cp[3], cp[4] = append(cp[0], r.SP), append(cp[1], r.C1System), append(cp[2], r.C1Code), append(cp[3], r.C2System), append(cp[4], r.C2Code)
		clow, chigh, cfrom, cto, ctext = append(clow, r.C2Low), append(chigh, r.C2High), append(cfrom, r.C2From), append(cto, r.C2To), append(ctext, r.C2Text)
	}
	for _, group := range [][][]string{s, tk, rf} {
		for _, c := range group {
			args = append(args, indexColumn(c))
		}
	}
	args = append(args, indexColumn(dsp), indexColumn(dlow), indexColumn(dhigh), indexColumn(dmulti))
	for _, group := range [][][]string{nm, qt, ur, cp} {
		for _, c := range group {
			args = append(args, indexColumn(c))
		}
	}
	args = append(args, clow, chigh, cfrom, cto, ctext)
	return args
}

// indexColumn makes a column with no rows an empty array: Postgres would take nil as NULL.
func indexColumn[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// reindexBatch is how many resources one reindex transaction rewrites.
const reindexBatch = 500

// Reindex rebuilds the search index of every live resource, a batch per transaction, for
// when the definitions change. progress, when set, is told the running count.
func (s *Store) Reindex(ctx context.Context, progress func(done int)) (int, error) {
	var after int64
	done := 0
	for {
		var last int64
		n := 0
		err := s.InTx(ctx, func(tx *Tx) error {
			rows, err := tx.pg.Query(ctx, `SELECT rid, type, content FROM resources
				WHERE rid > $1 AND NOT deleted ORDER BY rid LIMIT $2`, after, reindexBatch)
			if err != nil {
				return err
			}
			type item struct {
				rid     int64
				typ     string
				content []byte
			}
			var items []item
			for rows.Next() {
				var it item
				if err := rows.Scan(&it.rid, &it.typ, &it.content); err != nil {
					rows.Close()
					return err
				}
				items = append(items, it)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, it := range items {
				if err := tx.writeSearchIndex(ctx, it.rid, it.typ, it.content); err != nil {
					return err
				}
				last, n = it.rid, n+1
			}
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("storage: reindex after rid %d: %w", after, err)
		}
		done += n
		if progress != nil && n > 0 {
			progress(done)
		}
		if n < reindexBatch {
			return done, nil
		}
		after = last
	}
}
