package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/storage/search"
)

// indexTables are the search index tables, each keyed by the resource's rid.
var indexTables = []string{"search_string", "search_token", "search_reference", "search_date",
	"search_number", "search_quantity", "search_uri", "search_composite"}

// dropIndex adds to st the clauses that delete every search index row of the resource
// whose rid is the placeholder rid.
func dropIndex(st *statement, rid string) {
	for _, table := range indexTables {
		st.with("drop_"+table, "DELETE FROM "+table+" WHERE rid = "+rid)
	}
}

// addIndex adds to st the clauses that insert rows for the resource whose rid the clause
// named source returns: one clause per table that has rows, each unnesting one array
// parameter per column.
//
// The clauses are named after source, so that one statement can index several resources
// (the subscription matcher's batches).
func addIndex(st *statement, source string, rows *search.Rows) {
	indexArrays(st, rows, func(table, columns string, arrays ...string) {
		st.with(source+"_"+table, "INSERT INTO "+table+" (rid, "+columns+") SELECT "+source+".rid, v.* FROM "+source+
			", unnest("+strings.Join(arrays, ", ")+") AS v")
	})
}

// indexArrays passes insert, for each index table that has rows, the table, its columns
// and one array parameter per column.
func indexArrays(st *statement, rows *search.Rows, insert func(table, columns string, arrays ...string)) {
	if n := len(rows.Strings); n > 0 {
		sp, value, exact := make([]string, n), make([]string, n), make([]string, n)
		for i, r := range rows.Strings {
			sp[i], value[i], exact[i] = r.SP, r.Value, r.Exact
		}
		insert("search_string", "sp, value, exact", st.param(sp)+"::text[]", st.param(value)+"::text[]", st.param(exact)+"::text[]")
	}
	if n := len(rows.Tokens); n > 0 {
		sp, system, code, text := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, r := range rows.Tokens {
			sp[i], system[i], code[i], text[i] = r.SP, r.System, r.Code, r.Text
		}
		insert("search_token", "sp, system, code, text",
			st.param(sp)+"::text[]", st.param(system)+"::text[]", st.param(code)+"::text[]", st.param(text)+"::text[]")
	}
	if n := len(rows.References); n > 0 {
		sp, typ, id, url := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, r := range rows.References {
			sp[i], typ[i], id[i], url[i] = r.SP, r.Type, r.ID, r.URL
		}
		insert("search_reference", "sp, target_type, target_id, url",
			st.param(sp)+"::text[]", st.param(typ)+"::text[]", st.param(id)+"::text[]", st.param(url)+"::text[]")
	}
	if n := len(rows.Dates); n > 0 {
		sp, low, high, multi := make([]string, n), make([]time.Time, n), make([]time.Time, n), make([]bool, n)
		for i, r := range rows.Dates {
			sp[i], low[i], high[i], multi[i] = r.SP, r.Low, r.High, r.Multi
		}
		insert("search_date", "sp, low, high, multi",
			st.param(sp)+"::text[]", st.param(low)+"::timestamptz[]", st.param(high)+"::timestamptz[]", st.param(multi)+"::bool[]")
	}
	if n := len(rows.Numbers); n > 0 {
		sp, value := make([]string, n), make([]string, n)
		for i, r := range rows.Numbers {
			sp[i], value[i] = r.SP, r.Value
		}
		insert("search_number", "sp, value", st.param(sp)+"::text[]", st.param(value)+"::numeric[]")
	}
	if n := len(rows.Quantities); n > 0 {
		sp, system, code, unit, low, high := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, r := range rows.Quantities {
			sp[i], system[i], code[i], unit[i], low[i], high[i] = r.SP, r.System, r.Code, r.Unit, r.Low, r.High
		}
		insert("search_quantity", "sp, system, code, unit, low, high",
			st.param(sp)+"::text[]", st.param(system)+"::text[]", st.param(code)+"::text[]", st.param(unit)+"::text[]",
			st.param(low)+"::numeric[]", st.param(high)+"::numeric[]")
	}
	if n := len(rows.URIs); n > 0 {
		sp, value := make([]string, n), make([]string, n)
		for i, r := range rows.URIs {
			sp[i], value[i] = r.SP, r.Value
		}
		insert("search_uri", "sp, value", st.param(sp)+"::text[]", st.param(value)+"::text[]")
	}
	if n := len(rows.Composites); n > 0 {
		sp, c1s, c1c, c2s, c2c := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		low, high, text := make([]*string, n), make([]*string, n), make([]*string, n)
		from, to := make([]*time.Time, n), make([]*time.Time, n)
		for i, r := range rows.Composites {
			sp[i], c1s[i], c1c[i], c2s[i], c2c[i] = r.SP, r.C1System, r.C1Code, r.C2System, r.C2Code
			low[i], high[i], from[i], to[i], text[i] = r.C2Low, r.C2High, r.C2From, r.C2To, r.C2Text
		}
		insert("search_composite", "sp, c1_system, c1_code, c2_system, c2_code, c2_low, c2_high, c2_from, c2_to, c2_text",
			st.param(sp)+"::text[]", st.param(c1s)+"::text[]", st.param(c1c)+"::text[]", st.param(c2s)+"::text[]", st.param(c2c)+"::text[]",
			st.param(low)+"::numeric[]", st.param(high)+"::numeric[]", st.param(from)+"::timestamptz[]", st.param(to)+"::timestamptz[]",
			st.param(text)+"::text[]")
	}
}

// writeSearchIndex replaces the search index rows of rid with those extracted from content.
func (t *Tx) writeSearchIndex(ctx context.Context, rid int64, typ string, content []byte) error {
	reg := search.Definitions()
	if !reg.Searchable(typ) {
		return nil
	}
	st := &statement{}
	ridParam := st.param(rid)
	st.with("target", "SELECT "+ridParam+"::bigint AS rid")
	dropIndex(st, ridParam)
	addIndex(st, "target", reg.Extract(typ, content))
	if _, err := t.pg.Exec(ctx, st.sql("SELECT 1"), st.args...); err != nil {
		return fmt.Errorf("storage: search index of %s: %w", typ, mapPgError(err))
	}
	return nil
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
			last, n = 0, 0 // InTx may run this again
			// FOR SHARE: an update or delete open now finishes first, and this batch reads
			// what it wrote; one starting later waits. Else the rows of content an update
			// replaced could be written back beside the update's own.
			rows, err := tx.pg.Query(ctx, `SELECT rid, type, content FROM resources
				WHERE rid > $1 AND NOT deleted ORDER BY rid LIMIT $2 FOR SHARE`, after, reindexBatch)
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
