package schemadoc_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/careslot/careslot/docs/schemadoc"
)

// TestSchemaDocIsCurrent fails when the migrations changed the schema and docs/schema.md
// was not regenerated.
func TestSchemaDocIsCurrent(t *testing.T) {
	got, err := schemadoc.FromFreshDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../schema.md")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatal("docs/schema.md is not the schema the migrations make: run `make schema-doc` and commit the result")
	}
	for _, table := range []string{"resources {", "resource_versions {", "outbox {"} {
		if !strings.Contains(got, table) {
			t.Errorf("the diagram has no %s", table)
		}
	}
}
