package search

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeResourceMatchesEncodingJSON: the fast path's decoder gives what encoding/json
// with UseNumber gives, on every official example.
func TestDecodeResourceMatchesEncodingJSON(t *testing.T) {
	for _, e := range allExamples(t) {
		b := e.Body
		got, ok := decodeResource(b)
		if !ok {
			t.Errorf("%s: refused", e.File)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded differently from encoding/json", e.File)
		}
	}
}

func TestDecodeResourceCases(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]any // nil: refused
	}{
		{`{}`, map[string]any{}},
		{` {"a" : [1, -0.5e+3, true, false, null, {}, []] } `, map[string]any{"a": []any{json.Number("1"), json.Number("-0.5e+3"), true, false, nil, map[string]any{}, []any{}}}},
		{`{"s":"\u00e9\"\\\/\b\f\n\r\t\ud83d\ude00 é"}`, map[string]any{"s": "é\"\\/\b\f\n\r\t😀 é"}},
		{"{\"s\":\"\xff\"}", map[string]any{"s": "\ufffd"}},
		{`{"s":"\ud800"}`, map[string]any{"s": "\ufffd"}},
		{`{"a":1,"a":2}`, nil},         // repeated key: the engine reads the first
		{`{"a":{"b":1,"b":1}}`, nil},   // also when nested
		{`{"a":1} {"b":2}`, nil},       // trailing data
		{`{"a":1,}`, nil},              // trailing comma
		{`{"a":01}`, nil},              // leading zero
		{`{"a":-}`, nil},               // bare minus
		{`{"a":1.}`, nil},              // no fraction digits
		{`{"a":1e}`, nil},              // no exponent digits
		{`{"a":"x` + "\n" + `"}`, nil}, // control character in a string
		{`{"a":"\x"}`, nil},            // bad escape
		{`{"a":"\u12"}`, nil},          // short \u escape
		{`{"a":tru}`, nil},             // bad literal
		{`{"a" 1}`, nil},               // no colon
		{`{a:1}`, nil},                 // unquoted key
		{`["a"]`, nil},                 // not an object
		{`{"a":[1 2]}`, nil},           // no comma
		{`{"a":"unterminated}`, nil},   // unterminated string
		{``, nil},                      // empty
	} {
		got, ok := decodeResource([]byte(c.in))
		if c.want == nil {
			if ok {
				t.Errorf("%q: decoded as %v, want refused", c.in, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %#v (%v), want %#v", c.in, got, ok, c.want)
		}
	}
}
