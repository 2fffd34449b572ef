package fhir_test

// The official R4 examples as a test of the whole write and read path: every example of
// a product type goes into one transaction with the examples it references, comes back
// unchanged, and every example of every type is either accepted or refused for a named rule.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/r4examples"
	"github.com/careslot/careslot/storage"
)

// knownInvalidExamples are the official examples that break the specification's own rules
// (r4examples/SOURCES.md warns the example set was never fully valid), with the rule each breaks.
// The validator must refuse exactly these.
var knownInvalidExamples = map[string]string{
	"DeviceMetric/example":        "DeviceMetric.parent refers to a DeviceDefinition; the element allows only Reference(Device)",
	"DeviceUseStatement/example":  "DeviceUseStatement.reasonReference refers to a Procedure; allowed are Condition, Observation, DiagnosticReport, DocumentReference, Media",
	"MedicationRequest/medrx0301": "MedicationRequest.dispenseRequest.performer refers to a Practitioner; the element allows only Reference(Organization)",
	"Observation/clinical-gender": "Observation.performer refers to an Encounter; allowed are Practitioner, PractitionerRole, Organization, CareTeam, Patient, RelatedPerson",
	"Questionnaire/qs1":           "Questionnaire.item.linkId is required (1..1) but missing on nested items",
	"ImplementationGuide/fhir":    "ImplementationGuide.name and ImplementationGuide.status are required (1..1) but missing",
}

// knownRefusedByRules are product-type examples that are valid R4 but that careslot's own
// rules (package resources) refuse, with the rule.
var knownRefusedByRules = map[string]string{
	// R4: a client creates a Subscription as requested; the server moves it to active
	// or error, so a create in status error is refused (422, Subscription.status).
	"Subscription/example-error": "a client cannot create a Subscription in status error",
	// The MedicationRequest examples are about Patient/pat1 but name Encounters of
	// Patient/f001: a record must be about its encounter's patient (docs/records.md).
	"MedicationRequest/medrx002":  "a record must be about its encounter's patient",
	"MedicationRequest/medrx0305": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0307": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0308": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0309": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0310": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0311": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0315": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0316": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0318": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0323": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0330": "a record must be about its encounter's patient",
	"MedicationRequest/medrx0333": "a record must be about its encounter's patient",
}

// example is one official example file.
type example struct {
	file string
	typ  string
	id   string
	body []byte
}

func (e example) key() string { return e.typ + "/" + e.id }

// loadExamples reads every official example (package r4examples), keyed by Type/id as
// the content says.
func loadExamples(t *testing.T) (map[string]example, []string) {
	t.Helper()
	files, err := r4examples.All()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]example{}
	var keys []string
	for _, f := range files {
		e := example{file: f.File, typ: f.Type, id: f.ID, body: f.Body}
		if _, dup := all[e.key()]; dup {
			t.Fatalf("two examples are %s", e.key())
		}
		all[e.key()] = e
		keys = append(keys, e.key())
	}
	sort.Strings(keys)
	return all, keys
}

// exampleSet is the examples of the product types plus everything they reference,
// shrunk until every reference resolves inside it.
type exampleSet struct {
	all     map[string]example
	refs    map[string][]storage.Link // outgoing literal references of each example
	members map[string]bool
	dropped map[string]string // example -> the rule it breaks
}

func newExampleSet(t *testing.T, all map[string]example, keys []string) *exampleSet {
	t.Helper()
	s := &exampleSet{all: all, refs: map[string][]storage.Link{}, members: map[string]bool{}, dropped: map[string]string{}}
	for _, k := range keys {
		links, err := storage.ExtractLinks(all[k].typ, all[k].body)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		s.refs[k] = links
	}
	var add func(k string)
	add = func(k string) {
		if s.members[k] {
			return
		}
		s.members[k] = true
		for _, l := range s.refs[k] {
			if target := l.TargetType + "/" + l.TargetID; all[target].body != nil {
				add(target)
			}
		}
	}
	for _, k := range keys {
		if slices.Contains(fhir.ProductTypes, all[k].typ) {
			add(k)
		}
	}
	return s
}

// drop removes each example for its rule, then, until nothing changes, every member
// whose references no longer resolve inside the set.
func (s *exampleSet) drop(rules map[string]string) {
	for k, rule := range rules {
		delete(s.members, k)
		s.dropped[k] = rule
	}
	for changed := true; changed; {
		changed = false
		for _, m := range s.sorted() {
			for _, l := range s.refs[m] {
				target := l.TargetType + "/" + l.TargetID
				if s.members[target] {
					continue
				}
				why := fmt.Sprintf("referential integrity: %s refers to %s, which is not among the examples", l.Path, target)
				if _, wasDropped := s.dropped[target]; wasDropped {
					why = fmt.Sprintf("referential integrity: %s refers to %s, which was refused", l.Path, target)
				}
				delete(s.members, m)
				s.dropped[m] = why
				changed = true
				break
			}
		}
	}
}

func (s *exampleSet) sorted() []string {
	out := make([]string, 0, len(s.members))
	for k := range s.members {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// transaction is a transaction Bundle that PUTs every member with its own id.
func (s *exampleSet) transaction() ([]byte, []string) {
	keys := s.sorted()
	entries := make([]map[string]any, len(keys))
	for i, k := range keys {
		entries[i] = map[string]any{
			"fullUrl":  k,
			"resource": json.RawMessage(s.all[k].body),
			"request":  map[string]string{"method": "PUT", "url": k},
		}
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	return b, keys
}

var (
	entryIndex       = regexp.MustCompile(`Bundle\.entry\[(\d+)\]`)
	failedEntryIndex = regexp.MustCompile(`transaction failed at entry (\d+)`)
)

// failedEntry finds which example a refused transaction names: the entry index in the
// issue's expression or diagnostics, else a Type/id of the set in the diagnostics.
func failedEntry(oo outcomeIssue, keys []string) string {
	for _, text := range append(slices.Clone(oo.Expression), oo.Diagnostics) {
		if m := entryIndex.FindStringSubmatch(text); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(keys) {
				return keys[i]
			}
		}
		if m := failedEntryIndex.FindStringSubmatch(text); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(keys) {
				return keys[i]
			}
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(oo.Diagnostics, k+" ") {
			return k
		}
	}
	return ""
}

type outcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics"`
	Expression  []string `json:"expression"`
}

// firstIssue decodes the first issue of an OperationOutcome body.
func firstIssue(body []byte) (outcomeIssue, bool) {
	var oo struct {
		ResourceType string         `json:"resourceType"`
		Issue        []outcomeIssue `json:"issue"`
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return outcomeIssue{}, false
	}
	return oo.Issue[0], true
}

func (is outcomeIssue) rule(status int) string {
	return fmt.Sprintf("%d %s at %s: %s", status, is.Code, strings.Join(is.Expression, ", "), is.Diagnostics)
}

func TestProductExamplesRoundTrip(t *testing.T) {
	all, keys := loadExamples(t)
	set := newExampleSet(t, all, keys)
	validator, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	// The base specification's rules first, so the transaction only meets careslot's own.
	invalid := map[string]string{}
	for _, k := range set.sorted() {
		if _, err := validator.Validate(all[k].body); err != nil {
			invalid[k] = "R4 validation: " + err.Error()
		}
	}
	set.drop(invalid)
	// careslot records AuditEvents itself and refuses them from clients (405).
	auditEvents := map[string]string{}
	for _, k := range set.sorted() {
		if all[k].typ == "AuditEvent" {
			auditEvents[k] = "careslot rule: AuditEvents are recorded by careslot, never written by a client"
		}
	}
	set.drop(auditEvents)

	// Without the coverage rule: it is a deployment policy, and every Coverage example
	// names a patient missing from the example set, so no booked example could pass it.
	srv := apptest.New(t, apptest.WithoutCoverageCheck())
	refusedByRules := map[string]string{}
	var stored []string
	for attempt := 0; ; attempt++ {
		if attempt > 50 {
			t.Fatalf("the transaction still fails after %d attempts", attempt)
		}
		bundle, order := set.transaction()
		r := srv.Do(t, "POST", "", bundle)
		if r.Status == http.StatusOK {
			stored = order
			break
		}
		is, ok := firstIssue(r.Body)
		if r.Status >= 500 || !ok {
			t.Fatalf("transaction answered %d without an OperationOutcome issue: %.500s", r.Status, r.Body)
		}
		culprit := failedEntry(is, order)
		if culprit == "" {
			t.Fatalf("cannot tell which example the refusal names: %s", is.rule(r.Status))
		}
		refusedByRules[culprit] = is.rule(r.Status)
		set.drop(map[string]string{culprit: "careslot rule: " + is.rule(r.Status)})
	}

	product := 0
	for _, k := range stored {
		if slices.Contains(fhir.ProductTypes, all[k].typ) {
			product++
		}
	}
	t.Logf("stored %d examples in one transaction: %d of product types and %d they reference", len(stored), product, len(stored)-product)
	for _, k := range slices.Sorted(mapKeys(set.dropped)) {
		t.Logf("refused %s (%s): %s", k, all[k].file, set.dropped[k])
	}
	for k, rule := range refusedByRules {
		if _, known := knownRefusedByRules[k]; !known {
			t.Errorf("%s is valid R4 but careslot refused it: %s", k, rule)
		}
	}
	for k, why := range knownRefusedByRules {
		if _, refused := refusedByRules[k]; !refused {
			t.Errorf("%s is listed as refused by a careslot rule (%s) but was stored; update knownRefusedByRules", k, why)
		}
	}
	for k, rule := range set.dropped {
		if strings.HasPrefix(rule, "R4 validation") {
			if _, known := knownInvalidExamples[k]; !known {
				t.Errorf("%s is not a known-invalid example but the validator refused it: %s", k, rule)
			}
		}
	}
	perType := map[string]int{}
	for _, k := range stored {
		perType[all[k].typ]++
	}
	t.Logf("stored per type: %v", perType)

	for _, k := range stored {
		r := srv.Do(t, "GET", k, nil, "Accept", "application/fhir+json") // a Binary as a resource, not its bytes
		if r.Status != http.StatusOK {
			t.Errorf("read %s: %d %s", k, r.Status, r.Body)
			continue
		}
		if v := r.Header.Get("ETag"); v != `W/"1"` {
			// A rule changed it after its PUT, within the same transaction (an
			// AppointmentResponse updates its Appointment's participant): what was sent
			// is version 1.
			t.Logf("%s is at version %s: a careslot rule changed it after it was stored; comparing version 1", k, v)
			if r = srv.Do(t, "GET", k+"/_history/1", nil, "Accept", "application/fhir+json"); r.Status != http.StatusOK {
				t.Errorf("vread %s/_history/1: %d %s", k, r.Status, r.Body)
				continue
			}
		}
		if err := resourceOrderError(r.Body); err != nil {
			t.Errorf("%s (%s) came back out of FHIR order: %v", k, all[k].file, err)
		}
		diffs, notes := compareExample(all[k].body, r.Body)
		if len(diffs) > 0 {
			t.Errorf("%s (%s) came back different:\n  %s", k, all[k].file, strings.Join(diffs, "\n  "))
		}
		if len(notes) > 0 {
			t.Logf("%s: numbers came back in another notation (PostgreSQL jsonb normalises exponents):\n  %s", k, strings.Join(notes, "\n  "))
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// compareExample lists the differences between what was sent and what came back,
// ignoring the meta.versionId and meta.lastUpdated that the server sets. Numbers are
// compared as written: FHIR decimals keep their precision (1.50 is not 1.5).
// Notes are harmless changes of notation.
func compareExample(sent, got []byte) (diffs, notes []string) {
	want, err := decodeExact(sent)
	if err != nil {
		return []string{"sent: " + err.Error()}, nil
	}
	back, err := decodeExact(got)
	if err != nil {
		return []string{"returned: " + err.Error()}, nil
	}
	if m, ok := back.(map[string]any); ok {
		if meta, ok := m["meta"].(map[string]any); ok {
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
			if len(meta) == 0 {
				if _, sentMeta := want.(map[string]any)["meta"]; !sentMeta {
					delete(m, "meta")
				}
			}
		}
	}
	if wm, ok := want.(map[string]any); ok {
		if meta, ok := wm["meta"].(map[string]any); ok {
			// An example's own versionId/lastUpdated are replaced by the server's.
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
		}
	}
	if wm, ok := want.(map[string]any); ok && wm["resourceType"] == "Binary" {
		// base64 may be sent with whitespace (R4's base64Binary allows it); careslot
		// stores the bytes and answers them in base64 without: the same data.
		if d, ok := wm["data"].(string); ok {
			wm["data"] = strings.Join(strings.Fields(d), "")
		}
	}
	diffJSON("", want, back, &diffs, &notes)
	return diffs, notes
}

func decodeExact(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// diffJSON appends a line per difference, at most 10, with the JSON path.
func diffJSON(path string, want, got any, diffs, notes *[]string) {
	if len(*diffs) >= 10 {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: sent an object, got %s", path, short(got)))
			return
		}
		for _, k := range slices.Sorted(mapKeys(w)) {
			if _, ok := g[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffJSON(path+"."+k, w[k], g[k], diffs, notes)
		}
		for _, k := range slices.Sorted(mapKeys(g)) {
			if _, ok := w[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: added %s", path, k, short(g[k])))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: sent %d items, got %s", path, len(w), short(got)))
			return
		}
		for i := range w {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], diffs, notes)
		}
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: sent %s, got %s", path, w, short(got)))
			return
		}
		switch why := compareDecimal(string(w), string(g)); {
		case why != "":
			*diffs = append(*diffs, fmt.Sprintf("%s: sent %s, got %s: %s", path, w, short(g), why))
		case w != g:
			*notes = append(*notes, fmt.Sprintf("%s: sent %s, got the same decimal as %s", path, w, short(g)))
		}
	default:
		if want != got {
			*diffs = append(*diffs, fmt.Sprintf("%s: sent %s, got %s", path, short(want), short(got)))
		}
	}
}

// compareDecimal says how got differs from the FHIR decimal sent: a different value, or
// less precision (0.010 must not become 0.01). Notation alone may change: PostgreSQL's
// jsonb writes 1E-22 as 0.0000000000000000000001, which is the same decimal.
func compareDecimal(sent, got string) string {
	if sent == got {
		return ""
	}
	a, okA := new(big.Rat).SetString(sent)
	b, okB := new(big.Rat).SetString(got)
	if !okA || !okB {
		return "not a number"
	}
	if a.Cmp(b) != 0 {
		return "different value"
	}
	if lastDigitExponent(got) > lastDigitExponent(sent) {
		return "precision lost"
	}
	return ""
}

// lastDigitExponent is the power of ten of a decimal's last written digit:
// -2 for 1.50, 0 for 150, -263 for 1.000000000000000000E-245.
func lastDigitExponent(s string) int {
	mantissa, exp := strings.ToLower(s), 0
	if i := strings.IndexByte(mantissa, 'e'); i >= 0 {
		exp, _ = strconv.Atoi(mantissa[i+1:])
		mantissa = mantissa[:i]
	}
	if _, frac, ok := strings.Cut(mantissa, "."); ok {
		exp -= len(frac)
	}
	return exp
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func TestEveryExampleIsAcceptedOrRefusedForARule(t *testing.T) {
	all, keys := loadExamples(t)
	validator, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]bool{}
	for _, k := range keys {
		_, err := validator.Validate(all[k].body)
		if err == nil {
			continue
		}
		refused[k] = true
		fe, ok := fhirerr.As(err)
		switch {
		case !ok:
			t.Errorf("%s: refused with a %T, not a *fhirerr.Error: %v", k, err, err)
		case fe.Status() < 400 || fe.Status() > 499 || fe.Code == "" || fe.Diagnostics == "" || len(fe.Expression) == 0:
			t.Errorf("%s: refusal does not name a rule (status, code, diagnostics and expression): %+v", k, fe)
		}
		why, known := knownInvalidExamples[k]
		if !known {
			t.Errorf("%s (%s) is refused but is not a known-invalid example: %v", k, all[k].file, err)
			continue
		}
		t.Logf("refused %s as expected (%s): %v", k, why, err)
	}
	for k, why := range knownInvalidExamples {
		if !refused[k] {
			t.Errorf("%s breaks a rule (%s) but the validator accepted it", k, why)
		}
	}
	t.Logf("validator: %d examples accepted, %d refused", len(keys)-len(refused), len(refused))

	// Through HTTP too, one PUT each on a server of its own: anything that fails must be
	// a 4xx OperationOutcome naming a rule (most fail only on references to examples
	// not yet stored), never a 5xx.
	srv := apptest.New(t, apptest.WithoutCoverageCheck())
	accepted := 0
	for _, k := range keys {
		r := srv.Do(t, "PUT", k, all[k].body)
		if r.Status == http.StatusCreated || r.Status == http.StatusOK {
			accepted++
			continue
		}
		is, ok := firstIssue(r.Body)
		if r.Status < 400 || r.Status > 499 || !ok || is.Code == "" || is.Diagnostics == "" {
			t.Errorf("PUT %s: %d without a rule: %.300s", k, r.Status, r.Body)
		}
		if refused[k] && r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
			t.Errorf("PUT %s: invalid example answered %d, want 400 or 422", k, r.Status)
		}
	}
	t.Logf("HTTP: %d of %d examples stored alone, the rest refused with a 4xx rule", accepted, len(keys))
}
