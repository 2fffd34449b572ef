package storage

import (
	"encoding/json"
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
