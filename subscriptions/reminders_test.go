package subscriptions_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func appointment(id, status, start string) map[string]any {
	s, _ := time.Parse(time.RFC3339, start)
	return map[string]any{"resourceType": "Appointment", "id": id, "status": status,
		"start": start, "end": s.Add(30 * time.Minute).Format(time.RFC3339),
		"participant": []any{
			map[string]any{"actor": map[string]any{"reference": "Patient/pat"}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": "Practitioner/dr"}, "status": "accepted"},
		}}
}

func waitReminder(t *testing.T, store *storage.Store, appt string, cond func(*storage.Reminder) bool, what string) *storage.Reminder {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := store.Reminder(context.Background(), appt)
		if err != nil {
			t.Fatal(err)
		}
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("reminder of %s: %+v, want %s", appt, r, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRemindersFireMoveAndWithdrawOnAControlledClock(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	clk := &clock{now: time.Date(2030, 1, 9, 9, 0, 0, 0, time.UTC)}
	cfg := testConfig(amqpURL)
	cfg.Now, cfg.ScheduleInterval, cfg.ReminderLead = clk.Now, 20*time.Millisecond, 24*time.Hour
	s := apptest.New(t, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(cfg))
	h := newHook(t)
	s.Must(t, 201, "PUT", "Patient/pat", map[string]any{"resourceType": "Patient", "id": "pat"})
	s.Must(t, 201, "PUT", "Practitioner/dr", map[string]any{"resourceType": "Practitioner", "id": "dr"})
	id := s.Must(t, 201, "POST", "Subscription", restHook("Communication?recipient=Patient/pat", h.URL, nil)).JSON(t)["id"].(string)
	waitStatus(t, s, id, "active")

	s.Must(t, 201, "PUT", "Appointment/a", appointment("a", "booked", "2030-01-10T10:00:00Z"))
	waitReminder(t, s.Store, "a", func(r *storage.Reminder) bool {
		return r != nil && r.State == "pending" && r.Due.Equal(time.Date(2030, 1, 9, 10, 0, 0, 0, time.UTC))
	}, "pending, due 24 h before the start")

	// Rescheduled a day later: the reminder moves with it, and the old time passes quietly.
	s.Must(t, 200, "PUT", "Appointment/a", appointment("a", "booked", "2030-01-11T10:00:00Z"))
	waitReminder(t, s.Store, "a", func(r *storage.Reminder) bool {
		return r.Due.Equal(time.Date(2030, 1, 10, 10, 0, 0, 0, time.UTC))
	}, "moved to 2030-01-10T10:00")
	clk.Set(time.Date(2030, 1, 9, 10, 30, 0, 0, time.UTC))
	time.Sleep(300 * time.Millisecond)
	if r, _ := s.Store.Reminder(context.Background(), "a"); r.State != "pending" {
		t.Fatalf("the reminder fired at its old time: %+v", r)
	}

	// A second appointment, cancelled: its reminder is withdrawn and never fires.
	s.Must(t, 201, "PUT", "Appointment/b", appointment("b", "booked", "2030-01-10T15:00:00Z"))
	waitReminder(t, s.Store, "b", func(r *storage.Reminder) bool { return r != nil && r.State == "pending" }, "pending")
	s.Must(t, 200, "PUT", "Appointment/b", appointment("b", "cancelled", "2030-01-10T15:00:00Z"))
	waitReminder(t, s.Store, "b", func(r *storage.Reminder) bool { return r.State == "withdrawn" }, "withdrawn")

	clk.Set(time.Date(2030, 1, 10, 10, 1, 0, 0, time.UTC))
	r := waitReminder(t, s.Store, "a", func(r *storage.Reminder) bool { return r.State == "sent" }, "sent once due")
	comm := s.Must(t, 200, "GET", "Communication/"+r.CommunicationID, nil).JSON(t)
	if comm["status"] != "completed" || comm["about"].([]any)[0].(map[string]any)["reference"] != "Appointment/a" {
		t.Errorf("the reminder Communication: %v", comm)
	}
	got := h.waitEvents(t, "event-notification", 1)
	if got[0].Header.Get("X-Careslot-Resource") != "Communication/"+r.CommunicationID+"/_history/1" {
		t.Errorf("the patient's subscription was told of %s", got[0].Header.Get("X-Careslot-Resource"))
	}
	clk.Set(time.Date(2030, 1, 10, 16, 0, 0, 0, time.UTC))
	time.Sleep(300 * time.Millisecond)
	if n := len(h.events("event-notification")); n != 1 {
		t.Errorf("%d reminders went out; the cancelled appointment's must not", n)
	}
	if rb, _ := s.Store.Reminder(context.Background(), "b"); rb.State != "withdrawn" {
		t.Errorf("the cancelled appointment's reminder: %+v", rb)
	}
}
