package fhir

import (
	_ "embed"
	"encoding/json"
	"net/http"
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
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(content, &doc); err != nil {
		return nil, err
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
	out := map[string]json.RawMessage{}
	for k, v := range doc {
		// A primitive's id and extensions are its JSON sibling _name: they go with it.
		name := strings.TrimPrefix(k, "_")
		if k == "resourceType" || name == "id" || name == "meta" || keep(name) {
			out[k] = v
		}
	}
	// Only meta.tag changes; every other meta element is kept byte for byte (decimals in
	// extensions keep their exact form).
	meta := map[string]json.RawMessage{}
	if raw, ok := out["meta"]; ok {
		json.Unmarshal(raw, &meta)
	}
	var tags []json.RawMessage
	json.Unmarshal(meta["tag"], &tags)
	meta["tag"] = marshal(append(tags, marshal(subsettedTag)))
	out["meta"] = marshal(meta)
	return marshal(out), nil
}

func resourceType(doc map[string]json.RawMessage) string {
	var t string
	json.Unmarshal(doc["resourceType"], &t)
	return t
}
