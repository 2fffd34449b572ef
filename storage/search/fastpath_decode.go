package search

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// decodeResource decodes a resource once for the fast path into the values
// encoding/json would give with UseNumber (map[string]any, []any, string, json.Number,
// bool, nil). It is a strict single-pass parser rather than json.Decoder because the
// decoder scans its input twice and extraction is dominated by decoding; and because it
// refuses an object with a repeated key: the engine navigates to the first of two equal
// keys, a map keeps the last, so such a resource is left to the engine. Anything but
// exactly one well-formed JSON object is refused too.
func decodeResource(content []byte) (map[string]any, bool) {
	d := treeDecoder{data: content}
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, false
	}
	v, err := d.value(0)
	if err != nil {
		return nil, false
	}
	d.space()
	if d.pos != len(d.data) {
		return nil, false
	}
	root, ok := v.(map[string]any)
	return root, ok
}

var errRefused = errors.New("search: not decoded by the fast path")

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

type treeDecoder struct {
	data []byte
	pos  int
}

func (d *treeDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *treeDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errRefused
	}
	d.space()
	if d.pos >= len(d.data) {
		return nil, errRefused
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, errRefused
}

func (d *treeDecoder) object(depth int) (any, error) {
	d.pos++ // {
	m := map[string]any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, errRefused
		}
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, errRefused
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, errRefused
		}
		d.pos++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.space()
		if d.pos >= len(d.data) {
			return nil, errRefused
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return m, nil
		default:
			return nil, errRefused
		}
	}
}

func (d *treeDecoder) array(depth int) (any, error) {
	d.pos++ // [
	a := []any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.space()
		if d.pos >= len(d.data) {
			return nil, errRefused
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, errRefused
		}
	}
}

// string reads a JSON string. Plain text (no escape, valid UTF-8) is taken as it is;
// anything else is unquoted by encoding/json itself, so escapes and invalid bytes come
// out exactly as the engine (which unquotes with encoding/json too) sees them.
func (d *treeDecoder) string() (string, error) {
	start := d.pos
	d.pos++ // "
	escaped, ascii := false, true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			raw := d.data[start+1 : d.pos-1]
			if !escaped && (ascii || utf8.Valid(raw)) {
				return string(raw), nil
			}
			var s string
			if json.Unmarshal(d.data[start:d.pos], &s) != nil {
				return "", errRefused
			}
			return s, nil
		case c == '\\':
			escaped = true
			d.pos += 2
		case c < 0x20:
			return "", errRefused
		default:
			if c >= 0x80 {
				ascii = false
			}
			d.pos++
		}
	}
	return "", errRefused
}

func (d *treeDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return errRefused
	}
	d.pos += len(word)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and keeps it as written.
func (d *treeDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos >= len(d.data) {
		return nil, errRefused
	}
	if d.data[d.pos] == '0' {
		d.pos++
	} else if !d.digits() {
		return nil, errRefused
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if !d.digits() {
			return nil, errRefused
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if !d.digits() {
			return nil, errRefused
		}
	}
	return json.Number(d.data[start:d.pos]), nil
}

// digits skips one or more digits; false if there are none.
func (d *treeDecoder) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}
