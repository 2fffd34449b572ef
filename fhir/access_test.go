package fhir_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// The clinic of the access tests: Alice and Bob are patients, Carol is a patient no one
// has seen; Dr One has an appointment with Alice, Dr Two with Bob. Observations:
// Alice's lab and vital signs (her lab one names Bob as performer, which puts it in
// Bob's compartment too), Bob's lab (whose focus is Alice, which does not put it in
// hers), so that chains, _include and _revinclude lead across patients.
var accessClinic = []map[string]any{
	{"resourceType": "Patient", "id": "acc-alice", "name": []any{map[string]any{"family": "Alice"}}},
	{"resourceType": "Patient", "id": "acc-bob", "name": []any{map[string]any{"family": "Bob"}}},
	{"resourceType": "Patient", "id": "acc-carol", "name": []any{map[string]any{"family": "Carol"}}},
	{"resourceType": "Practitioner", "id": "acc-d1", "name": []any{map[string]any{"family": "One"}}},
	{"resourceType": "Practitioner", "id": "acc-d2", "name": []any{map[string]any{"family": "Two"}}},
	{"resourceType": "Schedule", "id": "acc-s1", "actor": []any{ref("Practitioner/acc-d1")}},
	{"resourceType": "Schedule", "id": "acc-s2", "actor": []any{ref("Practitioner/acc-d2")}},
	{"resourceType": "Appointment", "id": "acc-a1", "status": "proposed", "participant": []any{
		map[string]any{"actor": ref("Patient/acc-alice"), "status": "needs-action"},
		map[string]any{"actor": ref("Practitioner/acc-d1"), "status": "needs-action"}}},
	{"resourceType": "Appointment", "id": "acc-a2", "status": "proposed", "participant": []any{
		map[string]any{"actor": ref("Patient/acc-bob"), "status": "needs-action"},
		map[string]any{"actor": ref("Practitioner/acc-d2"), "status": "needs-action"}}},
	observation("acc-o-alice-lab", "acc-alice", "laboratory", "Patient/acc-bob"),
	observation("acc-o-alice-vital", "acc-alice", "vital-signs", ""),
	withFocus(observation("acc-o-bob-lab", "acc-bob", "laboratory", ""), "Patient/acc-alice"),
	{"resourceType": "Coverage", "id": "acc-c-alice", "status": "active", "beneficiary": ref("Patient/acc-alice"), "payor": []any{ref("Patient/acc-alice")}},
	{"resourceType": "Coverage", "id": "acc-c-bob", "status": "active", "beneficiary": ref("Patient/acc-bob"), "payor": []any{ref("Patient/acc-bob")}},
}

func ref(r string) map[string]any { return map[string]any{"reference": r} }

func withFocus(o map[string]any, focus string) map[string]any {
	o["focus"] = []any{ref(focus)}
	return o
}

func observation(id, patient, category, performer string) map[string]any {
	o := map[string]any{"resourceType": "Observation", "status": "final",
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}}}},
		"code":    map[string]any{"text": "acc-" + category},
		"subject": ref("Patient/" + patient)}
	if performer != "" {
		o["performer"] = []any{ref(performer)}
	}
	if id != "" {
		o["id"] = id
	}
	return o
}

// accessCase is one row of the who-may-do-what table: a request, the status it must get
// and, for a search or history, exactly the resources it must show.
type accessCase struct {
	name         string
	method, path string
	body         any
	status       int
	ids          []string // for a Bundle answer: the Type/id of every entry, in any order
	notShown     string   // text the answer must not contain, e.g. the id of a hidden resource
}

func TestWhoMayDoWhat(t *testing.T) {
	s := apptest.New(t, apptest.WithoutCoverageCheck())
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.cruds"))
	for _, res := range accessClinic {
		s.Must(t, http.StatusCreated, "PUT", res["resourceType"].(string)+"/"+res["id"].(string), res, apptest.Bearer(admin)...)
	}
	slot := func(id, schedule string) map[string]any {
		return map[string]any{"resourceType": "Slot", "id": id, "status": "free", "schedule": ref("Schedule/" + schedule),
			"start": "2031-01-06T09:00:00Z", "end": "2031-01-06T09:30:00Z"}
	}
	s.Must(t, http.StatusCreated, "PUT", "Slot/acc-sl2", slot("acc-sl2", "acc-s2"), apptest.Bearer(admin)...)
	appointmentFor := func(patient, doctor string) map[string]any {
		return map[string]any{"resourceType": "Appointment", "status": "proposed", "participant": []any{
			map[string]any{"actor": ref("Patient/" + patient), "status": "needs-action"},
			map[string]any{"actor": ref("Practitioner/" + doctor), "status": "needs-action"}}}
	}
	// Busy slots: one booked for Bob, one for Alice.
	for _, b := range []struct{ slot, patient, appt, start, end string }{
		{"acc-sl-bob", "acc-bob", "acc-a-bob-busy", "2031-01-07T09:00:00Z", "2031-01-07T09:30:00Z"},
		{"acc-sl-alice", "acc-alice", "acc-a-alice-busy", "2031-01-07T10:00:00Z", "2031-01-07T10:30:00Z"},
	} {
		sl := slot(b.slot, "acc-s2")
		sl["start"], sl["end"] = b.start, b.end
		s.Must(t, http.StatusCreated, "PUT", "Slot/"+b.slot, sl, apptest.Bearer(admin)...)
		appt := appointmentFor(b.patient, "acc-d2")
		appt["id"], appt["status"], appt["slot"], appt["start"], appt["end"] = b.appt, "booked", []any{ref("Slot/" + b.slot)}, b.start, b.end
		s.Must(t, http.StatusCreated, "PUT", "Appointment/"+b.appt, appt, apptest.Bearer(admin)...)
	}
	response := func(appt, actor string) map[string]any {
		return map[string]any{"resourceType": "AppointmentResponse", "appointment": ref("Appointment/" + appt),
			"actor": ref(actor), "participantStatus": "accepted"}
	}

	patient := func(id string, scopes ...string) string { return s.Token(t, smarttest.Patient(s.URL, id, scopes...)) }
	doctor := func(id, launch string, scopes ...string) string {
		return s.Token(t, smarttest.Practitioner(s.URL, id, launch, scopes...))
	}
	alice := patient("acc-alice", "patient/*.rs")
	aliceWrites := patient("acc-alice", "patient/*.cruds")
	aliceLab := patient("acc-alice", "patient/Observation.rs?category=laboratory")
	aliceNoScopes := patient("acc-alice", "openid", "fhirUser", "launch/patient")
	aliceV1 := patient("acc-alice", "patient/*.read", "user/Appointment.write")
	carol := patient("acc-carol", "patient/*.cruds")
	d1 := doctor("acc-d1", "", "user/*.cruds")
	d1ForBob := doctor("acc-d1", "acc-bob", "patient/*.rs")
	d1ForAlice := doctor("acc-d1", "acc-alice", "patient/*.rs")
	backendRead := s.Token(t, smarttest.System(s.URL, "acc-backend", "system/*.rs"))
	backendUserScopes := s.Token(t, smarttest.System(s.URL, "acc-backend", "user/*.cruds"))

	aliceObs := []string{"Observation/acc-o-alice-lab", "Observation/acc-o-alice-vital"}
	transaction := func(typ string, entries ...map[string]any) map[string]any {
		return map[string]any{"resourceType": "Bundle", "type": typ, "entry": entries}
	}
	get := func(url string) map[string]any {
		return map[string]any{"request": map[string]any{"method": "GET", "url": url}}
	}
	put := func(res map[string]any) map[string]any {
		return map[string]any{"resource": res, "request": map[string]any{"method": "PUT", "url": res["resourceType"].(string) + "/" + res["id"].(string)}}
	}
	aliceRenamed := map[string]any{"resourceType": "Patient", "id": "acc-alice", "name": []any{map[string]any{"family": "Alice", "given": []any{"A"}}}}
	bobRenamed := map[string]any{"resourceType": "Patient", "id": "acc-bob", "name": []any{map[string]any{"family": "Bobby"}}}
	params := func(name string, value any) map[string]any {
		p := map[string]any{"name": name}
		switch v := value.(type) {
		case string:
			p["valueString"] = v
		default:
			p["resource"] = v
		}
		return map[string]any{"resourceType": "Parameters", "parameter": []any{p}}
	}

	table := map[string][]accessCase{ // run in the order of names below: readers first, writers last
		// A patient with read scopes sees their own record and the directory, nothing of Bob.
		alice: {
			{name: "own Patient", method: "GET", path: "Patient/acc-alice", status: 200},
			{name: "another patient by id is 404 like a missing one", method: "GET", path: "Patient/acc-bob", status: 404},
			{name: "another patient's record by id", method: "GET", path: "Observation/acc-o-bob-lab", status: 404},
			{name: "another patient's record by vread", method: "GET", path: "Observation/acc-o-bob-lab/_history/1", status: 404},
			{name: "another patient's history", method: "GET", path: "Patient/acc-bob/_history", status: 404},
			{name: "another patient's appointment", method: "GET", path: "Appointment/acc-a2", status: 404},
			{name: "another patient's coverage", method: "GET", path: "Coverage/acc-c-bob", status: 404},
			{name: "own record", method: "GET", path: "Observation/acc-o-alice-lab", status: 200},
			{name: "search shows only own records", method: "GET", path: "Observation?code:text=acc", status: 200, ids: aliceObs},
			{name: "search by another patient finds nothing", method: "GET", path: "Observation?subject=Patient/acc-bob", status: 200, ids: []string{}},
			{name: "total counts only what is visible", method: "GET", path: "Observation?code:text=acc&_total=accurate&_count=1", status: 200, ids: []string{"Observation/acc-o-alice-lab"}},
			{name: "compartment of another patient: only her own record that names him", method: "GET", path: "Patient/acc-bob/Observation", status: 200,
				ids: []string{"Observation/acc-o-alice-lab"}},
			{name: "patients: only herself", method: "GET", path: "Patient?name=Alice,Bob,Carol", status: 200, ids: []string{"Patient/acc-alice"}},
			{name: "chain into another patient", method: "GET", path: "Observation?performer:Patient.name=Bob", status: 200, ids: []string{}},
			{name: "chain into herself", method: "GET", path: "Observation?subject:Patient.name=Alice", status: 200, ids: aliceObs},
			{name: "_include of another patient", method: "GET", path: "Observation?_id=acc-o-alice-lab&_include=Observation:performer", status: 200,
				ids: []string{"Observation/acc-o-alice-lab"}},
			{name: "_revinclude of another patient's record", method: "GET", path: "Patient?_id=acc-alice&_revinclude=Observation:focus", status: 200,
				ids: []string{"Patient/acc-alice"}},
			{name: "_has through another patient's appointment", method: "GET", path: "Practitioner?_has:Appointment:practitioner:patient=Patient/acc-bob", status: 200, ids: []string{}},
			{name: "_has through her own appointment", method: "GET", path: "Practitioner?_has:Appointment:practitioner:patient=Patient/acc-alice", status: 200,
				ids: []string{"Practitioner/acc-d1", "Practitioner/acc-d2"}},
			{name: "type history shows only own", method: "GET", path: "Observation/_history", status: 200, ids: aliceObs},
			{name: "the system history is refused", method: "GET", path: "_history", status: 403},
			{name: "directory", method: "GET", path: "Practitioner/acc-d2", status: 200},
			{name: "directory search", method: "GET", path: "Schedule?actor=Practitioner/acc-d2", status: 200, ids: []string{"Schedule/acc-s2"}},
			{name: "free slots and her own", method: "GET", path: "Slot?schedule=Schedule/acc-s2", status: 200, ids: []string{"Slot/acc-sl2", "Slot/acc-sl-alice"}},
			{name: "a busy slot of another patient's appointment", method: "GET", path: "Slot/acc-sl-bob", status: 404},
			{name: "the busy slot of her own appointment", method: "GET", path: "Slot/acc-sl-alice", status: 200},
			{name: "a search of index clauses only keeps to her records", method: "GET", path: "Observation?category=laboratory", status: 200,
				ids: []string{"Observation/acc-o-alice-lab"}},
			{name: "write with read scopes", method: "PUT", path: "Patient/acc-alice", body: aliceRenamed, status: 403},
			{name: "batch GET of another patient", method: "POST", path: "", body: transaction("batch", get("Observation/acc-o-bob-lab"), get("Patient/acc-alice")), status: 200,
				ids: []string{"404", "Patient/acc-alice"}},
			{name: "transaction GET of another patient fails the transaction", method: "POST", path: "", body: transaction("transaction", get("Observation/acc-o-bob-lab")), status: 404},
			{name: "$find for another patient", method: "POST", path: "Appointment/$find?start=2031-01-06T00:00:00Z&end=2031-01-07T00:00:00Z&patient=Patient/acc-bob", status: 404},
			{name: "$find for herself", method: "GET", path: "Appointment/$find?start=2031-01-06T00:00:00Z&end=2031-01-07T00:00:00Z&patient=Patient/acc-alice", status: 200},
			{name: "subscriptions: only her own, and she has none", method: "GET", path: "Subscription", status: 200, ids: []string{}},
		},
		// With write scopes she changes her own Patient and appointments, nothing else.
		aliceWrites: {
			{name: "update own Patient", method: "PUT", path: "Patient/acc-alice", body: aliceRenamed, status: 200},
			{name: "update another patient", method: "PUT", path: "Patient/acc-bob", body: bobRenamed, status: 404},
			{name: "delete own Patient", method: "DELETE", path: "Patient/acc-alice", status: 403},
			{name: "delete own appointment (cancel it instead)", method: "DELETE", path: "Appointment/acc-a1", status: 403},
			{name: "create a Patient", method: "POST", path: "Patient", body: map[string]any{"resourceType": "Patient"}, status: 403},
			{name: "write a record", method: "POST", path: "Observation", body: observation("", "acc-alice", "laboratory", ""), status: 403},
			{name: "create own coverage", method: "POST", path: "Coverage", body: map[string]any{"resourceType": "Coverage", "status": "active",
				"beneficiary": ref("Patient/acc-alice"), "payor": []any{ref("Patient/acc-alice")}}, status: 201},
			{name: "create coverage for another patient", method: "POST", path: "Coverage", body: map[string]any{"resourceType": "Coverage", "status": "active",
				"beneficiary": ref("Patient/acc-bob"), "payor": []any{ref("Patient/acc-bob")}}, status: 422},
			{name: "create her coverage naming another patient as subscriber", method: "POST", path: "Coverage", body: map[string]any{"resourceType": "Coverage", "status": "active",
				"beneficiary": ref("Patient/acc-alice"), "subscriber": ref("Patient/acc-bob"), "payor": []any{ref("Patient/acc-alice")}}, status: 422},
			{name: "request an appointment for herself", method: "POST", path: "Appointment", body: appointmentFor("acc-alice", "acc-d2"), status: 201},
			{name: "request an appointment for another patient: as if he did not exist", method: "POST", path: "Appointment", body: appointmentFor("acc-bob", "acc-d2"), status: 422},
			{name: "request an appointment for a patient who does not exist", method: "POST", path: "Appointment", body: appointmentFor("acc-nobody", "acc-d2"), status: 422},
			{name: "move her appointment to another patient", method: "PUT", path: "Appointment/acc-a1",
				body: func() map[string]any { a := appointmentFor("acc-bob", "acc-d1"); a["id"] = "acc-a1"; return a }(), status: 422},
			{name: "move her appointment to herself and a patient who does not exist", method: "PUT", path: "Appointment/acc-a1",
				body: func() map[string]any {
					a := appointmentFor("acc-alice", "acc-d1")
					a["id"], a["participant"] = "acc-a1", append(a["participant"].([]any), map[string]any{"actor": ref("Patient/acc-nobody"), "status": "needs-action"})
					return a
				}(), status: 422},
			{name: "cancel another patient's appointment", method: "PUT", path: "Appointment/acc-a2",
				body: func() map[string]any {
					a := appointmentFor("acc-bob", "acc-d2")
					a["id"] = "acc-a2"
					a["status"] = "cancelled"
					return a
				}(), status: 404},
			{name: "$book another patient's appointment", method: "POST", path: "Appointment/$book", body: params("appt-id", "Appointment/acc-a2"), status: 404},
			{name: "$hold for another patient", method: "POST", path: "Appointment/$hold", body: params("appt-resource", func() map[string]any {
				a := appointmentFor("acc-bob", "acc-d2")
				a["slot"], a["start"], a["end"] = []any{ref("Slot/acc-sl2")}, "2031-01-06T09:00:00Z", "2031-01-06T09:30:00Z"
				return a
			}()), status: 422}, // as if he did not exist
			{name: "transaction writing another patient", method: "POST", path: "", body: transaction("transaction", put(aliceRenamed), put(bobRenamed)), status: 404},
			{name: "write a slot", method: "PUT", path: "Slot/acc-sl2", body: slot("acc-sl2", "acc-s2"), status: 403},
			{name: "book a slot another patient has: taken (409), not missing", method: "POST", path: "Appointment", body: func() map[string]any {
				a := appointmentFor("acc-alice", "acc-d2")
				a["status"], a["slot"], a["start"], a["end"] = "booked", []any{ref("Slot/acc-sl-bob")}, "2031-01-07T09:00:00Z", "2031-01-07T09:30:00Z"
				return a
			}(), status: 409, notShown: "acc-bob"},
		},
		// A v2 scope narrowed to laboratory results shows those, and nothing else.
		aliceLab: {
			{name: "lab result", method: "GET", path: "Observation/acc-o-alice-lab", status: 200},
			{name: "vital signs are outside the scope", method: "GET", path: "Observation/acc-o-alice-vital", status: 404},
			{name: "search keeps to the scope", method: "GET", path: "Observation", status: 200, ids: []string{"Observation/acc-o-alice-lab"}},
			{name: "another patient's lab result", method: "GET", path: "Observation/acc-o-bob-lab", status: 404},
			{name: "Patient is outside the scopes", method: "GET", path: "Patient/acc-alice", status: 403},
		},
		aliceNoScopes: {
			{name: "no resource scope", method: "GET", path: "Patient/acc-alice", status: 403},
			{name: "no resource scope to search", method: "GET", path: "Observation", status: 403},
		},
		// v1 scopes: patient/*.read and user/Appointment.write.
		aliceV1: {
			{name: "v1 read", method: "GET", path: "Observation", status: 200, ids: aliceObs},
			{name: "v1 read of another patient", method: "GET", path: "Patient/acc-bob", status: 404},
			{name: "v1 write of an appointment", method: "POST", path: "Appointment", body: appointmentFor("acc-alice", "acc-d1"), status: 201},
			{name: "v1 write outside the scope", method: "PUT", path: "Patient/acc-alice", body: aliceRenamed, status: 403},
		},
		// Carol has no appointment with anyone: she sees herself only.
		carol: {
			{name: "herself", method: "GET", path: "Patient/acc-carol", status: 200},
			{name: "Alice", method: "GET", path: "Patient/acc-alice", status: 404},
			{name: "appointments", method: "GET", path: "Appointment", status: 200, ids: []string{}},
		},
		// Dr One reaches Alice (his patient), not Bob, and writes his own schedule only.
		d1: {
			{name: "his patient", method: "GET", path: "Patient/acc-alice", status: 200},
			{name: "another doctor's patient", method: "GET", path: "Patient/acc-bob", status: 404},
			{name: "a patient nobody saw", method: "GET", path: "Patient/acc-carol", status: 404},
			{name: "his patients' records", method: "GET", path: "Observation?code:text=acc", status: 200, ids: aliceObs},
			{name: "his appointments", method: "GET", path: "Appointment?_id=acc-a1,acc-a2", status: 200, ids: []string{"Appointment/acc-a1"}},
			{name: "patients by _has", method: "GET", path: "Patient?_has:Observation:subject:category=laboratory", status: 200, ids: []string{"Patient/acc-alice"}},
			{name: "chain to another doctor's patient", method: "GET", path: "Observation?performer:Patient.name=Bob", status: 200, ids: []string{}},
			{name: "update his patient's record", method: "PUT", path: "Observation/acc-o-alice-vital", body: observation("acc-o-alice-vital", "acc-alice", "vital-signs", ""), status: 200},
			{name: "update another doctor's patient's record", method: "PUT", path: "Observation/acc-o-bob-lab", body: observation("acc-o-bob-lab", "acc-bob", "laboratory", ""), status: 404},
			{name: "move a record to a patient not his: as if she did not exist", method: "PUT", path: "Observation/acc-o-alice-vital", body: observation("acc-o-alice-vital", "acc-carol", "vital-signs", ""), status: 422},
			{name: "move a record to his patient and a patient who does not exist", method: "PUT", path: "Observation/acc-o-alice-vital",
				body: withFocus(observation("acc-o-alice-vital", "acc-alice", "vital-signs", ""), "Patient/acc-nobody"), status: 422},
			{name: "his patient's record naming other practitioners", method: "PUT", path: "Observation/acc-o-alice-vital",
				body: withFocus(observation("acc-o-alice-vital", "acc-alice", "vital-signs", "Practitioner/acc-d2"), "Practitioner/acc-d1"), status: 200},
			{name: "create a record for his patient", method: "POST", path: "Observation", body: observation("", "acc-alice", "laboratory", ""), status: 201},
			{name: "create his schedule", method: "POST", path: "Schedule", body: map[string]any{"resourceType": "Schedule", "actor": []any{ref("Practitioner/acc-d1")}}, status: 201},
			{name: "create another doctor's schedule", method: "POST", path: "Schedule", body: map[string]any{"resourceType": "Schedule", "actor": []any{ref("Practitioner/acc-d2")}}, status: 403},
			{name: "a slot in his schedule", method: "PUT", path: "Slot/acc-sl1", body: slot("acc-sl1", "acc-s1"), status: 201},
			{name: "a slot in another doctor's schedule", method: "PUT", path: "Slot/acc-sl2", body: slot("acc-sl2", "acc-s2"), status: 403},
			{name: "$generate-slots on another doctor's schedule", method: "POST", path: "Schedule/acc-s2/$generate-slots?start=2031-02-01&end=2031-02-02&slot-length=30", status: 403},
			{name: "answer his appointment", method: "POST", path: "AppointmentResponse", body: response("acc-a1", "Practitioner/acc-d1"), status: 201},
			{name: "answer another doctor's appointment: as if it did not exist", method: "POST", path: "AppointmentResponse", body: response("acc-a2", "Practitioner/acc-d2"), status: 422},
			{name: "answer his appointment as another doctor (not a participant)", method: "POST", path: "AppointmentResponse", body: response("acc-a1", "Practitioner/acc-d2"), status: 422},
			{name: "the directory is read-only", method: "PUT", path: "Practitioner/acc-d1", body: map[string]any{"resourceType": "Practitioner", "id": "acc-d1"}, status: 403},
			{name: "transaction touching another doctor's patient", method: "POST", path: "", body: transaction("transaction", put(bobRenamed)), status: 404},
			{name: "delete his patient, to whom a record he may not see refers: which is not told", method: "DELETE", path: "Patient/acc-alice", status: 409,
				notShown: "acc-o-bob-lab"},
			{name: "nor by a cascade", method: "DELETE", path: "Patient/acc-alice?_cascade=delete", status: 409, notShown: "acc-o-bob-lab"},
		},
		// A practitioner app launched for one patient reaches that patient only, and only
		// if the practitioner may.
		d1ForAlice: {
			{name: "the launch patient", method: "GET", path: "Patient/acc-alice", status: 200},
			{name: "records of the launch patient", method: "GET", path: "Observation", status: 200, ids: aliceObs},
		},
		d1ForBob: {
			{name: "a launch patient who is not his", method: "GET", path: "Patient/acc-bob", status: 404},
			{name: "his patient outside the launch", method: "GET", path: "Patient/acc-alice", status: 404},
		},
		admin: {
			{name: "any patient", method: "GET", path: "Patient/acc-bob", status: 200},
			{name: "every record", method: "GET", path: "Observation?code:text=acc", status: 200,
				ids: []string{"Observation/acc-o-alice-lab", "Observation/acc-o-alice-vital", "Observation/acc-o-bob-lab"}},
			{name: "_include across patients", method: "GET", path: "Observation?_id=acc-o-alice-lab&_include=Observation:performer", status: 200,
				ids: []string{"Observation/acc-o-alice-lab", "Patient/acc-bob"}},
			{name: "system history", method: "GET", path: "_history?_count=1", status: 200},
		},
		backendRead: {
			{name: "system read", method: "GET", path: "Patient/acc-bob", status: 200},
			{name: "system write without the scope", method: "PUT", path: "Patient/acc-bob", body: bobRenamed, status: 403},
		},
		backendUserScopes: {
			{name: "a backend's user/ scopes grant nothing", method: "GET", path: "Patient/acc-bob", status: 403},
		},
	}
	order := []struct{ token, name string }{{alice, "alice patient/*.rs"}, {aliceLab, "alice lab scope"},
		{aliceNoScopes, "alice no resource scopes"}, {carol, "carol"}, {d1ForAlice, "dr one launched for alice"},
		{d1ForBob, "dr one launched for bob"}, {admin, "admin"}, {backendRead, "backend system/*.rs"},
		{backendUserScopes, "backend user/ scopes"}, {aliceV1, "alice v1"}, {aliceWrites, "alice patient/*.cruds"},
		{d1, "dr one user/*.cruds"}}
	if len(order) != len(table) {
		t.Fatalf("%d tokens in the table, %d in the order", len(table), len(order))
	}
	for _, who := range order {
		token := who.token
		for _, c := range table[token] {
			t.Run(who.name+"/"+c.name, func(t *testing.T) {
				r := s.Do(t, c.method, c.path, c.body, apptest.Bearer(token)...)
				if r.Status != c.status {
					t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, r.Status, c.status, r.Body)
				}
				if r.Status >= 400 {
					if out := r.JSON(t); out["resourceType"] != "OperationOutcome" {
						t.Fatalf("a refusal without an OperationOutcome: %s", r.Body)
					}
					for _, secret := range []string{"Bob\"", "Bobby", "acc-o-bob-lab\""} {
						if strings.Contains(string(r.Body), secret) {
							t.Fatalf("the refusal shows %s: %s", secret, r.Body)
						}
					}
				}
				if c.notShown != "" && strings.Contains(string(r.Body), c.notShown) {
					t.Fatalf("the answer shows %s: %s", c.notShown, r.Body)
				}
				if c.ids != nil {
					if got := bundleIDs(t, r.Body); !sameSet(got, c.ids) {
						t.Fatalf("%s %s: entries %v, want %v", c.method, c.path, got, c.ids)
					}
				}
				if strings.Contains(c.path, "_total=accurate") {
					if total := r.JSON(t)["total"]; total != float64(len(aliceObs)) {
						t.Fatalf("total = %v, want %d: what the caller may not see is not counted", total, len(aliceObs))
					}
				}
			})
		}
	}
}

// A denied read of a record that exists gets the same answer as a missing one.
func TestDeniedReadIsLikeMissing(t *testing.T) {
	s := apptest.New(t, apptest.WithoutCoverageCheck())
	admin := s.Token(t, smarttest.Admin(s.URL, "user/*.cruds"))
	for _, res := range accessClinic[:3] {
		s.Must(t, http.StatusCreated, "PUT", res["resourceType"].(string)+"/"+res["id"].(string), res, apptest.Bearer(admin)...)
	}
	alice := s.Token(t, smarttest.Patient(s.URL, "acc-alice", "patient/*.rs"))
	hidden := s.Do(t, "GET", "Patient/acc-bob", nil, apptest.Bearer(alice)...)
	missing := s.Do(t, "GET", "Patient/acc-nobody", nil, apptest.Bearer(alice)...)
	if hidden.Status != http.StatusNotFound || missing.Status != http.StatusNotFound {
		t.Fatalf("hidden %d, missing %d; want 404 both", hidden.Status, missing.Status)
	}
	if strings.ReplaceAll(string(hidden.Body), "acc-bob", "X") != strings.ReplaceAll(string(missing.Body), "acc-nobody", "X") {
		t.Fatalf("the answers differ:\n%s\n%s", hidden.Body, missing.Body)
	}
	// A deleted resource she may not see is missing to her too, not gone.
	s.Must(t, http.StatusNoContent, "DELETE", "Patient/acc-carol", nil, apptest.Bearer(admin)...)
	s.Must(t, http.StatusNotFound, "GET", "Patient/acc-carol", nil, apptest.Bearer(alice)...)
	s.Must(t, http.StatusGone, "GET", "Patient/acc-carol", nil, apptest.Bearer(admin)...)
}

// bundleIDs lists a Bundle's entries as Type/id, or the status code of an entry that
// failed (a batch's 404); OperationOutcome entries of a search are left out.
func bundleIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Search   *struct {
				Mode string `json:"mode"`
			} `json:"search"`
			Response *struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", body)
	}
	out := []string{}
	for _, e := range b.Entry {
		if e.Search != nil && e.Search.Mode == "outcome" {
			continue
		}
		var res struct {
			ResourceType, ID string
		}
		json.Unmarshal(e.Resource, &res)
		if e.Response != nil && !strings.HasPrefix(e.Response.Status, "2") {
			out = append(out, strings.Fields(e.Response.Status)[0])
			continue
		}
		out = append(out, res.ResourceType+"/"+res.ID)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
