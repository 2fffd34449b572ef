package audit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
)

func patient(id string) string {
	return `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"Audit","given":["Ada"]}]}`
}

func observation(id, patient string) string {
	return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/` + patient + `"}}`
}

// auditEvent is the part of an AuditEvent the tests check.
type auditEvent struct {
	ID          string                          `json:"id"`
	Type        struct{ Code string }           `json:"type"`
	Subtype     []struct{ System, Code string } `json:"subtype"`
	Action      string                          `json:"action"`
	Recorded    string                          `json:"recorded"`
	Outcome     string                          `json:"outcome"`
	OutcomeDesc string                          `json:"outcomeDesc"`
	Agent       []struct {
		Who struct {
			Reference  string
			Identifier struct{ System, Value string }
		} `json:"who"`
		AltID     string                         `json:"altId"`
		Requestor bool                           `json:"requestor"`
		Policy    []string                       `json:"policy"`
		Network   struct{ Address, Type string } `json:"network"`
	} `json:"agent"`
	Source struct{ Site string } `json:"source"`
	Entity []struct {
		What  struct{ Reference string } `json:"what"`
		Role  struct{ Code string }      `json:"role"`
		Query string                     `json:"query"`
	} `json:"entity"`
}

func (e auditEvent) entities(role string) []string {
	var out []string
	for _, en := range e.Entity {
		if en.Role.Code == role {
			if en.Query != "" {
				q, _ := base64.StdEncoding.DecodeString(en.Query)
				out = append(out, string(q))
			} else {
				out = append(out, en.What.Reference)
			}
		}
	}
	return out
}

// search runs an AuditEvent search as an admin.
func search(t *testing.T, s *apptest.Server, admin, query string) []auditEvent {
	t.Helper()
	r := s.Must(t, http.StatusOK, "GET", "AuditEvent?_count=1000&"+query, nil, apptest.Bearer(admin)...)
	var b struct {
		Entry []struct{ Resource auditEvent } `json:"entry"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	out := make([]auditEvent, len(b.Entry))
	for i, e := range b.Entry {
		out[i] = e.Resource
	}
	return out
}

// await searches until want events match: reads and searches are stored by the writer
// shortly after they are answered.
func await(t *testing.T, s *apptest.Server, admin, query string, want int) []auditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := search(t, s, admin, query)
		if len(got) >= want || time.Now().After(deadline) {
			if len(got) != want {
				t.Fatalf("AuditEvent?%s: %d events, want %d: %+v", query, len(got), want, got)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadsSearchesWritesAndDenialsAreAudited(t *testing.T) {
	s := apptest.New(t)
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.*"))
	s.Must(t, http.StatusCreated, "PUT", "Patient/au-p1", patient("au-p1"), apptest.Bearer(admin)...)
	s.Must(t, http.StatusCreated, "PUT", "Observation/au-o1", observation("au-o1", "au-p1"), apptest.Bearer(admin)...)
	s.Must(t, http.StatusCreated, "PUT", "Patient/au-other", patient("au-other"), apptest.Bearer(admin)...)
	s.Must(t, http.StatusCreated, "PUT", "Observation/au-o2", observation("au-o2", "au-other"), apptest.Bearer(admin)...)

	// A write's AuditEvent is committed with it (audit_pending), and searchable soon after.
	await(t, s, admin, "patient=au-p1&action=C", 2)
	obs := search(t, s, admin, "entity=Observation/au-o1&action=C")
	if len(obs) != 1 || obs[0].Subtype[0].Code != "create" || obs[0].Outcome != "0" ||
		strings.Join(obs[0].entities("1"), ",") != "Patient/au-p1" || obs[0].Agent[0].AltID != "admin" {
		t.Fatalf("create of Observation/au-o1: %+v", obs)
	}

	patientTok := s.Token(t, smarttest.Claims{Role: "patient", FHIRUser: "Patient/au-p1", Patient: "au-p1", ClientID: "au-app",
		Scopes: []string{"patient/*.cruds"}, ID: "jti-au-1"})
	s.Must(t, http.StatusOK, "GET", "Observation/au-o1", nil, apptest.Bearer(patientTok)...)
	s.Must(t, http.StatusOK, "GET", "Observation?subject=Patient/au-p1&status=final", nil, apptest.Bearer(patientTok)...)
	s.Must(t, http.StatusOK, "GET", "Patient/au-p1/Observation", nil, apptest.Bearer(patientTok)...)
	s.Must(t, http.StatusOK, "PUT", "Patient/au-p1", patient("au-p1"), apptest.Bearer(patientTok)...)
	s.Must(t, http.StatusForbidden, "PUT", "Observation/au-o1", observation("au-o1", "au-p1"), apptest.Bearer(patientTok)...)
	s.Must(t, http.StatusNotFound, "GET", "Observation/au-missing", nil, apptest.Bearer(patientTok)...)
	s.Must(t, http.StatusNotFound, "GET", "Observation/au-o2", nil, apptest.Bearer(patientTok)...) // another patient's
	s.Must(t, http.StatusUnauthorized, "GET", "Patient/au-p1", nil, "Authorization", "Bearer not-a-token")

	read := await(t, s, admin, "agent=Patient/au-p1&subtype=read&outcome=0", 1)[0]
	if read.Type.Code != "rest" || read.Action != "R" || read.Source.Site != "careslot" {
		t.Errorf("read: type %q action %q source %q", read.Type.Code, read.Action, read.Source.Site)
	}
	if len(read.Agent) != 2 || !read.Agent[0].Requestor || read.Agent[0].Network.Address != "127.0.0.1" ||
		read.Agent[0].Network.Type != "2" || len(read.Agent[0].Policy) != 1 || !strings.HasSuffix(read.Agent[0].Policy[0], "jti-au-1") {
		t.Errorf("read: the patient agent: %+v", read.Agent)
	}
	if len(read.Agent) == 2 && (read.Agent[1].Requestor || read.Agent[1].Who.Identifier.Value != "au-app") {
		t.Errorf("read: the client agent: %+v", read.Agent[1])
	}
	if got := read.entities("4"); len(got) != 1 || got[0] != "Observation/au-o1" {
		t.Errorf("read: resource entities %v", got)
	}
	if got := read.entities("1"); len(got) != 1 || got[0] != "Patient/au-p1" {
		t.Errorf("read: patient entities %v", got)
	}

	searches := await(t, s, admin, "agent=Patient/au-p1&subtype=search-type", 2)
	for _, e := range searches {
		if e.Action != "E" || e.Outcome != "0" || len(e.entities("24")) != 1 || strings.Join(e.entities("1"), ",") != "Patient/au-p1" {
			t.Errorf("search: %+v", e)
		}
	}
	queries := searches[0].entities("24")[0] + " | " + searches[1].entities("24")[0]
	if !strings.Contains(queries, "subject=Patient%2Fau-p1") || !strings.Contains(queries, "/fhir/Patient/au-p1/Observation") {
		t.Errorf("search queries: %s", queries)
	}

	update := await(t, s, admin, "agent=Patient/au-p1&action=U", 2)
	for _, u := range update {
		switch {
		case u.Outcome == "0":
			if u.Subtype[0].Code != "update" || u.Agent[0].Network.Address != "127.0.0.1" || strings.Join(u.entities("1"), ",") != "Patient/au-p1" {
				t.Errorf("update by the patient: %+v", u)
			}
		case u.Outcome == "4":
			if !strings.Contains(u.OutcomeDesc, "denied") || strings.Join(u.entities("4"), ",") != "Observation/au-o1" {
				t.Errorf("refused update by the patient: %+v", u)
			}
		default:
			t.Errorf("update outcome %q", u.Outcome)
		}
	}
	missing := await(t, s, admin, "entity=Observation/au-missing", 1)[0]
	if missing.Outcome != "4" || !strings.Contains(missing.OutcomeDesc, "not known") {
		t.Errorf("read of a missing Observation: outcome %q %q", missing.Outcome, missing.OutcomeDesc)
	}
	hidden := await(t, s, admin, "entity=Observation/au-o2&outcome=4", 1)[0]
	if hidden.Action != "R" || !strings.Contains(hidden.OutcomeDesc, "denied: Observation/au-o2 is not one the caller may see") {
		t.Errorf("a read of another patient's record, answered 404: %+v", hidden)
	}
	refused := await(t, s, admin, "entity=Patient/au-p1&outcome=4", 1)[0]
	if refused.Action != "R" || !strings.HasPrefix(refused.OutcomeDesc, "denied") || refused.Agent[0].Who.Reference != "" {
		t.Errorf("a bad token: %+v", refused)
	}

	// Admins search AuditEvents by date too; the directory is not audited.
	s.Must(t, http.StatusOK, "GET", "Practitioner", nil, apptest.Bearer(admin)...)
	since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	all := search(t, s, admin, "date=ge"+since)
	if len(all) < 7 {
		t.Errorf("date=ge%s: %d events", since, len(all))
	}
	for _, e := range all {
		for _, q := range e.entities("24") {
			if strings.Contains(q, "Practitioner") {
				t.Errorf("a directory search was audited: %s", q)
			}
		}
	}
}

func TestFailedTransactionLeavesNoWriteEvent(t *testing.T) {
	s := apptest.New(t)
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.*"))
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":` + patient("au-tx") + `,"request":{"method":"PUT","url":"Patient/au-tx"}},
		{"resource":` + observation("au-tx", "au-nobody") + `,"request":{"method":"PUT","url":"Observation/au-tx"}}]}`
	r := s.Do(t, "POST", "", bundle, apptest.Bearer(admin)...)
	if r.Status < 400 {
		t.Fatalf("a transaction referring to a missing patient: %d", r.Status)
	}
	// A write after it: once its AuditEvent is searchable, so would the rolled back ones be.
	s.Must(t, http.StatusCreated, "PUT", "Patient/au-tx2", patient("au-tx2"), apptest.Bearer(admin)...)
	await(t, s, admin, "patient=au-tx2", 1)
	if got := search(t, s, admin, "patient=au-tx&action=C"); len(got) != 0 {
		t.Fatalf("a rolled back create was audited: %+v", got)
	}
}

func TestAuditEventsAreForAdminsOnly(t *testing.T) {
	s := apptest.New(t)
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.*"))
	patientTok := s.Token(t, smarttest.Patient(s.URL, "au-p2", "patient/*.*"))
	practitioner := s.Token(t, smarttest.Practitioner(s.URL, "au-d1", "", "user/*.*"))
	event := `{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z",
		"agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}`
	for _, tok := range []string{admin, patientTok, practitioner} {
		s.Must(t, http.StatusMethodNotAllowed, "POST", "AuditEvent", event, apptest.Bearer(tok)...)
		s.Must(t, http.StatusMethodNotAllowed, "PUT", "AuditEvent/au-forged", event, apptest.Bearer(tok)...)
		s.Must(t, http.StatusMethodNotAllowed, "DELETE", "AuditEvent/au-forged", nil, apptest.Bearer(tok)...)
	}
	s.Must(t, http.StatusUnauthorized, "POST", "AuditEvent", event, "Authorization", "")
	s.Must(t, http.StatusCreated, "PUT", "Patient/au-p2", patient("au-p2"), apptest.Bearer(admin)...)
	ev := await(t, s, admin, "patient=au-p2", 1)
	for name, tok := range map[string]string{"patient": patientTok, "practitioner": practitioner, "anonymous": ""} {
		h := []string{"Authorization", ""} // apptest sends a backend token unless told not to
		if tok != "" {
			h = apptest.Bearer(tok)
		}
		for _, path := range []string{"AuditEvent", "AuditEvent/" + ev[0].ID, "AuditEvent/" + ev[0].ID + "/_history/1",
			"AuditEvent/_history", "Patient?_revinclude=AuditEvent:patient", "Patient?_has:AuditEvent:patient:action=C",
			"Patient/au-p2/AuditEvent"} {
			want := http.StatusForbidden
			if tok == "" {
				want = http.StatusUnauthorized // careslot requires a token
			}
			if r := s.Do(t, "GET", path, nil, h...); r.Status != want {
				t.Errorf("%s GET %s: %d, want %d: %.200s", name, path, r.Status, want, r.Body)
			}
		}
		if r := s.Do(t, "GET", "_history", nil, h...); r.Status == http.StatusOK && historyHasAuditEvents(t, r) {
			t.Errorf("%s: the system history shows AuditEvents", name)
		}
	}
	if r := s.Must(t, http.StatusOK, "GET", "_history", nil, apptest.Bearer(admin)...); historyHasAuditEvents(t, r) {
		t.Errorf("the system history shows AuditEvents")
	}
	s.Must(t, http.StatusOK, "GET", "AuditEvent/"+ev[0].ID, nil, apptest.Bearer(admin)...)
	s.Must(t, http.StatusOK, "GET", "AuditEvent/"+ev[0].ID+"/_history/1", nil, apptest.Bearer(admin)...)
	system := s.Token(t, smarttest.System(s.URL, "au-siem", "system/AuditEvent.rs"))
	s.Must(t, http.StatusOK, "GET", "AuditEvent?patient=au-p2", nil, apptest.Bearer(system)...)
}

// Events still queued when careslot stops are stored before it exits.
func TestGracefulStopStoresQueuedEvents(t *testing.T) {
	db := storagetest.NewDatabase(t)
	lingering := func(c *app.Config) { c.Audit = audit.Config{Linger: time.Hour, Batch: 100000, Pending: time.Hour} }
	s := apptest.NewOnDatabase(t, db, lingering)
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.*"))
	s.Must(t, http.StatusCreated, "PUT", "Patient/au-p3", patient("au-p3"), apptest.Bearer(admin)...)
	// Writes too: their AuditEvents wait in audit_pending (Pending: an hour) until the stop.
	for range 20 {
		s.Must(t, http.StatusOK, "PUT", "Patient/au-p3", patient("au-p3"), apptest.Bearer(admin)...)
	}
	const reads = 200
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < reads; j += 8 {
				s.Must(t, http.StatusOK, "GET", "Patient/au-p3", nil, apptest.Bearer(admin)...)
			}
		}()
	}
	wg.Wait()
	s.HTTP.Close()
	s.App.Close()

	again := apptest.NewOnDatabase(t, db)
	r := again.Must(t, http.StatusOK, "GET", "AuditEvent?patient=au-p3&subtype=read&_summary=count", nil,
		apptest.Bearer(again.Token(t, smarttest.Admin(again.URL, "user/*.*")))...)
	var b struct{ Total int }
	json.Unmarshal(r.Body, &b)
	if b.Total != reads {
		t.Fatalf("%d read events stored after a graceful stop, want %d", b.Total, reads)
	}
	r = again.Must(t, http.StatusOK, "GET", "AuditEvent?patient=au-p3&action=C,U&_summary=count", nil,
		apptest.Bearer(again.Token(t, smarttest.Admin(again.URL, "user/*.*")))...)
	json.Unmarshal(r.Body, &b)
	if b.Total != 21 {
		t.Fatalf("%d write events stored after a graceful stop, want 21", b.Total)
	}
}

func TestPatientsOf(t *testing.T) {
	cases := []struct {
		typ, id, content, want string
	}{
		{"Patient", "p", `{"resourceType":"Patient"}`, "p"},
		{"Observation", "o", observation("o", "p"), "p"},
		{"Appointment", "a", `{"resourceType":"Appointment","participant":[{"actor":{"reference":"Patient/p"}},{"actor":{"reference":"Practitioner/d"}},{"actor":{"reference":"Patient/q"}}]}`, "p,q"},
		{"Coverage", "c", `{"resourceType":"Coverage","beneficiary":{"reference":"Patient/p"},"payor":[{"reference":"Organization/o"}]}`, "p"},
		{"Practitioner", "d", `{"resourceType":"Practitioner"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			if got := strings.Join(audit.PatientsOf(c.typ, c.id, []byte(c.content)), ","); got != c.want {
				t.Errorf("PatientsOf: %q, want %q", got, c.want)
			}
		})
	}
}

func TestEventJSONIsValidR4(t *testing.T) {
	v, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]audit.Event{
		"read by a patient app": {Action: audit.ActionRead, Interaction: "read", Outcome: audit.OutcomeSuccess, Recorded: time.Now(),
			Caller:  &caller.Caller{Role: caller.RolePatient, Subject: "u1", FHIRUser: "Patient/p", ClientID: "app", TokenID: "j"},
			Address: "192.0.2.1", What: []string{"Observation/o"}, Touched: []audit.Touched{{Type: "Observation", ID: "o", Content: []byte(observation("o", "p"))}}},
		"search by a backend": {Action: audit.ActionExecute, Interaction: "search-type", Outcome: audit.OutcomeSuccess, Recorded: time.Now(),
			Caller: &caller.Caller{Role: caller.RoleSystem, Subject: "svc", ClientID: "svc"}, Query: "GET /fhir/Patient?name=x"},
		"anonymous denial": {Action: audit.ActionRead, Outcome: audit.OutcomeMinor, OutcomeDesc: "denied: unauthorized", Recorded: time.Now(),
			What: []string{"Patient/p"}},
	}
	for name, ev := range events {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Validate(ev.JSON()); err != nil {
				t.Fatalf("%v: %s", err, ev.JSON())
			}
		})
	}
}

// The policy's hook: a denial it reports is recorded with its reason, even when the
// answer is a 404 that looks like a missing resource.
func TestDeniedHook(t *testing.T) {
	db := storagetest.NewDatabase(t)
	store, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.NewRecorder(store, slog.New(slog.NewTextHandler(io.Discard, nil)), audit.Config{})
	policy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.Denied(r.Context(), "Patient/au-p4 is not in the caller's compartment")
		w.WriteHeader(http.StatusNotFound)
	})
	inside := rec.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.Serve(w, r, audit.Interaction{Code: "read", Action: audit.ActionRead, Type: "Patient", ID: "au-p4"}, policy)
	}))
	outside := rec.Middleware(policy) // a denial outside any interaction is recorded at once
	for _, h := range []http.Handler{inside, outside} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/fhir/Patient/au-p4", nil))
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.Close()

	s := apptest.NewOnDatabase(t, db)
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.*"))
	got := search(t, s, admin, "outcome=4")
	if len(got) != 2 {
		t.Fatalf("%d denials recorded, want 2: %+v", len(got), got)
	}
	for _, e := range got {
		if !strings.Contains(e.OutcomeDesc, "not in the caller's compartment") || e.Agent[0].Network.Address != "192.0.2.1" {
			t.Errorf("denial: %+v", e)
		}
	}
	if p := search(t, s, admin, "patient=au-p4&outcome=4"); len(p) != 1 {
		t.Errorf("the denied read names Patient/au-p4: %+v", p)
	}
}

// historyHasAuditEvents tells whether a history Bundle has an AuditEvent entry (the
// OperationDefinitions in it may name the type; that is not an AuditEvent).
func historyHasAuditEvents(t *testing.T, r *apptest.Response) bool {
	t.Helper()
	entries, _ := r.JSON(t)["entry"].([]any)
	for _, e := range entries {
		if res, ok := e.(map[string]any)["resource"].(map[string]any); ok && res["resourceType"] == "AuditEvent" {
			return true
		}
		if req, ok := e.(map[string]any)["request"].(map[string]any); ok && strings.HasPrefix(fmt.Sprint(req["url"]), "AuditEvent") {
			return true
		}
	}
	return false
}
