package r4examples

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vendoredDigest is the SHA-256 of every vendored file's name and content, in name
// order: the set is the official one, unmodified and complete.
const vendoredDigest = "fe27f325384eef969284afe9c8744cea440e3c6db7ec973f38b8901ef9d39476"

func TestVendoredSetIsComplete(t *testing.T) {
	t.Setenv(EnvDir, "")
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != Count {
		t.Fatalf("%d vendored examples, want %d", len(all), Count)
	}
	h := sha256.New()
	seen := map[string]string{}
	for _, e := range all {
		if e.Type == "" || e.ID == "" {
			t.Errorf("%s: no resourceType or id", e.File)
		}
		if other, dup := seen[e.Type+"/"+e.ID]; dup {
			t.Errorf("%s and %s are both %s/%s", other, e.File, e.Type, e.ID)
		}
		seen[e.Type+"/"+e.ID] = e.File
		h.Write([]byte(e.File + "\x00"))
		h.Write(e.Body)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != vendoredDigest {
		t.Errorf("the vendored examples changed: digest %s, want %s; they are the official ones, unmodified (SOURCES.md)", got, vendoredDigest)
	}
	if _, err := Read("Patient-example.json"); err != nil {
		t.Error(err)
	}
}

func TestOverrideFolder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	if _, err := All(); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("an empty override folder gave %v, want an error naming it", err)
	}
	body := []byte(`{"resourceType":"Patient","id":"one"}`)
	if err := os.WriteFile(filepath.Join(dir, "Patient-one.json"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	all, err := All()
	if err != nil || len(all) != 1 || all[0].Type != "Patient" || all[0].ID != "one" || all[0].File != "Patient-one.json" {
		t.Fatalf("All() = %+v, %v; want the one Patient of the override folder", all, err)
	}
	if _, err := Read("Patient-example.json"); err == nil {
		t.Error("Read found an example missing from the override folder")
	}
}
