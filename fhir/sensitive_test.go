package fhir_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// restricted labels a resource with v3-Confidentiality code (R or V).
func restricted(res map[string]any, code string) map[string]any {
	res["meta"] = map[string]any{"security": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": code}}}
	return res
}

func condition(id, patient, encounter, code string) map[string]any {
	c := map[string]any{"resourceType": "Condition", "id": id, "subject": ref("Patient/" + patient),
		"code": map[string]any{"coding": []any{map[string]any{"system": "http://example.org/dx", "code": code}}}}
	if encounter != "" {
		c["encounter"] = ref("Encounter/" + encounter)
	}
	return c
}

// A record labelled restricted (R) or very restricted (V) is seen by its patient, admins
// and the practitioners of its visit only; another practitioner of the patient's sees
// nothing of it: not by id, nor in searches, totals, _include, _revinclude, chains, _has
// or history.
func TestSensitiveRecords(t *testing.T) {
	t.Parallel()
	appointment := func(id, practitioner string) map[string]any {
		return map[string]any{"resourceType": "Appointment", "id": id, "status": "proposed", "participant": []any{
			map[string]any{"actor": ref("Patient/sen-pat"), "status": "needs-action"},
			map[string]any{"actor": ref("Practitioner/" + practitioner), "status": "needs-action"}}}
	}
	for _, res := range []map[string]any{
		{"resourceType": "Patient", "id": "sen-pat"},
		{"resourceType": "Practitioner", "id": "sen-d1"}, {"resourceType": "Practitioner", "id": "sen-d2"},
		{"resourceType": "Practitioner", "id": "sen-d3"},
		// Dr One saw the patient in visit e1; Dr Two sees her too (in a2), so she is his
		// patient, but e1 is not his visit. Dr Three took part in e2 by its appointment only.
		appointment("sen-a1", "sen-d1"), appointment("sen-a2", "sen-d2"), appointment("sen-a3", "sen-d3"),
		{"resourceType": "Encounter", "id": "sen-e1", "status": "finished", "class": map[string]any{"code": "AMB"},
			"subject": ref("Patient/sen-pat"), "appointment": []any{ref("Appointment/sen-a1")},
			"participant": []any{map[string]any{"individual": ref("Practitioner/sen-d1")}}},
		restricted(map[string]any{"resourceType": "Encounter", "id": "sen-e2", "status": "finished", "class": map[string]any{"code": "AMB"},
			"subject": ref("Patient/sen-pat"), "appointment": []any{ref("Appointment/sen-a3")}}, "V"),
		restricted(condition("sen-c-hiv", "sen-pat", "sen-e1", "hiv"), "R"),
		condition("sen-c-flu", "sen-pat", "sen-e1", "flu"),
		condition("sen-c-e2", "sen-pat", "sen-e2", "sprain"),
		restricted(condition("sen-c-novisit", "sen-pat", "", "psych"), "V"),
		// Normal and low confidentiality are no restriction.
		restricted(condition("sen-c-normal", "sen-pat", "", "cold"), "N"),
	} {
		srv.Must(t, http.StatusCreated, "PUT", res["resourceType"].(string)+"/"+res["id"].(string), res)
	}
	// Later versions stay hidden in history too.
	srv.Must(t, http.StatusOK, "PUT", "Condition/sen-c-hiv", restricted(condition("sen-c-hiv", "sen-pat", "sen-e1", "hiv"), "R"))

	d1 := apptest.Bearer(srv.Token(t, smarttest.Practitioner(srv.URL, "sen-d1", "", "user/*.cruds")))
	d2 := apptest.Bearer(srv.Token(t, smarttest.Practitioner(srv.URL, "sen-d2", "", "user/*.cruds")))
	d3 := apptest.Bearer(srv.Token(t, smarttest.Practitioner(srv.URL, "sen-d3", "", "user/*.rs")))
	pat := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "sen-pat", "patient/*.rs")))
	admin := apptest.Bearer(srv.Token(t, smarttest.Admin(srv.URL, "user/*.cruds")))

	all := []string{"Condition/sen-c-hiv", "Condition/sen-c-flu", "Condition/sen-c-e2", "Condition/sen-c-novisit", "Condition/sen-c-normal"}
	type check struct {
		path string
		want []string // the Type/id of the entries
	}
	searches := func(visible func(string) bool) []check {
		keep := func(ids ...string) []string {
			var out []string
			for _, id := range ids {
				if visible(id) {
					out = append(out, id)
				}
			}
			return out
		}
		var throughHIV []string // e1 is found through hiv only by who sees both
		if visible("Encounter/sen-e1") && visible("Condition/sen-c-hiv") {
			throughHIV = []string{"Encounter/sen-e1"}
		}
		return []check{
			{"Condition?patient=sen-pat&_total=accurate", keep(all...)},
			{"Condition?code=http://example.org/dx|hiv", keep("Condition/sen-c-hiv")},
			{"Encounter?_id=sen-e1&_revinclude=Condition:encounter", keep("Encounter/sen-e1", "Condition/sen-c-hiv", "Condition/sen-c-flu")},
			{"Condition?_id=sen-c-e2&_include=Condition:encounter", keep("Condition/sen-c-e2", "Encounter/sen-e2")},
			{"Condition?encounter.appointment=Appointment/sen-a1", keep("Condition/sen-c-hiv", "Condition/sen-c-flu")},
			{"Encounter?_has:Condition:encounter:code=hiv", throughHIV},
			{"Condition/_history?_count=1000", keep(append(all, "Condition/sen-c-hiv")...)},
			{"Condition/sen-c-hiv/_history", keep("Condition/sen-c-hiv", "Condition/sen-c-hiv")},
			{"Patient/sen-pat/Condition", keep(all...)},
		}
	}
	for _, c := range []struct {
		name    string
		token   []string
		visible func(string) bool
	}{
		{"the patient", pat, func(string) bool { return true }},
		{"an admin", admin, func(string) bool { return true }},
		{"the visit's practitioner", d1, func(id string) bool { return id != "Condition/sen-c-novisit" && id != "Encounter/sen-e2" }},
		{"a practitioner of the visit's appointment", d3, func(id string) bool {
			return id == "Encounter/sen-e2" || id == "Condition/sen-c-e2" || id == "Encounter/sen-e1" || id == "Condition/sen-c-flu" || id == "Condition/sen-c-normal"
		}},
		{"another practitioner of the patient", d2, func(id string) bool {
			return id != "Condition/sen-c-hiv" && id != "Condition/sen-c-novisit" && id != "Encounter/sen-e2"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, id := range append(all, "Encounter/sen-e2") {
				want := http.StatusOK
				if !c.visible(id) {
					want = http.StatusNotFound
				}
				if r := srv.Do(t, "GET", id, nil, c.token...); r.Status != want {
					t.Errorf("GET %s: %d, want %d", id, r.Status, want)
				} else if want == http.StatusNotFound && !strings.Contains(string(r.Body), "is not known") {
					t.Errorf("GET %s: the refusal is not that of a missing resource: %s", id, r.Body)
				}
			}
			for _, s := range searches(c.visible) {
				r := srv.Do(t, "GET", s.path, nil, c.token...)
				if s.want == nil && r.Status == http.StatusNotFound {
					continue // an instance's history of a resource the caller may not see
				}
				if r.Status != http.StatusOK {
					t.Errorf("GET %s: %d %s", s.path, r.Status, r.Body)
					continue
				}
				var got []string
				for _, id := range bundleIDs(t, r.Body) {
					if strings.Contains(id, "/sen-") { // the type's history holds other tests' too
						got = append(got, id)
					}
				}
				slices.Sort(got)
				want := append([]string{}, s.want...)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("GET %s: %v, want %v", s.path, got, want)
				}
				if strings.Contains(s.path, "_total") {
					if total := r.JSON(t)["total"]; total != float64(len(s.want)) {
						t.Errorf("GET %s: total %v, want %d", s.path, total, len(s.want))
					}
				}
			}
		})
	}
	// A restricted record in another patient's compartment too (as its performer) is
	// still only its own patient's.
	srv.Must(t, http.StatusCreated, "PUT", "Patient/sen-other", map[string]any{"resourceType": "Patient", "id": "sen-other"})
	obs := restricted(observation("sen-o-r", "sen-pat", "laboratory", "Patient/sen-other"), "R")
	srv.Must(t, http.StatusCreated, "PUT", "Observation/sen-o-r", obs)
	srv.Must(t, http.StatusCreated, "PUT", "Observation/sen-o-n", observation("sen-o-n", "sen-pat", "laboratory", "Patient/sen-other"))
	other := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "sen-other", "patient/*.rs")))
	srv.Must(t, http.StatusNotFound, "GET", "Observation/sen-o-r", nil, other...)
	srv.Must(t, http.StatusOK, "GET", "Observation/sen-o-n", nil, other...)
	srv.Must(t, http.StatusOK, "GET", "Observation/sen-o-r", nil, pat...)
	if got := bundleIDs(t, srv.Must(t, http.StatusOK, "GET", "Observation?performer=Patient/sen-other", nil, other...).Body); !slices.Equal(got, []string{"Observation/sen-o-n"}) {
		t.Errorf("the performer's search: %v", got)
	}

	// Another practitioner cannot change the record either, nor learn it exists.
	r := srv.Do(t, "PUT", "Condition/sen-c-hiv", restricted(condition("sen-c-hiv", "sen-pat", "sen-e1", "hiv"), "R"), d2...)
	if r.Status != http.StatusNotFound {
		t.Errorf("Dr Two's update of the restricted record: %d %s", r.Status, r.Body)
	}
}
