package storagetest

import (
	"os"
	"path/filepath"
	"testing"
)

// Golden compares got with the golden file at path, or rewrites the file when update is
// set. rerun is the command that rewrites it (e.g. "go test ./storage -run TestX"),
// named in the failure so a meant change is one command away.
func Golden(t *testing.T, path, got string, update bool, rerun string) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s -update writes it)", err, rerun)
	}
	if got != string(want) {
		t.Errorf("the SQL differs from %s; if the change is meant, %s -update and review the diff.\n--- got:\n%s", path, rerun, got)
	}
}
