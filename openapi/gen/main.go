// Command gen writes careslot's OpenAPI document (openapi/openapi.json) from what the
// server serves: go run ./openapi/gen, or make openapi.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/careslot/careslot/openapi/spec"
)

func main() {
	out := flag.String("out", "openapi/openapi.json", "where to write the document")
	flag.Parse()
	doc, err := spec.Build()
	if err == nil {
		err = os.WriteFile(*out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}
