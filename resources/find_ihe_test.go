package resources_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// iheClinic is the clinic with places: doctor 0 works for organization A at location A
// (Springfield 12345, cardiology), doctor 1 for organization B at location B
// (Shelbyville 67890, dermatology), and room B is a schedule of location B itself.
// Monday has one slot each: doctor 0 at 9:00 (check-up), doctor 1 at 10:00 (consult),
// room B at 11:00.
type iheClinic struct {
	*clinic
	orgA, orgB, locA, locB string
	slot0, slot1, slotRoom string
}

const (
	cardiology  = "http://snomed.info/sct|394579002"
	dermatology = "http://snomed.info/sct|394582007"
)

func newIHEClinic(t *testing.T) *iheClinic {
	t.Helper()
	c := &iheClinic{clinic: newClinic(t, apptest.New(t), 2)}
	c.orgA = c.create(t, map[string]any{"resourceType": "Organization", "name": "Clinic A"})
	c.orgB = c.create(t, map[string]any{"resourceType": "Organization", "name": "Clinic B"})
	c.locA = c.create(t, map[string]any{"resourceType": "Location", "name": "A", "managingOrganization": ref("Organization", c.orgA),
		"address": map[string]any{"line": []any{"1 Main Street"}, "city": "Springfield", "postalCode": "12345"}})
	c.locB = c.create(t, map[string]any{"resourceType": "Location", "name": "B", "managingOrganization": ref("Organization", c.orgB),
		"address": map[string]any{"line": []any{"9 Elm Road"}, "city": "Shelbyville", "postalCode": "67890"}})
	for i, place := range [][2]string{{c.orgA, c.locA}, {c.orgB, c.locB}} {
		c.create(t, map[string]any{"resourceType": "PractitionerRole", "practitioner": ref("Practitioner", c.doctors[i]),
			"organization": ref("Organization", place[0]), "location": []any{ref("Location", place[1])}})
	}
	room := c.create(t, map[string]any{"resourceType": "Schedule", "actor": []any{ref("Location", c.locB)}})
	slot := func(schedule string, hour int, specialty, serviceType string) string {
		doc := map[string]any{"resourceType": "Slot", "schedule": ref("Schedule", schedule), "status": "free",
			"start": instant(at(hour, 0)), "end": instant(at(hour, 30))}
		if specialty != "" {
			sys, code, _ := strings.Cut(specialty, "|")
			doc["specialty"] = []any{map[string]any{"coding": []any{map[string]any{"system": sys, "code": code}}}}
		}
		if serviceType != "" {
			doc["serviceType"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://example.org/visit-type", "code": serviceType}}}}
		}
		return c.create(t, doc)
	}
	c.slot0 = slot(c.schedules[0], 9, cardiology, "check-up")
	c.slot1 = slot(c.schedules[1], 10, dermatology, "consult")
	c.slotRoom = slot(room, 11, "", "")
	return c
}

// find runs GET $find on Monday with the query q and returns the slot ids offered, in order.
func (c *iheClinic) find(t *testing.T, q string) []string {
	t.Helper()
	r := c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&"+q, nil)
	return offeredSlots(t, bundleResources(t, r))
}

func offeredSlots(t *testing.T, appts []map[string]any) []string {
	t.Helper()
	var out []string
	for _, a := range appts {
		out = append(out, strings.TrimPrefix(a["slot"].([]any)[0].(map[string]any)["reference"].(string), "Slot/"))
	}
	return out
}

func sameList(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestFindIHEParameters: each IHE ITI-115 parameter of $find alone, repeated (any of, in
// order of preference) and combined with others (all of).
func TestFindIHEParameters(t *testing.T) {
	c := newIHEClinic(t)
	all := []string{c.slot0, c.slot1, c.slotRoom}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"none", "", all},
		{"location-reference", "location-reference=Location/" + c.locB, []string{c.slot1, c.slotRoom}},
		{"location-reference other", "location-reference=Location/" + c.locA, []string{c.slot0}},
		{"location-reference by preference", "location-reference=Location/" + c.locB + "&location-reference=Location/" + c.locA, []string{c.slot1, c.slotRoom, c.slot0}},
		{"organization", "organization=Organization/" + c.orgA, []string{c.slot0}},
		{"organization managing the room", "organization=Organization/" + c.orgB, []string{c.slot1, c.slotRoom}},
		{"organization by preference", "organization=Organization/" + c.orgB + "&organization=Organization/" + c.orgA, []string{c.slot1, c.slotRoom, c.slot0}},
		{"location-string city", "location-string=shelby", []string{c.slot1, c.slotRoom}},
		{"location-string postal code", "location-string=12345", []string{c.slot0}},
		{"location-string line", "location-string=9%20Elm", []string{c.slot1, c.slotRoom}},
		{"location-string no match", "location-string=Ogdenville", nil},
		{"specialty", "specialty=" + url.QueryEscape(cardiology), []string{c.slot0}},
		{"specialty by preference", "specialty=" + url.QueryEscape(dermatology) + "&specialty=" + url.QueryEscape(cardiology), []string{c.slot1, c.slot0}},
		{"visit-type", "visit-type=consult", []string{c.slot1}},
		{"visit-type by preference", "visit-type=consult&visit-type=check-up", []string{c.slot1, c.slot0}},
		{"service-type alias", "service-type=check-up", []string{c.slot0}},
		{"practitioner by preference", "practitioner=Practitioner/" + c.doctors[1] + "&practitioner=Practitioner/" + c.doctors[0], []string{c.slot1, c.slot0}},
		{"provider alias", "provider=Practitioner/" + c.doctors[0], []string{c.slot0}},
		{"organization and specialty", "organization=Organization/" + c.orgB + "&specialty=" + url.QueryEscape(dermatology), []string{c.slot1}},
		{"organization and another's specialty", "organization=Organization/" + c.orgB + "&specialty=" + url.QueryEscape(cardiology), nil},
		{"location and visit-type", "location-reference=Location/" + c.locB + "&visit-type=consult", []string{c.slot1}},
		{"location-string and practitioner", "location-string=Springfield&practitioner=Practitioner/" + c.doctors[0], []string{c.slot0}},
		{"location-string and another practitioner", "location-string=Springfield&practitioner=Practitioner/" + c.doctors[1], nil},
		{"specialty preference before organization preference", "specialty=" + url.QueryEscape(dermatology) + "&specialty=" + url.QueryEscape(cardiology) +
			"&organization=Organization/" + c.orgA + "&organization=Organization/" + c.orgB, []string{c.slot1, c.slot0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.find(t, tc.query); !sameList(got, tc.want) {
				t.Errorf("$find?%s offered %v, want %v", tc.query, got, tc.want)
			}
		})
	}
	t.Run("practitioner by identifier, as ITI-115's example", func(t *testing.T) {
		c.srv.Must(t, 200, "PUT", "Practitioner/"+c.doctors[1], map[string]any{"resourceType": "Practitioner", "id": c.doctors[1],
			"identifier": []any{map[string]any{"system": "urn:oid:1.3.6.1.4.1.19376.1.2.999", "value": "PR23143"}}})
		body := func(name, system, value string) map[string]any {
			return map[string]any{"resourceType": "Parameters", "parameter": []any{
				map[string]any{"name": "start", "valueDateTime": "2030-01-07T00:00:00Z"}, map[string]any{"name": "end", "valueDateTime": "2030-01-08T00:00:00Z"},
				map[string]any{"name": name, "valueReference": map[string]any{"identifier": map[string]any{"system": system, "value": value}, "display": "Dr. Pro Vider"}}}}
		}
		got := offeredSlots(t, bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$find", body("practitioner", "urn:oid:1.3.6.1.4.1.19376.1.2.999", "PR23143"))))
		if !sameList(got, []string{c.slot1}) {
			t.Errorf("practitioner by identifier offered %v", got)
		}
		if r := c.srv.Do(t, "POST", "Appointment/$find", body("practitioner", "urn:oid:1.3.6.1.4.1.19376.1.2.999", "nobody")); r.Status != 422 {
			t.Errorf("unknown identifier: %d %s", r.Status, r.Body)
		}
		if r := c.srv.Do(t, "POST", "Appointment/$find", body("patient-reference", "urn:mrn", "1")); r.Status != 400 {
			t.Errorf("patient by identifier: %d %s", r.Status, r.Body)
		}
	})
	t.Run("_count and total", func(t *testing.T) {
		r := c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&_count=1", nil)
		if got := offeredSlots(t, bundleResources(t, r)); !sameList(got, []string{c.slot0}) {
			t.Errorf("_count=1 offered %v", got)
		}
		if total := r.JSON(t)["total"]; total != float64(3) {
			t.Errorf("total %v, want 3: every match, beyond _count", total)
		}
	})
	t.Run("the offers say what they are", func(t *testing.T) {
		offers := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&visit-type=consult", nil))
		st, _ := offers[0]["serviceType"].([]any)
		sp, _ := offers[0]["specialty"].([]any)
		if len(st) != 1 || len(sp) != 1 || !strings.Contains(string(mustJSON(t, st)), `"code":"consult"`) {
			t.Errorf("offer %v: want its serviceType and specialty", offers[0])
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, q := range []string{"organization=Practitioner/" + c.doctors[0], "location-reference=Organization/" + c.orgA, "location-string=",
			"insurance-reference=Patient/" + c.patients[0], "practitioner=Location/" + c.locA, "referral-identifier=urn:x%7C", "patient-resource=x",
			"referral-identifier=a&referral-identifier=b"} {
			if r := c.srv.Do(t, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&"+q, nil); r.Status != 400 {
				t.Errorf("$find?%s: %d, want 400: %s", q, r.Status, r.Body)
			}
		}
		if r := c.srv.Do(t, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&patient-reference=Patient/nobody", nil); r.Status != 404 {
			t.Errorf("unknown patient: %d, want 404: %s", r.Status, r.Body)
		}
	})
}

// TestFindIHEPatientsInsuranceReferral: patient-reference (one or a group),
// patient-resource, insurance-reference and referral-identifier.
func TestFindIHEPatientsInsuranceReferral(t *testing.T) {
	c := newIHEClinic(t)
	p0, p1 := c.patients[0], c.patients[1]
	// Patient 0 is busy at 9:00 with doctor 1, booked without a slot.
	c.create(t, c.appointment("booked", p0, 1, at(9, 0), at(9, 30)))
	// Doctor 1 is busy at 9:00 now, which is no slot of theirs.
	t.Run("patient-reference", func(t *testing.T) {
		offers := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&patient-reference=Patient/"+p0, nil))
		if got := offeredSlots(t, offers); !sameList(got, []string{c.slot1, c.slotRoom}) {
			t.Errorf("offers for patient 0 (busy at 9:00): %v", got)
		}
		for _, o := range offers {
			if participantStatus(o, "Patient/"+p0) != "needs-action" {
				t.Errorf("offer without the patient: %v", o["participant"])
			}
		}
	})
	t.Run("a group of patients", func(t *testing.T) {
		offers := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&patient-reference=Patient/"+p1+"&patient-reference=Patient/"+p0, nil))
		if got := offeredSlots(t, offers); !sameList(got, []string{c.slot1, c.slotRoom}) {
			t.Errorf("offers for both: %v", got)
		}
		if participantStatus(offers[0], "Patient/"+p0) == "" || participantStatus(offers[0], "Patient/"+p1) == "" {
			t.Errorf("a group offer names both patients: %v", offers[0]["participant"])
		}
	})
	t.Run("patient-resource", func(t *testing.T) {
		body := map[string]any{"resourceType": "Parameters", "parameter": []any{
			map[string]any{"name": "start", "valueDateTime": "2030-01-07"}, map[string]any{"name": "end", "valueDateTime": "2030-01-08"},
			map[string]any{"name": "patient-resource", "resource": map[string]any{"resourceType": "Patient",
				"identifier": []any{map[string]any{"system": "urn:oid:1.2.3", "value": "MRN-7"}}, "name": []any{map[string]any{"family": "Newman", "given": []any{"Nina"}}}}},
		}}
		offers := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$find", body))
		if len(offers) != 3 {
			t.Fatalf("a new patient filters nothing: %d offers", len(offers))
		}
		actor := offers[0]["participant"].([]any)[0].(map[string]any)["actor"].(map[string]any)
		if actor["type"] != "Patient" || actor["display"] != "Nina Newman" || actor["identifier"].(map[string]any)["value"] != "MRN-7" {
			t.Errorf("new patient participant: %v", actor)
		}
		// A stored patient's resource counts as the reference to it.
		body["parameter"].([]any)[2].(map[string]any)["resource"] = map[string]any{"resourceType": "Patient", "id": p0}
		if got := offeredSlots(t, bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$find", body))); !sameList(got, []string{c.slot1, c.slotRoom}) {
			t.Errorf("stored patient-resource: %v", got)
		}
	})
	t.Run("insurance-reference", func(t *testing.T) {
		// Patient 1's coverage ends at 9:59: only the 9:00 slot is covered.
		short := c.create(t, coverage(p1, c.insurer, "2020-01-01", "2030-01-07T09:59:00Z"))
		offers := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&patient-reference=Patient/"+p1+"&insurance-reference=Coverage/"+short, nil))
		if got := offeredSlots(t, offers); !sameList(got, []string{c.slot0}) {
			t.Errorf("offers within the coverage: %v", got)
		}
		if s, _ := offers[0]["supportingInformation"].([]any); len(s) != 1 || s[0].(map[string]any)["reference"] != "Coverage/"+short {
			t.Errorf("the offer does not carry the coverage: %v", offers[0]["supportingInformation"])
		}
		// The insurance rule then checks that coverage, not any of the patient's: it pays
		// at 9:00 and not at 10:00, though patient 1 has another coverage in force then.
		c.srv.Must(t, 200, "POST", "Appointment/$book", params("appointment-resource", offers[0]))
		late := c.appointment("booked", p1, 1, at(10, 0), at(10, 30), c.slot1)
		late["supportingInformation"] = []any{ref("Coverage", short)}
		r := c.srv.Do(t, "POST", "Appointment", late)
		if code, _ := diagnostics(t, r); r.Status != 422 || code != "business-rule" || !strings.Contains(string(r.Body), "Appointment.supportingInformation") {
			t.Errorf("booking past the named coverage: %d %s", r.Status, r.Body)
		}
		inactive := coverage(p1, c.insurer, "2020-01-01", "2040-12-31")
		inactive["status"] = "cancelled"
		for _, q := range []string{"patient-reference=Patient/" + p0 + "&insurance-reference=Coverage/" + short, // another patient's
			"insurance-reference=Coverage/" + c.create(t, inactive)} {
			if r := c.srv.Do(t, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&"+q, nil); r.Status != 422 {
				t.Errorf("$find?%s: %d, want 422: %s", q, r.Status, r.Body)
			}
		}
		if r := c.srv.Do(t, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&insurance-reference=Coverage/nothing", nil); r.Status != 404 {
			t.Errorf("unknown coverage: %d, want 404: %s", r.Status, r.Body)
		}
	})
	t.Run("referral-identifier", func(t *testing.T) {
		offers := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&referral-identifier=urn:oid:1.2.3%7CREF-1", nil))
		based, _ := offers[0]["basedOn"].([]any)
		if len(based) != 1 || based[0].(map[string]any)["type"] != "ServiceRequest" ||
			based[0].(map[string]any)["identifier"].(map[string]any)["value"] != "REF-1" {
			t.Errorf("basedOn %v", offers[0]["basedOn"])
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
