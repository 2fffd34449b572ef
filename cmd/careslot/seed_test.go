package main

import (
	"context"
	"io"
	"log/slog"
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
}
