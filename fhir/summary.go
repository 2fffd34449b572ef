package fhir

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// subsettedTag marks a resource returned with only part of its elements.
var subsettedTag = map[string]string{
	"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"code":   "SUBSETTED",
}

// summarize applies _elements and _summary (text, data, false) to one resource.
// _summary=true needs the isSummary flags of the StructureDefinitions, which careslot
// does not ship, so it is refused rather than answered wrongly.
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
		keep = func(k string) bool { return k == "text" }
	case "data":
		keep = func(k string) bool { return k != "text" }
	case "true":
		return nil, errorf(http.StatusBadRequest, fhirerr.CodeNotSupported, "_summary=true is not supported; use _elements to choose elements")
	default:
		return nil, errorf(http.StatusBadRequest, fhirerr.CodeInvalid, "_summary must be one of true, text, data, count or false")
	}
	if elements != "" && summary == "" {
		wanted := map[string]bool{}
		for _, e := range strings.Split(elements, ",") {
			e = strings.TrimSpace(e)
			if i := strings.IndexByte(e, '.'); i >= 0 {
				e = e[i+1:] // Type.element names the element of that type
			}
			wanted[e] = true
		}
		keep = func(k string) bool { return wanted[k] }
	}
	out := map[string]json.RawMessage{}
	for k, v := range doc {
		if k == "resourceType" || k == "id" || k == "meta" || keep(k) {
			out[k] = v
		}
	}
	meta := map[string]any{}
	if raw, ok := out["meta"]; ok {
		json.Unmarshal(raw, &meta)
	}
	tags, _ := meta["tag"].([]any)
	meta["tag"] = append(tags, subsettedTag)
	out["meta"] = marshal(meta)
	return marshal(out), nil
}
