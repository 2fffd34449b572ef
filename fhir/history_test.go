package fhir_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHistoryAtMeansCurrentThen: _at keeps the versions that were current at some point
// during the period its value denotes (R4 http.html#history), not every older version.
func TestHistoryAtMeansCurrentThen(t *testing.T) {
	lastUpdated := func(r map[string]any) time.Time {
		meta := r["meta"].(map[string]any)
		lu, err := time.Parse(time.RFC3339Nano, meta["lastUpdated"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return lu
	}
	v1 := lastUpdated(srv.Must(t, http.StatusCreated, "PUT", "Patient/at-1", patient("at-1")).JSON(t))
	time.Sleep(20 * time.Millisecond)
	v2 := lastUpdated(srv.Must(t, http.StatusOK, "PUT", "Patient/at-1", patient("at-1")).JSON(t))
	time.Sleep(20 * time.Millisecond)
	srv.Must(t, http.StatusOK, "PUT", "Patient/at-1", patient("at-1"))

	versionsAt := func(at string) []string {
		b := srv.Must(t, http.StatusOK, "GET", "Patient/at-1/_history?_at="+url.QueryEscape(at), nil).JSON(t)
		var out []string
		for _, e := range entries(t, b) {
			out = append(out, e["response"].(map[string]any)["etag"].(string))
		}
		return out
	}
	between := v2.Add(5 * time.Millisecond).Format(time.RFC3339Nano)
	if got := versionsAt(between); len(got) != 1 || got[0] != `W/"2"` {
		t.Errorf("_at=%s (while version 2 was current): %v, want [W/\"2\"]", between, got)
	}
	if got := versionsAt(v2.Format(time.RFC3339Nano)); len(got) != 1 || got[0] != `W/"2"` {
		t.Errorf("_at the instant version 2 was written: %v, want [W/\"2\"]", got)
	}
	before := v1.Add(-time.Hour).Format(time.RFC3339Nano)
	if got := versionsAt(before); len(got) != 0 {
		t.Errorf("_at before the resource existed: %v, want none", got)
	}
	// A date is the whole day: every version written that day was current during it.
	if got := versionsAt(v1.Format("2006-01-02")); len(got) != 3 && v1.Day() == time.Now().UTC().Day() {
		t.Errorf("_at=%s (the day of every version): %v, want 3 versions", v1.Format("2006-01-02"), got)
	}
}

// TestHistoryRecreateIsCreated: the history entry of a PUT that brought a deleted
// resource back says 201, as the PUT itself answered.
func TestHistoryRecreateIsCreated(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/recreated", patient("recreated"))
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/recreated", nil)
	srv.Must(t, http.StatusCreated, "PUT", "Patient/recreated", patient("recreated"))
	srv.Must(t, http.StatusOK, "PUT", "Patient/recreated", patient("recreated"))
	var got []string
	for _, e := range entries(t, srv.Must(t, http.StatusOK, "GET", "Patient/recreated/_history", nil).JSON(t)) {
		got = append(got, status(e))
	}
	want := []string{"200 OK", "201 Created", "204 No Content", "201 Created"} // newest first
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("statuses %v, want %v", got, want)
	}
}
