package fhir

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/careslot/careslot/storage"
)

// localizeReferences rewrites every Reference.reference that is an absolute URL under
// this server's base (http://host/fhir/Patient/p1) to the relative Type/id it names, so
// that the rules every reference is held to (it must exist; bookings, coverage, slot
// owners) apply to it as to a relative one. Other absolute URLs are kept as they are.
func (s *Server) localizeReferences(body []byte) []byte {
	prefix := s.cfg.BaseURL + "/"
	if !bytes.Contains(body, []byte(prefix)) {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep decimals exactly as sent
	var doc any
	if dec.Decode(&doc) != nil {
		return body // validated already; cannot happen
	}
	if !localizeValue(doc, prefix) {
		return body
	}
	return marshal(doc)
}

// localizeValue rewrites the references under v in place and reports whether it changed any.
func localizeValue(v any, prefix string) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if ref, ok := child.(string); ok && k == "reference" {
				if rest, under := strings.CutPrefix(ref, prefix); under {
					if _, _, ok := storage.ParseReference(rest); ok {
						v[k] = rest
						changed = true
					}
				}
				continue
			}
			changed = localizeValue(child, prefix) || changed
		}
	case []any:
		for _, child := range v {
			changed = localizeValue(child, prefix) || changed
		}
	}
	return changed
}
