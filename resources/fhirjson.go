package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// decode reads a resource's JSON keeping numbers as written, so that a rule that rewrites
// a resource changes only the elements it means to.
func decode(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fhirerr.Invalid("the resource is not a JSON object")
	}
	return doc, nil
}

// encode renders a resource the rules built or changed; such values always marshal.
func encode(doc map[string]any) []byte {
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("resources: marshal: %v", err))
	}
	return b
}

// str returns doc[key] as a string, "" if absent.
func str(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}

// object returns doc[key] as an object, nil if absent.
func object(doc map[string]any, key string) map[string]any {
	m, _ := doc[key].(map[string]any)
	return m
}

// objects returns doc[key] as a list of objects.
func objects(doc map[string]any, key string) []map[string]any {
	list, _ := doc[key].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// reference returns the literal reference of the Reference at doc[key], "" if absent.
func reference(doc map[string]any, key string) string {
	return str(object(doc, key), "reference")
}

// splitReference splits a literal relative reference into type and id.
func splitReference(ref string) (typ, id string, ok bool) {
	return storage.ParseReference(ref)
}

// tokens returns the search tokens of CodeableConcepts: each code alone and as system|code.
func tokens(concepts []map[string]any) []string {
	var out []string
	for _, cc := range concepts {
		for _, coding := range objects(cc, "coding") {
			code := str(coding, "code")
			if code == "" {
				continue
			}
			out = append(out, code)
			if sys := str(coding, "system"); sys != "" {
				out = append(out, sys+"|"+code)
			}
		}
	}
	return out
}

// parseInstant reads an R4 instant or dateTime with a time zone.
func parseInstant(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// formatInstant writes an R4 instant in UTC.
func formatInstant(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// parseDateTime reads an R4 date or dateTime as the range of time it names: a date is
// the whole day (in UTC), a year-month the whole month, a year the whole year.
func parseDateTime(s string) (from, to time.Time, err error) {
	return parseDateTimeIn(s, time.UTC)
}

// parseDateTimeIn is parseDateTime with the days, months and years of zone.
func parseDateTimeIn(s string, zone *time.Location) (from, to time.Time, err error) {
	if strings.Contains(s, "T") {
		t, err := parseInstant(s)
		return t, t, err
	}
	for _, layout := range []struct {
		format string
		next   func(time.Time) time.Time
	}{
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	} {
		if t, err := time.ParseInLocation(layout.format, s, zone); err == nil {
			return t, layout.next(t), nil
		}
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%q is not a FHIR date or dateTime", s)
}
