package fhir

import (
	"bytes"
	"slices"
	"sync"
)

// PostgreSQL's jsonb keeps an object's keys shortest first, so a stored resource comes
// back as {"id":…,"meta":…,"text":…,…,"resourceType":…}. FHIR JSON, as the
// specification's examples and other servers print it, starts a resource with
// resourceType, then id and meta. writeJSON puts every resource of an answer back in
// that order: one pass over the bytes finds the resources that are out of order, and a
// copy moves their members; no decoding, no map, every value byte for byte.

// maxOrderDepth bounds the nesting orderResources follows; a deeper answer goes out as
// it is.
const maxOrderDepth = 1000

var resourceTypeKey = []byte(`"resourceType"`)

// orderResources returns body, a JSON value, with every resource in it (every object
// with a resourceType member: the answer itself, Bundle entries, contained resources,
// Parameters parts) starting with resourceType, id and meta, its other members in
// their order. body itself comes back when nothing is out of order, or when it is not
// well-formed JSON.
func orderResources(body []byte) []byte {
	if !bytes.Contains(body, resourceTypeKey) {
		return body
	}
	s := jsonScanners.Get().(*jsonScanner)
	defer func() {
		s.src = nil
		jsonScanners.Put(s)
	}()
	s.src, s.open, s.fixes, s.fixMembers, s.depth = body, s.open[:0], s.fixes[:0], s.fixMembers[:0], 0
	end, ok := s.value(0)
	if !ok || skipSpace(body, end) != len(body) || len(s.fixes) == 0 {
		return body
	}
	// Fixes are found as their objects close, inner ones first; emit wants them in order.
	slices.SortFunc(s.fixes, func(a, b fix) int { return a.start - b.start })
	return s.emit(make([]byte, 0, len(body)), 0, len(body))
}

var jsonScanners = sync.Pool{New: func() any { return new(jsonScanner) }}

// jsonScanner finds the resources of a JSON text whose members are out of order.
type jsonScanner struct {
	src        []byte
	open       []member // the members of the objects being scanned, innermost last
	fixes      []fix
	fixMembers []member // the members of every fix, fix.members indexes it
	depth      int
}

// member is one "key": value of an object, as a span of src without the comma.
type member struct {
	start, end int
	rank       int // 0 resourceType, 1 id, 2 meta, 3 any other
}

// fix is a resource, src[start:end], whose members must be written in rank order.
type fix struct {
	start, end int
	members    [2]int // fixMembers[members[0]:members[1]], in their written order
	sep        [2]int // src[sep[0]:sep[1]] is the comma (and spaces) between its first two
}

func rankOf(key []byte) int {
	switch string(key) { // compared in place, no allocation
	case `"resourceType"`:
		return 0
	case `"id"`:
		return 1
	case `"meta"`:
		return 2
	}
	return 3
}

// value scans the JSON value at src[i:] (after any whitespace) and returns where it ends.
func (s *jsonScanner) value(i int) (int, bool) {
	i = skipSpace(s.src, i)
	if i >= len(s.src) {
		return i, false
	}
	switch s.src[i] {
	case '{':
		return s.object(i)
	case '[':
		return s.array(i)
	case '"':
		return stringEnd(s.src, i)
	}
	// A number, true, false or null: up to the next delimiter.
	j := i
	for j < len(s.src) && !isDelimiter(s.src[j]) {
		j++
	}
	return j, j > i
}

func (s *jsonScanner) array(i int) (int, bool) {
	if s.depth++; s.depth > maxOrderDepth {
		return i, false
	}
	defer func() { s.depth-- }()
	i = skipSpace(s.src, i+1)
	if i < len(s.src) && s.src[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = s.value(i); !ok {
			return i, false
		}
		if i = skipSpace(s.src, i); i >= len(s.src) {
			return i, false
		}
		switch s.src[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func (s *jsonScanner) object(start int) (int, bool) {
	if s.depth++; s.depth > maxOrderDepth {
		return start, false
	}
	defer func() { s.depth-- }()
	first := len(s.open) // this object's members are s.open[first:]
	defer func() { s.open = s.open[:first] }()
	i := skipSpace(s.src, start+1)
	if i < len(s.src) && s.src[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s.src) || s.src[i] != '"' {
			return i, false
		}
		keyEnd, ok := stringEnd(s.src, i)
		if !ok {
			return i, false
		}
		m := member{start: i, rank: rankOf(s.src[i:keyEnd])}
		if i = skipSpace(s.src, keyEnd); i >= len(s.src) || s.src[i] != ':' {
			return i, false
		}
		if m.end, ok = s.value(i + 1); !ok {
			return m.end, false
		}
		s.open = append(s.open, m)
		if i = skipSpace(s.src, m.end); i >= len(s.src) {
			return i, false
		}
		if s.src[i] == '}' {
			break
		}
		if s.src[i] != ',' {
			return i, false
		}
		i = skipSpace(s.src, i+1)
	}
	members := s.open[first:]
	resource, sorted := false, true
	for k, m := range members {
		resource = resource || m.rank == 0
		sorted = sorted && (k == 0 || members[k-1].rank <= m.rank)
	}
	if resource && !sorted { // then it has two members at least
		lo := len(s.fixMembers)
		s.fixMembers = append(s.fixMembers, members...)
		s.fixes = append(s.fixes, fix{start: start, end: i + 1,
			members: [2]int{lo, len(s.fixMembers)}, sep: [2]int{members[0].end, members[1].start}})
	}
	return i + 1, true
}

// emit appends src[from:to] to out, each fix in it written with its members in rank
// order, joined by the separator its first two had.
func (s *jsonScanner) emit(out []byte, from, to int) []byte {
	for from < to {
		k, _ := slices.BinarySearchFunc(s.fixes, from, func(f fix, pos int) int { return f.start - pos })
		if k == len(s.fixes) || s.fixes[k].end > to {
			break
		}
		f := s.fixes[k]
		out = append(out, s.src[from:f.start]...)
		out = append(out, '{')
		members := s.fixMembers[f.members[0]:f.members[1]]
		written := false
		for rank := 0; rank <= 3; rank++ {
			for _, m := range members {
				if m.rank != rank {
					continue
				}
				if written {
					out = append(out, s.src[f.sep[0]:f.sep[1]]...)
				}
				out = s.emit(out, m.start, m.end)
				written = true
			}
		}
		out = append(out, '}')
		from = f.end
	}
	return append(out, s.src[from:to]...)
}

// stringEnd returns the index just after the string that starts at b[i] == '"'.
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), false
		}
		k += j
		backslashes := 0
		for p := k - 1; p > i && b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return k + 1, true
		}
		j = k + 1
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', '{', '[', '"', ' ', '\n', '\r', '\t':
		return true
	}
	return false
}
