package fhir_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/r4examples"
)

func TestOrderResources(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"a stored resource, as jsonb prints it",
			`{"id": "x", "meta": {"versionId": "1"}, "name": [{"id": "n1", "family": "A"}], "gender": "male", "resourceType": "Patient"}`,
			`{"resourceType": "Patient", "id": "x", "meta": {"versionId": "1"}, "name": [{"id": "n1", "family": "A"}], "gender": "male"}`},
		{"contained resources too; an element's id stays where it is",
			`{"id":"a","contained":[{"id":"c","name":[{"family":"B"}],"resourceType":"Practitioner"}],"resourceType":"Patient","extension":[{"url":"u","valueString":"v","id":"e"}]}`,
			`{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Practitioner","id":"c","name":[{"family":"B"}]}],"extension":[{"url":"u","valueString":"v","id":"e"}]}`},
		{"Bundle entries",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"u","resource":{"meta":{},"id":"p","resourceType":"Patient"}},{"resource":{"resourceType":"Slot","id":"s"}}]}`,
			`{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"u","resource":{"resourceType":"Patient","id":"p","meta":{}}},{"resource":{"resourceType":"Slot","id":"s"}}]}`},
		{"a resource inside a resource that is out of order",
			`{"id":"b","entry":[{"resource":{"id":"p","resourceType":"Patient"}}],"resourceType":"Bundle"}`,
			`{"resourceType":"Bundle","id":"b","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`},
		{"meta without id",
			`{"active":true,"meta":{"tag":[]},"resourceType":"Patient"}`,
			`{"resourceType":"Patient","meta":{"tag":[]},"active":true}`},
		{"strings with quotes, backslashes and braces",
			`{"text":{"div":"<div>a \"}\" b\\</div>"},"x":"\\\"","resourceType":"Basic"}`,
			`{"resourceType":"Basic","text":{"div":"<div>a \"}\" b\\</div>"},"x":"\\\""}`},
		{"numbers, literals, empty objects and arrays, spaces",
			`{ "valueQuantity" : { "value" : -1.50E+3 } , "x" : [ true , false , null , 0 ] , "a" : { } , "b" : [ ] , "resourceType" : "Observation" }`,
			`{"resourceType" : "Observation" , "valueQuantity" : { "value" : -1.50E+3 } , "x" : [ true , false , null , 0 ] , "a" : { } , "b" : [ ]}`},
		{"an object without resourceType keeps its order",
			`{"resourceType":"Parameters","parameter":[{"name":"n","resource":{"id":"r","resourceType":"Patient"}},{"value":"resourceType","name":"m"}]}`,
			`{"resourceType":"Parameters","parameter":[{"name":"n","resource":{"resourceType":"Patient","id":"r"}},{"value":"resourceType","name":"m"}]}`},
		{"in order already: unchanged, byte for byte", `{"resourceType": "Patient", "id": "x", "b": 1}`, `{"resourceType": "Patient", "id": "x", "b": 1}`},
		{"no resource at all: unchanged", `{"b": 1, "a": [2]}`, `{"b": 1, "a": [2]}`},
		{"not JSON: unchanged", `{"id": "x", "resourceType": "Patient"`, `{"id": "x", "resourceType": "Patient"`},
		{"trailing garbage: unchanged", `{"id":"x","resourceType":"Patient"} x`, `{"id":"x","resourceType":"Patient"} x`},
		{"an unterminated string: unchanged", `{"id":"x","resourceType":"Patient","a":"\"}`, `{"id":"x","resourceType":"Patient","a":"\"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(fhir.OrderResources([]byte(c.in))); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// FuzzOrderResources: for any well-formed JSON the answer means the same, every resource
// in it starts with resourceType, id and meta, and ordering it again changes nothing;
// nothing panics.
func FuzzOrderResources(f *testing.F) {
	for _, s := range []string{
		`{"id": "x", "meta": {"versionId": "1"}, "resourceType": "Patient"}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"id":"p","contained":[{"id":"c","resourceType":"Basic"}],"resourceType":"Patient"}}]}`,
		`{"a":"\\\"}","resourceType":"Basic","id":"\u00e9"}`,
		`[{"resourceType":1,"id":2,"meta":3,"id":4}]`,
		`"resourceType"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := fhir.OrderResources(in)
		if !json.Valid(in) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("made invalid JSON: %s -> %s", in, out)
		}
		if again := fhir.OrderResources(out); !bytes.Equal(again, out) {
			t.Fatalf("ordering twice changed it again: %s -> %s -> %s", in, out, again)
		}
		want, got := decodeNumbers(t, in), decodeNumbers(t, out)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("means something else:\n in %s\nout %s", in, out)
		}
		if err := resourceOrderError(out); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	})
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// resourceOrderError says where a JSON answer has a resource (an object with a
// resourceType member) that does not start with resourceType, then id and meta when
// present; nil when every one does.
func resourceOrderError(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := checkOrder(dec, "$")
	if errors.Is(err, io.EOF) {
		return errors.New("truncated JSON")
	}
	return err
}

// checkOrder reads one value from dec, checking the key order of every object in it.
func checkOrder(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkOrder(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('{'):
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			keys = append(keys, k.(string))
			if err := checkOrder(dec, path+"."+k.(string)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if !slices.Contains(keys, "resourceType") {
			return nil
		}
		// resourceType, id, meta, then the others: the ranks never go down.
		rank := func(k string) int {
			if i := slices.Index([]string{"resourceType", "id", "meta"}, k); i >= 0 {
				return i
			}
			return 3
		}
		for i := 1; i < len(keys); i++ {
			if rank(keys[i-1]) > rank(keys[i]) {
				return fmt.Errorf("%s: the resource's members are %s; want resourceType, id and meta first", path, strings.Join(keys, ","))
			}
		}
	}
	return nil
}

// topKeys lists the members of a JSON object in the order they are written.
func topKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %.200s", body)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestAnswersStartWithResourceType: every kind of answer that carries resources puts
// resourceType, id and meta first in each, the others in their stored order.
func TestAnswersStartWithResourceType(t *testing.T) {
	const id = "order-1"
	body := `{"resourceType":"Patient","id":"` + id + `","meta":{"tag":[{"system":"http://example.org/tags","code":"t"}]},` +
		`"contained":[{"resourceType":"Practitioner","id":"gp","name":[{"family":"Careful"}]}],` +
		`"generalPractitioner":[{"reference":"#gp"}],"name":[{"family":"Order","given":["Ada"]}],"gender":"female","birthDate":"1990-01-02"}`
	put := srv.Must(t, http.StatusCreated, "PUT", "Patient/"+id, body)
	srv.Must(t, http.StatusOK, "PUT", "Patient/"+id, strings.Replace(body, `"female"`, `"other"`, 1))

	check := func(what string, r *apptest.Response) {
		t.Helper()
		if err := resourceOrderError(r.Body); err != nil {
			t.Errorf("%s: %v\n%s", what, err, r.Body)
		}
	}
	check("create", put)
	read := srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil)
	check("read", read)
	// PostgreSQL's jsonb keeps the other members shortest key first; they stay so.
	if got, want := topKeys(t, read.Body), []string{"resourceType", "id", "meta", "name", "gender", "birthDate", "contained", "generalPractitioner"}; !slices.Equal(got, want) {
		t.Errorf("read: members %v, want %v", got, want)
	}
	if !bytes.HasPrefix(read.Body, []byte(`{"resourceType":`)) {
		t.Errorf("read does not start with resourceType: %.100s", read.Body)
	}
	check("vread", srv.Must(t, http.StatusOK, "GET", "Patient/"+id+"/_history/1", nil))
	check("read, _pretty", srv.Must(t, http.StatusOK, "GET", "Patient/"+id+"?_pretty=true", nil))
	check("read, _summary=true", srv.Must(t, http.StatusOK, "GET", "Patient/"+id+"?_summary=true", nil))
	elements := srv.Must(t, http.StatusOK, "GET", "Patient/"+id+"?_elements=name,gender,contained", nil)
	check("read, _elements", elements)
	if got, want := topKeys(t, elements.Body), []string{"resourceType", "id", "meta", "name", "gender", "contained"}; !slices.Equal(got, want) {
		t.Errorf("read, _elements: members %v, want %v", got, want)
	}
	check("search", srv.Must(t, http.StatusOK, "GET", "Patient?_id="+id, nil))
	check("search, _summary=data", srv.Must(t, http.StatusOK, "GET", "Patient?_id="+id+"&_summary=data", nil))
	check("history", srv.Must(t, http.StatusOK, "GET", "Patient/"+id+"/_history", nil))
	check("type history", srv.Must(t, http.StatusOK, "GET", "Patient/_history?_count=5", nil))
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":{"resourceType":"Basic","id":"order-b","code":{"text":"b"}},"request":{"method":"PUT","url":"Basic/order-b"}},` +
		`{"request":{"method":"GET","url":"Patient/` + id + `"}}]}`
	check("batch GET", srv.Must(t, http.StatusOK, "POST", "", strings.Replace(tx, `"transaction"`, `"batch"`, 1)))
	check("transaction", srv.Must(t, http.StatusOK, "POST", "", strings.Replace(tx, `,{"request":{"method":"GET","url":"Patient/`+id+`"}}`, "", 1)))
	check("an OperationOutcome", srv.Must(t, http.StatusNotFound, "GET", "Patient/order-none", nil))
}

// BenchmarkOrderResources measures what putting resourceType first costs a read: one
// pass over a stored Patient, its keys in another order, against copying its bytes.
func BenchmarkOrderResources(b *testing.B) {
	example, err := r4examples.Read("Patient-example.json")
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(example, &doc); err != nil {
		b.Fatal(err)
	}
	stored, _ := json.Marshal(doc) // keys sorted: resourceType comes late, as from jsonb
	b.Run("order", func(b *testing.B) {
		b.SetBytes(int64(len(stored)))
		b.ReportAllocs()
		for b.Loop() {
			fhir.OrderResources(stored)
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(stored)))
		b.ReportAllocs()
		for b.Loop() {
			_ = bytes.Clone(stored)
		}
	})
}
