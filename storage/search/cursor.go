package search

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Cursor is a position in the order of a search: the next page starts after it (or, for
// a previous page, ends before it). Positions are keyset values, not offsets, so resources
// written while a client pages neither shift a page nor appear twice.
type Cursor struct {
	Keys   []string // sort key values of the resource at the position, as Postgres text
	RID    int64
	Before bool // the page before the position, for previous links
	// Snapshot is when the first page was read. With a _sort on values that can change,
	// later pages leave out resources written after it: a resource whose sort value moved
	// behind the position could otherwise be returned twice.
	Snapshot time.Time
}

type cursorJSON struct {
	K []string `json:"k,omitempty"`
	R int64    `json:"r"`
	B bool     `json:"b,omitempty"`
	S int64    `json:"s,omitempty"`
}

// Encode makes the opaque _cursor value of a link.
func (c *Cursor) Encode() string {
	j := cursorJSON{K: c.Keys, R: c.RID, B: c.Before}
	if !c.Snapshot.IsZero() {
		j.S = c.Snapshot.UnixMicro()
	}
	b, _ := json.Marshal(j)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a _cursor value made by Encode.
func DecodeCursor(s string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var j cursorJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	if j.R < 0 || len(j.K) > 8 {
		return nil, errors.New("bad cursor")
	}
	c := &Cursor{Keys: j.K, RID: j.R, Before: j.B}
	if j.S != 0 {
		c.Snapshot = time.UnixMicro(j.S).UTC()
	}
	return c, nil
}
