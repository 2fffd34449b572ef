package resources_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/storage/storagetest"
)

const (
	racers = 60 // concurrent clients per round
	rounds = 8  // rounds per test, each on a fresh slot and time
)

// race sends one booking per body at once, spread over the servers, and counts the statuses.
func race(t *testing.T, servers []*apptest.Server, bodies []map[string]any) map[int]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: racers}, Timeout: 60 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	start := make(chan struct{})
	for i, body := range bodies {
		b, _ := json.Marshal(body)
		srv := servers[i%len(servers)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/Appointment", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("Authorization", "Bearer "+srv.SystemToken)
			resp, err := client.Do(req)
			status := -1
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// checkOneWinner requires exactly one 201 and 409 for everyone else.
func checkOneWinner(t *testing.T, round int, counts map[int]int) {
	t.Helper()
	if counts[201] != 1 || counts[409] != racers-1 {
		t.Fatalf("round %d: statuses %v, want exactly one 201 and %d 409", round, counts, racers-1)
	}
}

// raceForSlots runs the rounds: every racer, each a different patient, books the same
// slot of doctor 0; then the slot must be busy and held by the one winner.
func raceForSlots(t *testing.T, c *clinic, servers []*apptest.Server) {
	for round := 0; round < rounds; round++ {
		start := at(8, 0).Add(time.Duration(round) * time.Hour)
		s := c.slot(t, 0, start, 30)
		bodies := make([]map[string]any, racers)
		for i := range bodies {
			bodies[i] = c.appointment("booked", c.patients[i], 0, start, start.Add(30*time.Minute), s)
		}
		checkOneWinner(t, round, race(t, servers, bodies))
		if got := c.status(t, "Slot", s); got != "busy" {
			t.Fatalf("round %d: slot is %s", round, got)
		}
	}
}

func TestConcurrentBookingOfOneSlot(t *testing.T) {
	srv := apptest.New(t)
	raceForSlots(t, newClinic(t, srv, racers), []*apptest.Server{srv})
}

// Two server processes on one database: no lock in a process can help here, only the database.
func TestConcurrentBookingOfOneSlotOnTwoServers(t *testing.T) {
	db := storagetest.NewDatabase(t)
	a, b := apptest.NewOnDatabase(t, db), apptest.NewOnDatabase(t, db)
	raceForSlots(t, newClinic(t, a, racers), []*apptest.Server{a, b})
}

// Without slots nothing is locked before the insert: the exclusion constraint alone
// must let one of many overlapping bookings of one practitioner through, on two servers.
func TestConcurrentOverlappingBookingsWithoutSlot(t *testing.T) {
	db := storagetest.NewDatabase(t)
	a, b := apptest.NewOnDatabase(t, db), apptest.NewOnDatabase(t, db)
	c := newClinic(t, a, racers)
	for round := 0; round < rounds; round++ {
		start := at(8, 0).Add(time.Duration(round) * time.Hour)
		bodies := make([]map[string]any, racers)
		for i := range bodies {
			// Different patients, one doctor, times that all overlap the first quarter hour.
			offset := time.Duration(i%15) * time.Minute
			bodies[i] = c.appointment("booked", c.patients[i], 0, start.Add(offset), start.Add(offset+30*time.Minute))
		}
		checkOneWinner(t, round, race(t, []*apptest.Server{a, b}, bodies))
	}
	// And the same patient with many doctors is refused the same way.
	start := at(20, 0)
	bodies := make([]map[string]any, racers)
	for i := range bodies {
		bodies[i] = c.appointment("booked", c.patients[0], i%2, start, start.Add(30*time.Minute))
		bodies[i]["participant"].([]any)[1] = map[string]any{"actor": ref("Practitioner", c.create(t, map[string]any{"resourceType": "Practitioner"})), "status": "accepted"}
	}
	checkOneWinner(t, -1, race(t, []*apptest.Server{a, b}, bodies))
}
