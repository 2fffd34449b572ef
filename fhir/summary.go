package fhir

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
)

//go:generate sh -c "cd .. && make summary-elements"

// summaryElementsJSON lists, per resource type, the top-level elements the R4
// StructureDefinitions mark isSummary and those that are mandatory; made by gensummary.
//
//go:embed summary_elements.json
var summaryElementsJSON []byte

// summaryElements is summaryElementsJSON decoded once.
var summaryElements = func() map[string]struct{ Summary, Mandatory []string } {
	var m map[string]struct{ Summary, Mandatory []string }
	if err := json.Unmarshal(summaryElementsJSON, &m); err != nil {
		panic("fhir: summary_elements.json: " + err.Error())
	}
	return m
}()

// elementIn reports whether the JSON key k is one of the named elements; a choice
// element deceased[x] names deceasedBoolean, deceasedDateTime, …
func elementIn(k string, names []string) bool {
	for _, n := range names {
		if n == k {
			return true
		}
		if prefix, ok := strings.CutSuffix(n, "[x]"); ok && len(k) > len(prefix) && strings.HasPrefix(k, prefix) &&
			k[len(prefix)] >= 'A' && k[len(prefix)] <= 'Z' {
			return true
		}
	}
	return false
}

// subsettedTag marks a resource returned with only part of its elements.
var subsettedTag = map[string]string{
	"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"code":   "SUBSETTED",
}

// summarize applies _elements and _summary (true, text, data, false) to one resource.
func summarize(r *http.Request, content []byte) ([]byte, error) {
	q := r.URL.Query()
	summary, elements := q.Get("_summary"), q.Get("_elements")
	if (summary == "" || summary == "false") && elements == "" {
		return content, nil
	}
	members, err := objectMembers(content)
	if err != nil {
		return nil, err
	}
	doc := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		doc[m.key] = m.value
	}
	keep := func(k string) bool { return true }
	switch summary {
	case "", "false":
	case "text":
		// The narrative, and the mandatory elements so the resource stays valid.
		mandatory := summaryElements[resourceType(doc)].Mandatory
		keep = func(k string) bool { return k == "text" || elementIn(k, mandatory) }
	case "data":
		keep = func(k string) bool { return k != "text" }
	case "true":
		summary := summaryElements[resourceType(doc)].Summary
		keep = func(k string) bool { return elementIn(k, summary) }
	default:
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "_summary must be one of true, text, data, count or false")
	}
	if elements != "" && (summary == "" || summary == "false") {
		wanted := map[string]bool{}
		for _, e := range strings.Split(elements, ",") {
			e = strings.TrimSpace(e)
			if i := strings.IndexByte(e, '.'); i >= 0 {
				e = e[i+1:] // Type.element names the element of that type
			}
			wanted[e] = true
		}
		// Mandatory elements too, as R4 says servers should, so the answer stays valid.
		mandatory := summaryElements[resourceType(doc)].Mandatory
		keep = func(k string) bool { return wanted[k] || elementIn(k, mandatory) }
	}
	// Only meta.tag changes; every other meta element is kept byte for byte (decimals in
	// extensions keep their exact form).
	meta := map[string]json.RawMessage{}
	if raw, ok := doc["meta"]; ok {
		json.Unmarshal(raw, &meta)
	}
	var tags []json.RawMessage
	json.Unmarshal(meta["tag"], &tags)
	meta["tag"] = marshal(append(tags, marshal(subsettedTag)))
	doc["meta"] = marshal(meta)
	if !slices.ContainsFunc(members, func(m objectMember) bool { return m.key == "meta" }) {
		members = append(members, objectMember{key: "meta"})
	}
	// The kept members in their stored order (writeJSON puts resourceType, id and meta first).
	var out bytes.Buffer
	out.WriteByte('{')
	for _, m := range members {
		// A primitive's id and extensions are its JSON sibling _name: they go with it.
		name := strings.TrimPrefix(m.key, "_")
		if m.key == "resourceType" || name == "id" || name == "meta" || keep(name) {
			if out.Len() > 1 {
				out.WriteByte(',')
			}
			out.Write(marshal(m.key))
			out.WriteByte(':')
			out.Write(doc[m.key])
		}
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// objectMember is one member of a JSON object.
type objectMember struct {
	key   string
	value json.RawMessage
}

// objectMembers returns the members of the JSON object b in the order they are written.
func objectMembers(b []byte) ([]objectMember, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("fhir: a resource is not a JSON object")
	}
	var members []objectMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		members = append(members, objectMember{key: key, value: value})
	}
	return members, nil
}

func resourceType(doc map[string]json.RawMessage) string {
	var t string
	json.Unmarshal(doc["resourceType"], &t)
	return t
}
