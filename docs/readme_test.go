// Package docs holds careslot's documentation; its test keeps the README's configuration
// tables complete.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every environment variable the code reads (a string literal naming one) is in the
// README's configuration tables.
func TestReadmeNamesEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	variable := regexp.MustCompile(`"((?:CARESLOT_[A-Z0-9_]+)|DATABASE_URL|AMQP_URL)"`)
	found := map[string]string{}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "tools" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range variable.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 20 {
		t.Fatalf("found only %d variables in the code: %v", len(found), found)
	}
	for name, path := range found {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("%s (read in %s) is not in the README's configuration tables", name, path)
		}
	}
}
