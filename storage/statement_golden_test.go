package storage

import (
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the statements the code makes now")

// TestWriteStatementGolden pins the one statement of each kind of write in
// testdata/statements/<name>.sql, so that a change shows in review as a diff of SQL.
func TestWriteStatementGolden(t *testing.T) {
	at := time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)
	patient := `{"resourceType":"Patient","name":[{"family":"Smith","given":["Ann"]}],"gender":"female","birthDate":"1974-12-25",
		"identifier":[{"system":"http://example.org/mrn","value":"123"}],"managingOrganization":{"reference":"Organization/o1"},
		"generalPractitioner":[{"reference":"Practitioner/d1"},{"reference":"Organization/o1"}]}`
	appointment := `{"resourceType":"Appointment","status":"booked","start":"2030-01-07T09:00:00Z","end":"2030-01-07T09:30:00Z",
		"slot":[{"reference":"Slot/s1"}],"participant":[{"actor":{"reference":"Patient/p1"},"status":"accepted"},
		{"actor":{"reference":"Practitioner/d1"},"status":"accepted"}]}`
	cases := []struct {
		name, typ, id, body string
		rid                 int64 // 0: a create
		version             int
		method              string
	}{
		{"create-patient", "Patient", "p1", patient, 0, 1, http.MethodPost},
		{"update-patient", "Patient", "p1", patient, 7, 2, http.MethodPut},
		{"create-appointment", "Appointment", "a1", appointment, 0, 1, http.MethodPost},
		{"create-unindexed", "Basic", "b1", `{"resourceType":"Basic","code":{"text":"x"}}`, 0, 1, http.MethodPost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			content, err := stampResource([]byte(tc.body), tc.id, tc.version, at)
			if err != nil {
				t.Fatal(err)
			}
			links, err := ExtractLinks(tc.typ, content)
			if err != nil {
				t.Fatal(err)
			}
			r := &Resource{RID: tc.rid, Type: tc.typ, ID: tc.id, VersionID: tc.version, LastUpdated: at, Content: content}
			action := "create"
			if tc.rid != 0 {
				action = "update"
			}
			st, sql, _ := writeStatement(r, tc.rid == 0, tc.method, action, links)
			checkStatement(t, tc.name, statementText(sql, st.args))
		})
	}
	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		st, sql := deleteStatement(&Resource{RID: 7, Type: "Patient", ID: "p1", VersionID: 3, LastUpdated: at, Deleted: true})
		checkStatement(t, "delete", statementText(sql, st.args))
	})
}

// statementText is a statement and its arguments, one a line.
func statementText(sql string, args []any) string {
	var b strings.Builder
	b.WriteString(sql + "\n")
	for i, a := range args {
		switch v := a.(type) {
		case []byte:
			a = string(v)
		case time.Time:
			a = v.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(&b, "-- $%d = %#v\n", i+1, a)
	}
	return b.String()
}

// checkStatement compares got with testdata/statements/<name>.sql (-update rewrites it).
func checkStatement(t *testing.T, name, got string) {
	t.Helper()
	storagetest.Golden(t, filepath.Join("testdata", "statements", name+".sql"), got, *update, "go test ./storage -run TestWriteStatementGolden")
}
