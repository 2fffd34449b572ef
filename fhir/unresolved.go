package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// checkUnresolved refuses a transaction whose entry refers to a urn:uuid: or urn:oid:
// that no entry's fullUrl names (run after rewriteEntries, which replaced those that do).
// Stored as it was, such a reference points nowhere; the spec has the transaction fail.
func checkUnresolved(entries []BundleEntry) error {
	for i, e := range entries {
		if !bytes.Contains(e.Resource, []byte(`"urn:uuid:`)) && !bytes.Contains(e.Resource, []byte(`"urn:oid:`)) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(e.Resource))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) != nil {
			continue // the entry's own validation says what is wrong
		}
		at := fmt.Sprintf("Bundle.entry[%d].resource", i)
		if path, ref := unresolvedIn(doc, at); path != "" {
			return fhirerr.Unprocessable(fhirerr.CodeNotFound,
				fmt.Sprintf("entry %d refers to %s, which is the fullUrl of no entry of this transaction", i, ref), path)
		}
	}
	return nil
}

// unresolvedIn returns the path and value of the first reference in v to a urn:uuid: or urn:oid:.
func unresolvedIn(v any, path string) (string, string) {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["reference"].(string); ok && (strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:")) {
			return path + ".reference", ref
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same answer each time
		for _, k := range keys {
			if p, ref := unresolvedIn(v[k], path+"."+k); p != "" {
				return p, ref
			}
		}
	case []any:
		for i, child := range v {
			if p, ref := unresolvedIn(child, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p, ref
			}
		}
	}
	return "", ""
}
