package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

func TestSeedDemoClinic(t *testing.T) {
	srv := apptest.New(t) // the insurance rule is on: every seeded booking has coverage
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Now().UTC()
	if err := seedDemoClinic(context.Background(), srv.FHIR.Handler(), now, log); err != nil {
		t.Fatal(err)
	}
	count := func(typ string) map[string]int {
		t.Helper()
		rows, err := srv.DB.Query(context.Background(),
			`SELECT coalesce(content->>'status', ''), count(*) FROM resources WHERE type = $1 AND NOT deleted GROUP BY 1`, typ)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var s string
			var n int
			rows.Scan(&s, &n)
			out[s] += n
			out["*"] += n
		}
		return out
	}
	for typ, want := range map[string]int{"Practitioner": 8, "PractitionerRole": 8, "Schedule": 8, "Patient": 20, "Coverage": 20, "Organization": 3} {
		if got := count(typ)["*"]; got != want {
			t.Errorf("%d %s, want %d", got, typ, want)
		}
	}
	appts := count("Appointment")
	for _, status := range []string{"booked", "fulfilled", "cancelled", "noshow", "pending", "proposed"} {
		if appts[status] == 0 {
			t.Errorf("no %s appointment among %v", status, appts)
		}
	}
	if slots := count("Slot"); slots["free"] < 500 || slots["busy"] == 0 {
		t.Errorf("slots %v", slots)
	}
	checkVisitRecords(t, srv, appts["fulfilled"])
	// Seeding again changes nothing but versions.
	before := count("Slot")["*"]
	if err := seedDemoClinic(context.Background(), srv.FHIR.Handler(), now, log); err != nil {
		t.Fatal(err)
	}
	if after := count("Slot")["*"]; after != before {
		t.Errorf("second seed: %d slots, was %d", after, before)
	}
	if got := count("Appointment")["*"]; got != appts["*"] {
		t.Errorf("second seed: %d appointments, was %d", got, appts["*"])
	}
	checkVisitRecords(t, srv, appts["fulfilled"])
}

// checkVisitRecords checks that each fulfilled appointment's Encounter has a visit note
// whose Binary reads back as text, a diagnosis, a prescription and a lab result, all
// about the appointment's patient, reached from the appointment in one search.
func checkVisitRecords(t *testing.T, srv *apptest.Server, fulfilled int) {
	t.Helper()
	if fulfilled == 0 {
		t.Fatal("no fulfilled appointment to have records")
	}
	b := srv.Must(t, http.StatusOK, "GET", "Appointment?status=fulfilled&_count=100", nil).JSON(t)
	entries := b["entry"].([]any)
	if len(entries) != fulfilled {
		t.Fatalf("%d fulfilled appointments found, want %d", len(entries), fulfilled)
	}
	for _, e := range entries {
		appt := e.(map[string]any)["resource"].(map[string]any)
		var patient string
		for _, p := range appt["participant"].([]any) {
			if ref := p.(map[string]any)["actor"].(map[string]any)["reference"].(string); strings.HasPrefix(ref, "Patient/") {
				patient = ref
			}
		}
		q := "Encounter?appointment=Appointment/" + appt["id"].(string) + "&_revinclude=Condition:encounter&_revinclude=MedicationRequest:encounter" +
			"&_revinclude=Observation:encounter&_revinclude=DocumentReference:encounter"
		found := map[string]map[string]any{}
		for _, e := range srv.Must(t, http.StatusOK, "GET", q, nil).JSON(t)["entry"].([]any) {
			r := e.(map[string]any)["resource"].(map[string]any)
			if _, dup := found[r["resourceType"].(string)]; dup {
				t.Errorf("Appointment/%s: two %s", appt["id"], r["resourceType"])
			}
			found[r["resourceType"].(string)] = r
		}
		for _, typ := range []string{"Encounter", "Condition", "MedicationRequest", "Observation", "DocumentReference"} {
			r := found[typ]
			if r == nil {
				t.Errorf("Appointment/%s has no %s", appt["id"], typ)
				continue
			}
			if got := fmt.Sprint(r["subject"].(map[string]any)["reference"]); got != patient {
				t.Errorf("%s/%s is about %s, the appointment about %s", typ, r["id"], got, patient)
			}
		}
		doc := found["DocumentReference"]
		if doc == nil {
			continue
		}
		att := doc["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
		bin := srv.Must(t, http.StatusOK, "GET", att["url"].(string), nil)
		if ct := bin.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(string(bin.Body), "Visit note") {
			t.Errorf("%s: %s %q", att["url"], ct, bin.Body)
		}
		if att["hash"] == nil || att["size"] == nil {
			t.Errorf("the note's attachment has no size or hash: %v", att)
		}
		// The patient's whole record holds the visit's records.
		everything := string(srv.Must(t, http.StatusOK, "GET", patient+"/$everything?_count=1000", nil).Body)
		for _, r := range found {
			if !strings.Contains(everything, `"fullUrl":"`+srv.URL+"/"+fmt.Sprint(r["resourceType"], "/", r["id"])+`"`) {
				t.Errorf("%s/$everything lacks %s/%s", patient, r["resourceType"], r["id"])
			}
		}
	}
}
