package resources

import (
	"context"
	"errors"
	"fmt"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// recordPatientElement names, for each record type tied to visits, the element that
// says whose record it is.
var recordPatientElement = map[string]string{
	"Condition":          "subject",
	"Procedure":          "subject",
	"MedicationRequest":  "subject",
	"Observation":        "subject",
	"DiagnosticReport":   "subject",
	"AllergyIntolerance": "patient",
	"DocumentReference":  "subject",
}

// checkRecordEncounter refuses a record that names an Encounter of another patient: a
// note or a diagnosis filed under the wrong visit would show in someone else's record.
// An Encounter not stored (yet) is left to the reference check at commit.
func (r *Rules) checkRecordEncounter(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if doc == nil {
		return nil
	}
	patient := reference(doc, recordPatientElement[c.Type])
	if patient == "" {
		return nil // about the encounter's patient by default
	}
	type named struct{ ref, at string }
	var encounters []named
	if c.Type == "DocumentReference" {
		for i, e := range objects(object(doc, "context"), "encounter") {
			encounters = append(encounters, named{str(e, "reference"), fmt.Sprintf("DocumentReference.context.encounter[%d]", i)})
		}
	} else if ref := reference(doc, "encounter"); ref != "" {
		encounters = append(encounters, named{ref, c.Type + ".encounter"})
	}
	for _, e := range encounters {
		typ, id, ok := splitReference(e.ref)
		if !ok || typ != "Encounter" {
			continue
		}
		res, err := readLiveTx(ctx, tx, "Encounter", id)
		if err != nil {
			return err
		}
		if res == nil {
			continue // missing or deleted: the reference check answers that
		}
		enc, err := decode(res.Content)
		if err != nil {
			return err
		}
		if subject := reference(enc, "subject"); subject != "" && subject != patient {
			return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("%s/%s is a visit of %s, but this %s is about %s: a record must be about its encounter's patient",
					typ, id, subject, c.Type, patient), e.at)
		}
	}
	return nil
}

// readLiveTx reads typ/id in tx; nil when it does not exist or is deleted.
func readLiveTx(ctx context.Context, tx *storage.Tx, typ, id string) (*storage.Resource, error) {
	res, err := tx.Read(ctx, typ, id)
	if errors.Is(err, fhirerr.ErrNotFound) || errors.Is(err, fhirerr.ErrGone) {
		return nil, nil
	}
	return res, err
}

// checkEncounterSubjectKeepsRecords refuses to move a visit to another patient while
// records of its patient name it: they would become records of a visit of someone else.
func (r *Rules) checkEncounterSubjectKeepsRecords(ctx context.Context, tx *storage.Tx, c *Change, subject string) error {
	if c.Old == nil || c.Old.Deleted || subject == "" {
		return nil
	}
	old, err := decode(c.Old.Content)
	if err != nil {
		return err
	}
	if reference(old, "subject") == subject {
		return nil
	}
	referrers, err := tx.Referrers(ctx, "Encounter", c.ID)
	if err != nil {
		return err
	}
	for _, ref := range referrers {
		element, ok := recordPatientElement[ref.Type]
		if !ok {
			continue
		}
		res, err := readLiveTx(ctx, tx, ref.Type, ref.ID)
		if err != nil || res == nil {
			return err
		}
		doc, err := decode(res.Content)
		if err != nil {
			return err
		}
		if patient := reference(doc, element); patient != "" && patient != subject && namesEncounter(ref.Type, doc, "Encounter/"+c.ID) {
			return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("%s/%s of %s names this visit: an Encounter with records keeps its patient (move or correct the records first)",
					ref.Type, ref.ID, patient), "Encounter.subject")
		}
	}
	return nil
}

// namesEncounter tells whether the record names the encounter as its visit.
func namesEncounter(typ string, doc map[string]any, encounter string) bool {
	if typ == "DocumentReference" {
		return namesReference(objects(object(doc, "context"), "encounter"), encounter)
	}
	return reference(doc, "encounter") == encounter
}
