package demoui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/app/apptest"
	demoui "github.com/careslot/careslot/demo-ui"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/hydratest"
	"github.com/careslot/careslot/smart-auth/signin"
	"github.com/careslot/careslot/storage"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath is Debian's chromium, which .ci/run installs when missing.
const chromiumPath = "/usr/bin/chromium"

// uiServer is careslot with a real Hydra, the booking UI's client registered, and a
// small clinic: two doctors with free slots, insured patients and their users.
type uiServer struct {
	*apptest.Server
	root string // careslot's origin: the UI is at root + "/"
	day  time.Time
}

func newUIServer(t *testing.T, opts ...apptest.Option) *uiServer {
	t.Helper()
	var h *hydratest.Hydra
	s := apptest.New(t, append([]apptest.Option{func(c *app.Config) {
		root := strings.TrimSuffix(c.BaseURL, "/fhir")
		h = hydratest.Start(t, hydratest.Options{CareslotURL: root})
		c.Auth = app.AuthConfig{HydraPublicURL: h.PublicURL, HydraAdminURL: h.AdminURL}
	}}, opts...)...)
	if err := h.Admin.EnsureClient(context.Background(), demoui.Client(s.URL)); err != nil {
		t.Fatal(err)
	}
	u := &uiServer{Server: s, root: strings.TrimSuffix(s.URL, "/fhir"), day: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)}
	u.clinic(t)
	return u
}

// clinic seeds the directory, free slots for dr-1 tomorrow from 09:00 to 12:00 UTC,
// three insured patients and the users of the tests.
func (u *uiServer) clinic(t *testing.T) {
	ref := func(r string) map[string]any { return map[string]any{"reference": r} }
	gp := []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "394814009", "display": "General practice"}}}}
	cardio := []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"}}}}
	u.seed(t, "PUT", "Organization/insurer", map[string]any{"resourceType": "Organization", "id": "insurer", "name": "Acme Health Insurance",
		"type": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "ins"}}}}})
	for i, d := range []struct {
		given, family string
		specialty     []any
	}{{"Anna", "Berg", gp}, {"Chloe", "Martin", cardio}} {
		n := fmt.Sprint(i + 1)
		u.seed(t, "PUT", "Practitioner/dr-"+n, map[string]any{"resourceType": "Practitioner", "id": "dr-" + n,
			"name": []any{map[string]any{"prefix": []any{"Dr"}, "given": []any{d.given}, "family": d.family}}})
		role := map[string]any{"resourceType": "PractitionerRole", "id": "role-" + n,
			"practitioner": ref("Practitioner/dr-" + n), "specialty": d.specialty}
		if i == 1 { // dr-2 has hours and no slots: she opens them herself (TestDoctorAvailability)
			role["availableTime"] = []any{map[string]any{"availableStartTime": "09:00:00", "availableEndTime": "17:00:00"}}
		}
		u.seed(t, "PUT", "PractitionerRole/role-"+n, role)
		u.seed(t, "PUT", "Schedule/sch-"+n, map[string]any{"resourceType": "Schedule", "id": "sch-" + n, "specialty": d.specialty,
			"actor": []any{ref("Practitioner/dr-" + n)}})
	}
	for i := 0; i < 6; i++ {
		start := u.slot(i)
		u.seed(t, "PUT", fmt.Sprintf("Slot/slot-%d", i), map[string]any{"resourceType": "Slot", "id": fmt.Sprintf("slot-%d", i),
			"schedule": ref("Schedule/sch-1"), "status": "free", "start": start.Format(time.RFC3339), "end": start.Add(30 * time.Minute).Format(time.RFC3339)})
	}
	year := time.Now().Year()
	for i, name := range [][2]string{{"Alice", "Schmidt"}, {"Bruno", "Jensen"}, {"Carla", "Novak"}} {
		id := fmt.Sprintf("pat-%d", i+1)
		u.seed(t, "PUT", "Patient/"+id, map[string]any{"resourceType": "Patient", "id": id,
			"name": []any{map[string]any{"given": []any{name[0]}, "family": name[1]}}})
		u.seed(t, "PUT", "Coverage/cov-"+id, map[string]any{"resourceType": "Coverage", "id": "cov-" + id, "status": "active",
			"beneficiary": ref("Patient/" + id), "payor": []any{ref("Organization/insurer")},
			"period": map[string]any{"start": fmt.Sprintf("%d-01-01", year-1), "end": fmt.Sprintf("%d-12-31", year+1)}})
		u.addUser(t, strings.ToLower(name[0]), "Patient/"+id, "patient")
	}
	u.seed(t, "PUT", "Patient/pat-4", map[string]any{"resourceType": "Patient", "id": "pat-4",
		"name": []any{map[string]any{"given": []any{"Eva"}, "family": "Moreau"}}}) // no insurance yet
	u.addUser(t, "eva", "Patient/pat-4", "patient")
	u.addUser(t, "dr.berg", "Practitioner/dr-1", "practitioner")
	u.addUser(t, "dr.martin", "Practitioner/dr-2", "practitioner")
	u.addUser(t, "admin", "", "admin")
}

// slot is the start of the i-th seeded slot of dr-1.
func (u *uiServer) slot(i int) time.Time {
	return u.day.Add(9*time.Hour + time.Duration(i)*30*time.Minute)
}

// seed writes a resource as the server itself (no HTTP authentication).
func (u *uiServer) seed(t *testing.T, method, path string, body any) {
	t.Helper()
	u.asServer(t, method, path, body)
}

// asServer sends one request to the FHIR API as the server itself and returns the
// answer's JSON; anything but 2xx fails the test.
func (u *uiServer) asServer(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	var r *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	} else {
		r = strings.NewReader("")
	}
	req := httptest.NewRequest(method, "/fhir/"+path, r)
	req.Header.Set("Content-Type", "application/fhir+json")
	req = req.WithContext(caller.With(req.Context(), caller.Caller{Subject: "test-seed", Role: caller.RoleSystem, Scopes: []string{"system/*.*"}}))
	rec := httptest.NewRecorder()
	u.FHIR.Handler().ServeHTTP(rec, req)
	if rec.Code >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}

// password is every test user's password: name + "-password-1".
func password(name string) string { return name + "-password-1" }

func (u *uiServer) addUser(t *testing.T, name, fhirUser, role string) {
	t.Helper()
	hash, err := signin.HashPassword(password(name))
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Store.CreateUser(context.Background(), storage.User{ID: "user-" + name, Username: name, PasswordHash: hash, Role: role, FHIRUser: fhirUser}); err != nil {
		t.Fatal(err)
	}
}

// browser is one headless Chromium for the whole test; each person gets a browser
// context of their own (cookies and storage apart, like separate browsers).
type browser struct {
	ctx context.Context
	out string // where screenshots go
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: apt-get install -y chromium (.ci/run does it)", chromiumPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Env("TZ=UTC")) // the tests' times are UTC; so are the page's local times
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	out := filepath.Join("testdata", "out", t.Name())
	os.RemoveAll(out) // the screenshots of an earlier run would mislead
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{ctx: ctx, out: out}
}

// person is one user's browser context, watched for console errors.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context
	b    *browser

	mu     sync.Mutex
	errors []string
}

func (b *browser) person(t *testing.T, name string) *person {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	p := &person{t: t, name: name, ctx: ctx, b: b}
	t.Cleanup(func() {
		cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errors {
			t.Errorf("%s's console: %s", name, e)
		}
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The browser logs every 4xx answer to fetch as a network error; the UI
			// expects refusals and shows them, so only the page's own errors count.
			if m.Type == chromedp.ConsoleError && m.Source != "network" || m.IsException() {
				p.mu.Lock()
				p.errors = append(p.errors, m.Text+" at "+m.URL)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// probeConsole checks that the watch sees a page's console errors at all.
func (b *browser) probeConsole(t *testing.T) {
	t.Helper()
	p := b.person(t, "probe")
	p.eval(`console.error("probe"); ""`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.errors)
		if n > 0 {
			p.errors = nil
		}
		p.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a console.error in the page was not seen: the console watch is broken")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stepTimeout bounds each step, so that a UI that never shows what a step waits for
// fails the test quickly with a screenshot.
const stepTimeout = 30 * time.Second

func (p *person) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.try(what, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// try is do for other goroutines than the test's: it returns the failure.
func (p *person) try(what string, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.screenshot("failed-" + what)
		return fmt.Errorf("%s: %s: %v", p.name, what, err)
	}
	return nil
}

func (p *person) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(p.b.out, p.name+"-"+name+".png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		p.t.Log(err)
	}
}

func (p *person) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return v
}

// signIn goes through the real flow: the UI's button, careslot's login page (through
// Hydra), the consent page, and back to the UI with a token.
//
// One retry: the test Hydra keeps its state in SQLite, which now and then refuses a write
// under load ("Unable to serialize access", a 500 at the token exchange); the UI then
// shows that sign-in failed, and a person signs in again.
func (p *person) signIn(root, button, username string) {
	p.t.Helper()
	if err := p.trySignIn(root, button, username); err != nil {
		p.t.Logf("%v; signing in again", err)
		if err := p.trySignIn(root, button, username); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *person) trySignIn(root, button, username string) error {
	if err := p.try("open the UI", chromedp.Navigate(root+"/"), chromedp.WaitVisible(chromedp.CSS("#"+button))); err != nil {
		return err
	}
	return p.try("sign in", chromedp.Click(chromedp.CSS("#"+button)), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), username), chromedp.SendKeys(chromedp.CSS("#password"), password(username)),
		chromedp.Click(chromedp.CSS(`button[value="login"]`)), chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
		chromedp.Click(chromedp.CSS(`button[value="allow"]`)), chromedp.WaitReady(chromedp.CSS("body[data-ready]")))
}

// fitsPhone checks that the page, at a phone's width, needs no scrolling sideways.
func (p *person) fitsPhone() {
	p.t.Helper()
	p.do("phone width", chromedp.EmulateViewport(390, 844))
	if fits := p.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); fits != "true" {
		p.t.Errorf("%s's page is wider than a phone: %s", p.name, p.eval(`document.documentElement.scrollWidth + " > " + window.innerWidth`))
	}
	p.screenshot("phone")
}

// setValue sets a form field as a person would and tells the page it changed.
func (p *person) setValue(id, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event("change")); return ""; })()`, id, value))
}

// pickSlot chooses the doctor and opens the booking of the slot starting at start,
// going to the next week when it is not in this one.
func (p *person) pickSlot(doctor string, start time.Time) {
	p.t.Helper()
	sel := fmt.Sprintf(`#slots button[data-start="%s"]`, start.UTC().Format("2006-01-02T15:04:05.000Z"))
	p.do("choose the doctor", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#doctors [data-doctor="%s"]`, doctor))),
		chromedp.WaitVisible(chromedp.CSS("#week")), waitIdle("#slots"))
	if p.eval(fmt.Sprintf(`document.querySelector(%q) ? "yes" : "no"`, sel)) == "no" {
		p.do("go to next week", chromedp.Click(chromedp.CSS("#week-next")), waitIdle("#slots"))
	}
	p.do("pick the slot", chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS("#confirm-book")))
}

// waitIdle waits until the region no longer says it is loading.
func waitIdle(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](fmt.Sprintf(`!document.querySelector(%q).hasAttribute("aria-busy")`, sel))(ctx, t)
		return err
	})
}

// TestBookingUI walks the booking UI in headless Chromium against a real careslot and
// Hydra: a patient books, the doctor approves in another browser, the patient sees it
// booked; two patients race for one slot and the loser is offered the next ones.
func TestBookingUI(t *testing.T) {
	u := newUIServer(t)
	b := newBrowser(t)
	b.probeConsole(t)

	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")
	alice.screenshot("1-signed-in")
	alice.pickSlot("Practitioner/dr-1", u.slot(0))
	alice.do("book", chromedp.Click(chromedp.CSS("#confirm-book")),
		chromedp.WaitVisible(chromedp.CSS("#book-result .alert-success")),
		chromedp.WaitVisible(chromedp.CSS(`#upcoming [data-status="pending"]`)))
	alice.screenshot("2-requested")

	doctor := b.person(t, "dr.berg")
	doctor.signIn(u.root, "sign-in-staff", "dr.berg")
	day := u.day.Format("2006-01-02")
	doctor.eval(fmt.Sprintf(`(() => { const d = document.getElementById("doctor-date"); d.value = %q; d.dispatchEvent(new Event("change")); return ""; })()`, day))
	doctor.do("show tomorrow", chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-status="pending"]`)))
	doctor.screenshot("3-request")
	doctor.do("approve", chromedp.Click(chromedp.CSS(`#doctor-list button.btn-success`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-status="booked"]`)))
	doctor.screenshot("4-approved")

	alice.do("see it booked", chromedp.Click(chromedp.CSS("#patient-refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#upcoming [data-status="booked"]`)))
	alice.screenshot("5-booked")

	// The visit: the doctor marks the patient arrived and writes a note; the patient
	// finds it under the visit.
	const note = "Blood pressure 120/80. Come back in six months."
	doctor.do("mark arrived", chromedp.Click(chromedp.CSS(`#doctor-list button[aria-label^="Arrived"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-status="arrived"]`)))
	doctor.do("add a note", chromedp.Click(chromedp.CSS(`#doctor-list [data-add-note]`)), chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-note-form] textarea`)),
		chromedp.SendKeys(chromedp.CSS(`#doctor-list [data-note-form] textarea`), note),
		chromedp.Click(chromedp.CSS(`#doctor-list [data-note-form] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#alerts .alert-success")))
	doctor.screenshot("5-note")
	alice.do("see the note", chromedp.Click(chromedp.CSS("#patient-refresh")),
		chromedp.WaitVisible(chromedp.CSS(`#records [data-visit^="Appointment/"] [data-document]`)))
	if text := alice.eval(`document.getElementById("records").textContent`); !strings.Contains(text, note) || !strings.Contains(text, "Dr Anna Berg") {
		t.Errorf("the patient's records read %q", text)
	}
	alice.do("open the note", chromedp.Click(chromedp.CSS(`#records summary`)))
	alice.screenshot("6-records")

	// The race: both have the same slot on screen and confirm at once.
	bruno, carla := b.person(t, "bruno"), b.person(t, "carla")
	racers := []*person{bruno, carla}
	for _, p := range racers {
		p.signIn(u.root, "sign-in-patient", p.name)
		p.pickSlot("Practitioner/dr-1", u.slot(2))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(racers))
	for i, p := range racers {
		wg.Go(func() {
			errs[i] = p.try("confirm", chromedp.Click(chromedp.CSS("#confirm-book")), chromedp.WaitVisible(chromedp.CSS("#book-result .alert")))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	won, lost := 0, 0
	var winner *person
	for _, p := range racers {
		text := p.eval(`document.getElementById("book-result").innerText`)
		switch {
		case strings.Contains(text, "Requested"):
			won++
			winner = p
		case strings.Contains(text, "This slot was just taken."):
			lost++
			next := p.eval(`[...document.querySelectorAll("#book-result button[data-start]")].map(b => b.dataset.start).join(",")`)
			if !strings.HasPrefix(next, u.slot(3).Format("2006-01-02T15:04:05.000Z")) {
				t.Errorf("%s is offered %q after the conflict, want the next free slot %s first", p.name, next, u.slot(3))
			}
		default:
			t.Errorf("%s sees %q", p.name, text)
		}
		p.screenshot("race")
	}
	if won != 1 || lost != 1 {
		t.Fatalf("race: %d won, %d saw the conflict; want 1 and 1", won, lost)
	}

	// The winner cancels (asked again in place): the appointment moves to the past as
	// cancelled and the slot is free again.
	winner.do("cancel", chromedp.Click(chromedp.CSS(`#upcoming button[aria-label^="Cancel"]`)),
		chromedp.Click(chromedp.CSS("#upcoming [data-confirm-cancel]")), chromedp.WaitVisible(chromedp.CSS(`#past [data-status="cancelled"]`)))
	winner.screenshot("cancelled")
	if slot := u.asServer(t, "GET", "Slot/slot-2", nil); slot["status"] != "free" {
		t.Errorf("the slot after the cancellation: %v", slot["status"])
	}

	// The admin: every appointment, filtered by doctor and patient name; registering a
	// patient with insurance.
	admin := b.person(t, "admin")
	admin.signIn(u.root, "sign-in-staff", "admin")
	admin.eval(`(() => { document.getElementById("filter-doctor").value = "Practitioner/dr-1"; document.getElementById("filter-patient").value = "Schmidt"; return ""; })()`)
	admin.do("filter", chromedp.Click(chromedp.CSS(`#admin-filter button[type="submit"]`)), waitIdle("#admin-list"),
		chromedp.WaitVisible(chromedp.CSS(`#admin-list [data-status="arrived"]`)))
	if n := admin.eval(`document.querySelector("#admin-list [data-count]").dataset.count`); n != "1" {
		t.Errorf("the admin's filter by doctor and patient lists %s appointments, want Alice's one", n)
	}
	admin.screenshot("1-filtered")
	admin.eval(`(() => { document.getElementById("reg-birth").value = "1990-04-05"; document.getElementById("reg-insurer").value = "Organization/insurer"; return ""; })()`)
	admin.do("register a patient", chromedp.SendKeys(chromedp.CSS("#reg-given"), "Dora"), chromedp.SendKeys(chromedp.CSS("#reg-family"), "Weiss"),
		chromedp.SendKeys(chromedp.CSS("#reg-member"), "M-4711"), chromedp.Focus(chromedp.CSS(`#register-form button[type="submit"]`)), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#register-result [data-registered]")))
	admin.screenshot("2-registered")
	registered := admin.eval(`document.querySelector("#register-result [data-registered]").dataset.registered`)
	patient := u.asServer(t, "GET", registered, nil)
	if name, _ := json.Marshal(patient["name"]); !strings.Contains(string(name), "Dora") || patient["birthDate"] != "1990-04-05" {
		t.Errorf("registered %s = %v", registered, patient)
	}
	coverage := u.asServer(t, "GET", "Coverage?beneficiary="+registered, nil)
	if entries, _ := coverage["entry"].([]any); len(entries) != 1 || !strings.Contains(fmt.Sprint(entries), "M-4711") {
		t.Errorf("the registered patient's coverage: %v", coverage)
	}

	// A patient without insurance, on a phone, with the keyboard: the insurance rule's
	// refusal is shown as the server words it; she adds her contact details and her
	// insurance and books.
	eva := b.person(t, "eva")
	eva.do("phone width", chromedp.EmulateViewport(390, 844))
	eva.signIn(u.root, "sign-in-patient", "eva")
	eva.pickSlot("Practitioner/dr-1", u.slot(4))
	eva.do("book without insurance", chromedp.Focus(chromedp.CSS("#confirm-book")), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#book-result .alert-danger")))
	if text := eva.eval(`document.getElementById("book-result").innerText`); !strings.Contains(text, "Coverage") {
		t.Errorf("the refusal without insurance reads %q", text)
	}
	if fits := eva.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); fits != "true" {
		t.Errorf("the page is wider than a phone: %s", eva.eval(`document.documentElement.scrollWidth + " > " + window.innerWidth`))
	}
	eva.screenshot("1-no-insurance")
	eva.do("save the profile", chromedp.SendKeys(chromedp.CSS("#profile-phone"), "+49 30 1234567"), chromedp.SendKeys(chromedp.CSS("#profile-city"), "Berlin"),
		chromedp.Focus(chromedp.CSS(`#profile-form button[type="submit"]`)), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#profile-result .alert-success")))
	eva.do("save the insurance", chromedp.SendKeys(chromedp.CSS("#coverage-member"), "E-2024"),
		chromedp.Focus(chromedp.CSS(`#coverage-form button[type="submit"]`)), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#coverages [data-coverage]")))
	eva.screenshot("2-profile")
	eva.do("book with insurance", chromedp.Focus(chromedp.CSS("#confirm-book")), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#book-result .alert-success")), chromedp.WaitVisible(chromedp.CSS(`#upcoming [data-status="pending"]`)),
		waitIdle("#slots"))
	eva.screenshot("3-booked")
	stored := u.asServer(t, "GET", "Patient/pat-4", nil)
	if got := fmt.Sprint(stored["telecom"], stored["address"]); !strings.Contains(got, "+49 30 1234567") || !strings.Contains(got, "Berlin") {
		t.Errorf("Eva's profile as stored: %s", got)
	}

	// Rescheduling: the pending request moves to the next slot in one update; the old
	// slot is free again.
	// With the keyboard, as the rest of her visit: a click aims at coordinates, which the
	// week's times, drawn again after the booking, may just have moved.
	eva.do("reschedule", chromedp.Focus(chromedp.CSS("#upcoming [data-reschedule]")), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#book-result [data-moving]")))
	eva.pickSlot("Practitioner/dr-1", u.slot(5))
	eva.do("confirm the move", chromedp.Click(chromedp.CSS("#confirm-book")), chromedp.WaitVisible(chromedp.CSS("#book-result .alert-success")))
	eva.screenshot("4-rescheduled")
	appts := u.asServer(t, "GET", "Appointment?patient=Patient/pat-4", nil)
	if got := fmt.Sprint(appts["entry"]); !strings.Contains(got, "Slot/slot-5") || strings.Contains(got, "Slot/slot-4") {
		t.Errorf("Eva's appointments after the move: %s", got)
	}
	if slot := u.asServer(t, "GET", "Slot/slot-4", nil); slot["status"] != "free" {
		t.Errorf("the old slot after the move: %v", slot["status"])
	}
}
