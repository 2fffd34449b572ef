package storage

import (
	"strconv"
	"strings"
)

// statement builds one SQL statement out of data-modifying WITH clauses, so that a write
// of a resource, its version, references, outbox row and search index costs one round
// trip and one executor start, and leaves out the clauses that would write nothing.
// Every clause sees the same snapshot: a DELETE in one cannot see an INSERT in another.
type statement struct {
	clauses []string
	args    []any
}

// param adds a parameter and returns its placeholder.
func (s *statement) param(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

// with adds the clause "name AS (sql)".
func (s *statement) with(name, sql string) {
	s.clauses = append(s.clauses, name+" AS ("+sql+")")
}

// sql returns the statement whose WITH list is the clauses and whose main query is final.
func (s *statement) sql(final string) string {
	if len(s.clauses) == 0 {
		return final
	}
	return "WITH " + strings.Join(s.clauses, ",\n") + "\n" + final
}
