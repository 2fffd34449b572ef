package fhir_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// The examples of docs/scheduling.md and docs/rest.md, sent as the docs write them (with
// ids of their own), so that the docs cannot drift from what the server does.

// docsClinic stores a doctor whose role has the specialty of the docs' $find example
// (cardiology, 394579002) and hours Monday to Friday 09:00–12:00, a schedule of that
// role, and a patient; every id starts with prefix.
func docsClinic(t *testing.T, prefix string) (schedule, practitioner, patient string) {
	t.Helper()
	practitioner, patient = "Practitioner/"+prefix+"-dr", "Patient/"+prefix+"-p"
	srv.Must(t, http.StatusCreated, "PUT", practitioner, `{"resourceType":"Practitioner","id":"`+prefix+`-dr"}`)
	srv.Must(t, http.StatusCreated, "PUT", patient, `{"resourceType":"Patient","id":"`+prefix+`-p"}`)
	srv.Must(t, http.StatusCreated, "PUT", "PractitionerRole/"+prefix+"-role", `{"resourceType":"PractitionerRole","id":"`+prefix+`-role",
		"practitioner":{"reference":"`+practitioner+`"},
		"specialty":[{"coding":[{"system":"http://snomed.info/sct","code":"394579002"}]}],
		"availableTime":[{"daysOfWeek":["mon","tue","wed","thu","fri"],"availableStartTime":"09:00:00","availableEndTime":"12:00:00"}]}`)
	srv.Must(t, http.StatusCreated, "PUT", "Schedule/"+prefix+"-sch", `{"resourceType":"Schedule","id":"`+prefix+`-sch",
		"actor":[{"reference":"PractitionerRole/`+prefix+`-role"}]}`)
	return prefix + "-sch", practitioner, patient
}

// docsBundleResources returns the resources of a Bundle answer's entries.
func docsBundleResources(t *testing.T, r *apptest.Response, wantType string) []map[string]any {
	t.Helper()
	b := r.JSON(t)
	if b["resourceType"] != "Bundle" || b["type"] != wantType {
		t.Fatalf("want a %s Bundle, got %.300s", wantType, r.Body)
	}
	entries, _ := b["entry"].([]any)
	var out []map[string]any
	for _, e := range entries {
		res, _ := e.(map[string]any)["resource"].(map[string]any)
		out = append(out, res)
	}
	return out
}

// docsStatus reads the status element of the resource at path.
func docsStatus(t *testing.T, path string) string {
	t.Helper()
	s, _ := srv.Must(t, http.StatusOK, "GET", path, nil).JSON(t)["status"].(string)
	return s
}

// docs/scheduling.md: the $generate-slots example makes the week's free slots, and
// running it again makes none; GET is 405.
func TestDocsGenerateSlotsExample(t *testing.T) {
	sch, _, _ := docsClinic(t, "docs-gen")
	body := `{"resourceType": "Parameters", "parameter": [
  {"name": "start", "valueDateTime": "2030-01-07T00:00:00Z"},
  {"name": "end", "valueDateTime": "2030-01-14T00:00:00Z"},
  {"name": "slot-length", "valueInteger": 30}]}`
	r := srv.Must(t, http.StatusOK, "POST", "Schedule/"+sch+"/$generate-slots", body)
	slots := docsBundleResources(t, r, "collection")
	// Monday to Friday, 09:00–12:00, 30 minutes each: 5 × 6.
	if total := r.JSON(t)["total"]; total != float64(30) || len(slots) != 30 {
		t.Fatalf("total %v, %d entries; want 30", total, len(slots))
	}
	if first := slots[0]; first["status"] != "free" || first["start"] != "2030-01-07T09:00:00Z" || first["end"] != "2030-01-07T09:30:00Z" {
		t.Errorf("first slot %v, want free 2030-01-07 09:00–09:30Z", first)
	}
	again := srv.Must(t, http.StatusOK, "POST", "Schedule/"+sch+"/$generate-slots", body)
	if total := again.JSON(t)["total"]; total != float64(0) {
		t.Errorf("second run made %v slots, want 0", total)
	}
	srv.Must(t, http.StatusMethodNotAllowed, "GET", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30", nil)
}

// docs/scheduling.md: $find proposes the open slots, $hold holds one for five minutes,
// and the $book example books the held appointment by appt-id.
func TestDocsFindHoldBookExample(t *testing.T) {
	sch, practitioner, patient := docsClinic(t, "docs-fhb")
	srv.Must(t, http.StatusOK, "POST", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30", nil)

	found := srv.Must(t, http.StatusOK, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&specialty=http://snomed.info/sct|394579002&patient="+patient+"&practitioner="+practitioner, nil)
	proposals := docsBundleResources(t, found, "searchset")
	if len(proposals) != 6 {
		t.Fatalf("$find: %d proposals, want the 6 slots of 09:00–12:00", len(proposals))
	}
	appt := proposals[0]
	if appt["status"] != "proposed" || appt["slot"] == nil || appt["start"] != "2030-01-07T09:00:00Z" || appt["end"] != "2030-01-07T09:30:00Z" {
		t.Fatalf("$find proposal %v: want a proposed Appointment with slot, start and end", appt)
	}
	actors := map[string]string{}
	for _, p := range appt["participant"].([]any) {
		p := p.(map[string]any)
		actors[p["actor"].(map[string]any)["reference"].(string)] = p["status"].(string)
	}
	for _, want := range []string{patient, "PractitionerRole/docs-fhb-role", practitioner} {
		if actors[want] != "needs-action" {
			t.Errorf("$find participants %v: want %s needs-action", actors, want)
		}
	}
	slot := appt["slot"].([]any)[0].(map[string]any)["reference"].(string)

	held := docsBundleResources(t, srv.Must(t, http.StatusOK, "POST", "Appointment/$hold",
		map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "appt-resource", "resource": appt}}}), "searchset")[0]
	if held["status"] != "pending" {
		t.Fatalf("$hold: status %v, want pending", held["status"])
	}
	ext := held["extension"].([]any)[0].(map[string]any)
	expires, err := time.Parse(time.RFC3339, ext["valueInstant"].(string))
	if ext["url"] != "https://careslot.dev/fhir/StructureDefinition/hold-expires" || err != nil ||
		time.Until(expires) < 4*time.Minute || time.Until(expires) > 5*time.Minute {
		t.Errorf("$hold extension %v: want hold-expires about five minutes ahead", ext)
	}
	if got := docsStatus(t, slot); got != "busy-tentative" {
		t.Errorf("held slot is %s, want busy-tentative", got)
	}

	id := held["id"].(string)
	booked := docsBundleResources(t, srv.Must(t, http.StatusOK, "POST", "Appointment/$book",
		`{"resourceType": "Parameters", "parameter": [{"name": "appt-id", "valueUri": "Appointment/`+id+`"}]}`), "searchset")[0]
	if booked["status"] != "booked" || booked["extension"] != nil {
		t.Errorf("$book: %v, want booked without the hold extension", booked)
	}
	for _, p := range booked["participant"].([]any) {
		if s := p.(map[string]any)["status"]; s != "accepted" {
			t.Errorf("$book participant %v, want accepted", p)
		}
	}
	if got := docsStatus(t, slot); got != "busy" {
		t.Errorf("booked slot is %s, want busy", got)
	}
	srv.Must(t, http.StatusMethodNotAllowed, "GET", "Appointment/$book?appt-id=Appointment/"+id, nil)
}

// docs/scheduling.md: the refusal of an overlapping booking names who is booked, when,
// by which appointment, at the participant's actor.
func TestDocsOverlapRefusalExample(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Practitioner/docs-ov-dr", `{"resourceType":"Practitioner","id":"docs-ov-dr"}`)
	srv.Must(t, http.StatusCreated, "PUT", "Patient/docs-ov-p1", `{"resourceType":"Patient","id":"docs-ov-p1"}`)
	srv.Must(t, http.StatusCreated, "PUT", "Patient/docs-ov-p2", `{"resourceType":"Patient","id":"docs-ov-p2"}`)
	appointment := func(patient, start, end string) string {
		return `{"resourceType":"Appointment","status":"booked","start":"` + start + `","end":"` + end + `",
			"participant":[{"actor":{"reference":"Patient/` + patient + `"},"status":"accepted"},
				{"actor":{"reference":"Practitioner/docs-ov-dr"},"status":"accepted"}]}`
	}
	srv.Must(t, http.StatusCreated, "PUT", "Appointment/docs-ov-a17", strings.Replace(appointment("docs-ov-p1", "2030-01-07T09:00:00Z", "2030-01-07T10:00:00Z"),
		`{"resourceType":"Appointment",`, `{"resourceType":"Appointment","id":"docs-ov-a17",`, 1))
	r := srv.Must(t, http.StatusConflict, "POST", "Appointment", appointment("docs-ov-p2", "2030-01-07T09:30:00Z", "2030-01-07T10:30:00Z"))
	want := "Practitioner/docs-ov-dr is already booked from 2030-01-07T09:00:00Z to 2030-01-07T10:00:00Z by Appointment/docs-ov-a17, which overlaps 2030-01-07T09:30:00Z to 2030-01-07T10:30:00Z"
	if is := issue(t, r); is["code"] != "conflict" || is["diagnostics"] != want {
		t.Errorf("refusal %v, want conflict %q", is, want)
	}
	if ex := expression(t, r); ex != "Appointment.participant[1].actor" {
		t.Errorf("expression %s, want Appointment.participant[1].actor", ex)
	}
	// Back to back is fine: ranges are half-open.
	srv.Must(t, http.StatusCreated, "POST", "Appointment", appointment("docs-ov-p2", "2030-01-07T10:00:00Z", "2030-01-07T10:30:00Z"))
}

// docs/rest.md: an entry may not post a batch or transaction to the base, but a Bundle
// is stored as a resource like any other.
func TestDocsBundleEntryPostingToTheBase(t *testing.T) {
	for _, url := range []string{"/", srv.URL} {
		r := srv.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Bundle","type":"batch"},"request":{"method":"POST","url":"`+url+`"}}]}`)
		if r.Status != http.StatusBadRequest || issue(t, r)["code"] != "not-supported" {
			t.Errorf("entry POST %s with a Bundle: %d %.300s, want 400 not-supported", url, r.Status, r.Body)
		}
	}
	r := srv.Must(t, http.StatusOK, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":{"resourceType":"Bundle","type":"collection"},"request":{"method":"POST","url":"Bundle"}}]}`)
	entry := r.JSON(t)["entry"].([]any)[0].(map[string]any)
	if got := entry["response"].(map[string]any)["status"]; got != "201 Created" {
		t.Errorf("entry POST Bundle: %v, want 201 Created", got)
	}
}

// docs/rest.md: decimals keep their precision, and a read writes exponents out.
func TestDocsDecimalsOnRead(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Observation/docs-dec", `{"resourceType":"Observation","id":"docs-dec","status":"final","code":{"text":"weight"},
		"valueQuantity":{"value":72.50,"unit":"kg"},"referenceRange":[{"low":{"value":1E-22}}]}`)
	body := string(srv.Must(t, http.StatusOK, "GET", "Observation/docs-dec", nil).Body)
	for _, want := range []string{"72.50", "0.0000000000000000000001"} {
		if !strings.Contains(body, want) {
			t.Errorf("read %s: want %s in it", body, want)
		}
	}
}

// README and docs/rest.md: XML or another _format is 406, a body of another content
// type 415, both as OperationOutcomes; an unknown type in the URL is 404, and PATCH with
// anything but a JSON Patch or a FHIRPath Patch in JSON 415.
// An Accept that does not name XML (a browser's) is answered in JSON.
func TestDocsFormatRefusals(t *testing.T) {
	cases := []struct {
		method, path string
		body         any
		header       []string
		want         int
	}{
		{"GET", "metadata?_format=xml", nil, nil, http.StatusNotAcceptable},
		{"GET", "metadata?_format=html", nil, nil, http.StatusNotAcceptable},
		{"GET", "metadata", nil, []string{"Accept", "application/fhir+xml"}, http.StatusNotAcceptable},
		{"POST", "Patient", "<Patient/>", []string{"Content-Type", "application/xml"}, http.StatusUnsupportedMediaType},
		{"GET", "NoSuchType/1", nil, nil, http.StatusNotFound},
		{"PATCH", "Patient/docs-any", "<Parameters/>", []string{"Content-Type", "application/fhir+xml"}, http.StatusUnsupportedMediaType},
		{"PATCH", "Patient/docs-any", "{}", []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
	}
	for _, c := range cases {
		r := srv.Do(t, c.method, c.path, c.body, c.header...)
		if r.Status != c.want || r.JSON(t)["resourceType"] != "OperationOutcome" {
			t.Errorf("%s %s: %d %.200s, want %d with an OperationOutcome", c.method, c.path, r.Status, r.Body, c.want)
		}
	}
	r := srv.Must(t, http.StatusOK, "GET", "metadata", nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/fhir+json") {
		t.Errorf("Accept text/html: Content-Type %q, want application/fhir+json", got)
	}
}
