package storage

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestStampResourceMetaNull: "meta": null is stamped like a missing meta (it panicked on
// a nil map, a 500 for the client).
func TestStampResourceMetaNull(t *testing.T) {
	b, err := stampResource([]byte(`{"resourceType":"Patient","meta":null}`), "p1", 1, time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID   string
		Meta struct{ VersionID string }
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.ID != "p1" || doc.Meta.VersionID != "1" {
		t.Errorf("stamped %s (%v)", b, err)
	}
}

// stampFirstVersion, the AuditEvents' shortcut, stamps exactly what stampResource would,
// as JSON; documents it is not meant for (with an id or meta, not an object, not JSON)
// get stampResource's own answer.
func TestStampFirstVersionAsStampResource(t *testing.T) {
	at := time.Date(2026, 11, 30, 16, 25, 47, 37907000, time.FixedZone("CET", 3600))
	for _, doc := range []string{
		`{"resourceType":"AuditEvent","action":"R","entity":[{"what":{"reference":"Patient/p1"}}],"outcome":"0"}`,
		// audit_pending's doc::text, as PostgreSQL writes jsonb
		`{"action": "C", "entity": [{"what": {"reference": "Patient/p1"}}], "resourceType": "AuditEvent"}`,
		"  {\n\"resourceType\":\"AuditEvent\"}\n",
		`{}`,
		`{ }`,
		`{"resourceType":"AuditEvent","id":"given","action":"R"}`,
		`{"resourceType":"AuditEvent","meta":{"tag":[{"code":"x"}]}}`,
		`{"resourceType":"AuditEvent","meta":null}`,
		`{"resourceType":"AuditEvent","entity":[{"what":{"id":"nested","meta":{}}}]}`,
		`{"resourceType":"AuditEvent",}`,
		`{"resourceType":"AuditEvent"`,
		`[]`,
		`"AuditEvent"`,
		``,
	} {
		want, wantErr := stampResource([]byte(doc), "a1", 1, at)
		got, err := stampFirstVersion([]byte(doc), "a1", at)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%s: error %v, stampResource's %v", doc, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Errorf("%s: stamped %s, not JSON: %v", doc, got, err)
			continue
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: stamped\n%s\nstampResource stamps\n%s", doc, got, want)
		}
	}
}

func BenchmarkStampAuditEvent(b *testing.B) {
	doc := []byte(`{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},` +
		`"action":"R","recorded":"2026-11-30T16:25:47.037907692Z","outcome":"0","agent":[{"who":{"identifier":{"system":"urn:careslot:oauth:subject","value":"admin"}},` +
		`"requestor":true,"network":{"address":"127.0.0.1","type":"2"}}],"source":{"site":"careslot","observer":{"display":"careslot"}},` +
		`"entity":[{"what":{"reference":"Patient/123"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}`)
	at := time.Now()
	b.Run("stampResource", func(b *testing.B) {
		for b.Loop() {
			stampResource(doc, "a1", 1, at)
		}
	})
	b.Run("stampFirstVersion", func(b *testing.B) {
		for b.Loop() {
			stampFirstVersion(doc, "a1", at)
		}
	})
}
