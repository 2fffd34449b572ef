package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/storagetest"
)

func send(t *testing.T, method, url string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := tokenClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func mustPut(t *testing.T, base, path string, doc map[string]any) {
	t.Helper()
	if st := send(t, "PUT", base+"/"+path, doc); st != 200 && st != 201 {
		t.Fatalf("PUT %s: %d", path, st)
	}
}

// TestTwoProcessesNeverDoubleBook runs two `careslot serve` processes on one database and
// has 60 clients, split between them, book the same slot at once, round after round:
// exactly one booking may win each round. Nothing but PostgreSQL is shared.
func TestTwoProcessesNeverDoubleBook(t *testing.T) {
	const clients, rounds = 60, 5
	db := storagetest.NewDatabase(t)
	a := startServe(t, db, "CARESLOT_REQUIRE_COVERAGE=false")
	b := startServe(t, db, "CARESLOT_REQUIRE_COVERAGE=false")
	ref := func(r string) map[string]any { return map[string]any{"reference": r} }
	mustPut(t, a.base, "Practitioner/race-dr", map[string]any{"resourceType": "Practitioner", "id": "race-dr"})
	mustPut(t, a.base, "Schedule/race-sched", map[string]any{"resourceType": "Schedule", "id": "race-sched", "actor": []any{ref("Practitioner/race-dr")}})
	for i := 0; i < clients; i++ {
		id := fmt.Sprintf("race-p%d", i)
		mustPut(t, b.base, "Patient/"+id, map[string]any{"resourceType": "Patient", "id": id})
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 7)
	for round := 0; round < rounds; round++ {
		start := day.Add(time.Duration(9+round) * time.Hour)
		end := start.Add(30 * time.Minute)
		slot := fmt.Sprintf("race-slot-%d", round)
		mustPut(t, a.base, "Slot/"+slot, map[string]any{"resourceType": "Slot", "id": slot, "schedule": ref("Schedule/race-sched"),
			"status": "free", "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)})
		var wg sync.WaitGroup
		statuses := make(chan int, clients)
		gate := make(chan struct{})
		for i := 0; i < clients; i++ {
			base := a.base
			if i%2 == 1 {
				base = b.base
			}
			appt := map[string]any{"resourceType": "Appointment", "status": "booked",
				"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339), "slot": []any{ref("Slot/" + slot)},
				"participant": []any{
					map[string]any{"actor": ref(fmt.Sprintf("Patient/race-p%d", i)), "status": "accepted"},
					map[string]any{"actor": ref("Practitioner/race-dr"), "status": "accepted"},
				}}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				statuses <- send(t, "POST", base+"/Appointment", appt)
			}()
		}
		close(gate)
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[201] != 1 || count[409] != clients-1 {
			t.Fatalf("round %d: %v, want exactly one 201 and %d 409", round, count, clients-1)
		}
	}
}
