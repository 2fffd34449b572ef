package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedDefinitionsAreGenerated: definitions.json is what gendefs makes from the
// vendored R4 definitions, so the generator runs from the repository alone and nobody
// edits its output by hand.
func TestCommittedDefinitionsAreGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "definitions.json")
	if err := run("r4-definitions", out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../definitions.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Error("storage/search/definitions.json differs from what gendefs makes of r4-definitions/; run go generate ./storage/search")
	}
}
