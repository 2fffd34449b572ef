package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/buger/jsonparser"
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

// stampFirstVersion is stampResource for version 1 of a document that has neither id
// nor meta, as the AuditEvents the audit makes: both are written in front of its
// elements instead of decoding and encoding the whole document, which cost more than
// the rest of storing an AuditEvent in Go. Any other document goes through stampResource.
func stampFirstVersion(doc []byte, id string, at time.Time) ([]byte, error) {
	d := bytes.TrimSpace(doc)
	if len(d) < 2 || d[0] != '{' || !json.Valid(d) || hasMember(d, "id") || hasMember(d, "meta") {
		return stampResource(doc, id, 1, at)
	}
	quotedID, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	rest := d[1:]
	out := make([]byte, 0, len(d)+len(quotedID)+80)
	out = append(out, `{"id":`...)
	out = append(out, quotedID...)
	out = append(out, `,"meta":{"versionId":"1","lastUpdated":"`...)
	out = at.UTC().AppendFormat(out, LastUpdatedFormat)
	out = append(out, `"}`...)
	if bytes.TrimSpace(rest)[0] != '}' { // not {}: its members follow
		out = append(out, ',')
	}
	return append(out, rest...), nil
}

// hasMember tells whether the JSON object d has a member named key at its top level.
func hasMember(d []byte, key string) bool {
	_, _, _, err := jsonparser.Get(d, key)
	return !errors.Is(err, jsonparser.KeyPathNotFoundError)
}
