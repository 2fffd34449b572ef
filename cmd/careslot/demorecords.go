package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The records of the demo clinic's past visits: each fulfilled appointment's Encounter
// (which careslot made when the patient arrived) gets a visit note (a text Binary and
// its DocumentReference), a diagnosis (Condition), a prescription (MedicationRequest)
// and a lab result (Observation), so the booking UI and Patient/$everything have a
// record to show.

// demoRecord is what one visit found and did.
type demoRecord struct {
	dxCode, dxName   string // SNOMED CT
	medication, dose string
	labCode, labName string // LOINC
	value            float64
	unit, ucum       string
	assessment, plan string
}

var demoRecords = []demoRecord{
	{"38341003", "Hypertensive disorder", "Amlodipine 5 mg tablet", "one tablet daily", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", 212, "mg/dL", "mg/dL",
		"Blood pressure 152/94 on two readings.", "Start amlodipine; home readings for two weeks; review in a month."},
	{"195662009", "Acute viral pharyngitis", "Paracetamol 500 mg tablet", "one or two tablets up to four times a day", "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", 6, "mg/L", "mg/L",
		"Sore throat for three days, no fever now, CRP low.", "Fluids and paracetamol; come back if not better in a week."},
	{"44054006", "Diabetes mellitus type 2", "Metformin 500 mg tablet", "one tablet twice daily with meals", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 7.4, "%", "%",
		"HbA1c above target.", "Start metformin; diet advice given; HbA1c again in three months."},
	{"24079001", "Atopic dermatitis", "Hydrocortisone 1% cream", "apply thinly twice daily for a week", "6690-2", "Leukocytes [#/volume] in Blood by Automated count", 7.1, "10*3/uL", "10*3/uL",
		"Itchy eczema on both elbows.", "Emollients and a week of hydrocortisone cream."},
	{"195967001", "Asthma", "Salbutamol 100 micrograms inhaler", "two puffs when needed", "718-7", "Hemoglobin [Mass/volume] in Blood", 13.8, "g/dL", "g/dL",
		"Wheeze with exercise; chest clear today.", "Salbutamol when needed; asthma plan explained."},
	{"35489007", "Depressive disorder", "Sertraline 50 mg tablet", "one tablet daily", "2339-0", "Glucose [Mass/volume] in Blood", 92, "mg/dL", "mg/dL",
		"Low mood for two months, sleeping badly; no risk to self.", "Start sertraline; talking therapy referral; review in two weeks."},
}

// seedVisitRecords writes the records of every fulfilled demo appointment; it returns
// how many visits have them.
func seedVisitRecords(c *fhirClient) (int, error) {
	made := 0
	for i, v := range demoVisits {
		if len(v.steps) == 0 || v.steps[len(v.steps)-1] != "fulfilled" {
			continue
		}
		id := fmt.Sprintf("demo-appt-%02d", i+1)
		status, appt, err := c.call("GET", "Appointment/"+id, nil)
		if err != nil {
			return made, err
		}
		if status != http.StatusOK || appt["status"] != "fulfilled" {
			continue // not placed on a slot
		}
		b, err := c.must("GET", "Encounter?appointment="+url.QueryEscape("Appointment/"+id), nil, http.StatusOK)
		if err != nil {
			return made, err
		}
		entries, _ := b["entry"].([]any)
		if len(entries) != 1 {
			return made, fmt.Errorf("seed records: Appointment/%s has %d Encounters, want 1", id, len(entries))
		}
		enc := entries[0].(map[string]any)["resource"].(map[string]any)
		if err := seedRecordsOf(c, appt, enc["id"].(string), demoRecords[made%len(demoRecords)], fmt.Sprintf("%02d", i+1)); err != nil {
			return made, err
		}
		made++
	}
	return made, nil
}

// seedRecordsOf writes the records of one visit, n naming them (demo-note-n, demo-dx-n…).
func seedRecordsOf(c *fhirClient, appt map[string]any, encounter string, rec demoRecord, n string) error {
	var patient, doctor string
	for _, p := range appt["participant"].([]any) {
		ref, _ := p.(map[string]any)["actor"].(map[string]any)["reference"].(string)
		switch {
		case len(ref) > 8 && ref[:8] == "Patient/":
			patient = ref[8:]
		case len(ref) > 13 && ref[:13] == "Practitioner/":
			doctor = ref[13:]
		}
	}
	start, _ := time.Parse(time.RFC3339, appt["start"].(string))
	end, _ := time.Parse(time.RFC3339, appt["end"].(string))
	day := start.Format(time.RFC3339)
	subject, enc, author := demoRef("Patient", patient), demoRef("Encounter", encounter), demoRef("Practitioner", doctor)
	note := fmt.Sprintf("Visit note, %s\n\nAssessment: %s\nDiagnosis: %s\nPrescribed: %s, %s\nLab: %s %g %s\nPlan: %s\n",
		start.Format("2 January 2006 15:04 UTC"), rec.assessment, rec.dxName, rec.medication, rec.dose, rec.labName, rec.value, rec.unit, rec.plan)
	for _, doc := range []map[string]any{
		// The Binary first: the DocumentReference's attachment must resolve, and the
		// Binary then takes the document as its securityContext.
		{"resourceType": "Binary", "id": "demo-note-" + n, "contentType": "text/plain",
			"data": base64.StdEncoding.EncodeToString([]byte(note))},
		{"resourceType": "DocumentReference", "id": "demo-note-" + n, "status": "current", "docStatus": "final",
			"type":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}}},
			"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note"}}}},
			"subject":  subject, "author": []any{author}, "date": end.Format(time.RFC3339), "description": "Visit note",
			"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "url": "Binary/demo-note-" + n,
				"title": "Visit note " + start.Format("2006-01-02")}}},
			"context": map[string]any{"encounter": []any{enc}, "related": []any{demoRef("Appointment", appt["id"].(string))},
				"period": map[string]any{"start": day, "end": end.Format(time.RFC3339)}}},
		{"resourceType": "Condition", "id": "demo-dx-" + n,
			"clinicalStatus":     map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}}},
			"verificationStatus": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}}},
			"category":           []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}}}},
			"code":               map[string]any{"coding": []any{map[string]any{"system": snomed, "code": rec.dxCode, "display": rec.dxName}}, "text": rec.dxName},
			"subject":            subject, "encounter": enc, "onsetDateTime": day, "recordedDate": day, "recorder": author},
		{"resourceType": "MedicationRequest", "id": "demo-rx-" + n, "status": "active", "intent": "order",
			"medicationCodeableConcept": map[string]any{"text": rec.medication},
			"subject":                   subject, "encounter": enc, "authoredOn": day, "requester": author,
			"reasonReference":   []any{demoRef("Condition", "demo-dx-"+n)},
			"dosageInstruction": []any{map[string]any{"text": rec.dose}}},
		{"resourceType": "Observation", "id": "demo-lab-" + n, "status": "final",
			"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}},
			"code":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": rec.labCode, "display": rec.labName}}, "text": rec.labName},
			"subject":  subject, "encounter": enc, "effectiveDateTime": day, "issued": end.Format(time.RFC3339), "performer": []any{author},
			"valueQuantity": map[string]any{"value": rec.value, "unit": rec.unit, "system": "http://unitsofmeasure.org", "code": rec.ucum}},
	} {
		if err := c.put(doc); err != nil {
			return err
		}
	}
	return nil
}
