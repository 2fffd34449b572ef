// Command cmd writes docs/schema.md from a freshly migrated database on the test server
// (CARESLOT_TEST_DATABASE_URL, default the local PostgreSQL): make schema-doc.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/careslot/careslot/docs/schemadoc"
)

func main() {
	out := flag.String("out", "docs/schema.md", "where to write the document")
	flag.Parse()
	doc, err := schemadoc.FromFreshDatabase(context.Background())
	if err == nil {
		err = os.WriteFile(*out, []byte(doc), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schema-doc:", err)
		os.Exit(1)
	}
}
