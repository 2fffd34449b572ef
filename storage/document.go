package storage

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// LastUpdatedFormat is how meta.lastUpdated is written: an R4 instant in UTC.
const LastUpdatedFormat = "2006-01-02T15:04:05.999999Z07:00"

// stampResource sets id, meta.versionId and meta.lastUpdated on a resource's JSON,
// keeping every other element (including the rest of meta) as it was.
func stampResource(body []byte, id string, version int, lastUpdated time.Time) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fhirerr.Invalid("resource is not a JSON object: " + err.Error())
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := doc["meta"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fhirerr.Invalid("meta is not a JSON object", "meta")
		}
	}
	if meta == nil { // "meta": null unmarshals to a nil map
		meta = map[string]json.RawMessage{}
	}
	meta["versionId"], _ = json.Marshal(fmt.Sprint(version))
	meta["lastUpdated"], _ = json.Marshal(lastUpdated.UTC().Format(LastUpdatedFormat))
	doc["meta"], _ = json.Marshal(meta)
	doc["id"], _ = json.Marshal(id)
	return json.Marshal(doc)
}
