package scope

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
)

// The examples of SMART App Launch 2.0.0, "Scopes and Launch Context", and their v1
// equivalents from the same page's table of v1 to v2 mappings.
func TestParseSpecExamples(t *testing.T) {
	tests := []struct {
		raw  string
		want Scope
	}{
		{"patient/*.rs", Scope{Context: Patient, Type: "*", Permissions: "rs"}},
		{"user/*.cruds", Scope{Context: User, Type: "*", Permissions: "cruds"}},
		{"patient/Observation.rs", Scope{Context: Patient, Type: "Observation", Permissions: "rs"}},
		{"user/Appointment.cruds", Scope{Context: User, Type: "Appointment", Permissions: "cruds"}},
		{"patient/Patient.r", Scope{Context: Patient, Type: "Patient", Permissions: "r"}},
		{"user/Encounter.cu", Scope{Context: User, Type: "Encounter", Permissions: "cu"}},
		{"system/*.rs", Scope{Context: System, Type: "*", Permissions: "rs"}},
		{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			Scope{Context: Patient, Type: "Observation", Permissions: "rs",
				Query: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}}},
		{"patient/Observation.rs?category=laboratory", Scope{Context: Patient, Type: "Observation", Permissions: "rs", Query: url.Values{"category": {"laboratory"}}}},
		{"patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|health-concern",
			Scope{Context: Patient, Type: "Condition", Permissions: "rs",
				Query: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/condition-category|health-concern"}}}},
		// v1: read is rs, write is cud, * is cruds.
		{"patient/*.read", Scope{Context: Patient, Type: "*", Permissions: "rs", V1: true}},
		{"user/Appointment.write", Scope{Context: User, Type: "Appointment", Permissions: "cud", V1: true}},
		{"system/*.*", Scope{Context: System, Type: "*", Permissions: "cruds", V1: true}},
		{"user/*.*", Scope{Context: User, Type: "*", Permissions: "cruds", V1: true}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, raw := range []string{
		"openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access",
		"", "/", "patient/", "patient/*", "patient/*.", "patient/.rs", "doctor/*.rs", "Patient/*.rs",
		"patient/*.sr",   // out of order
		"patient/*.rrs",  // repeated
		"patient/*.x",    // unknown letter
		"patient/*.READ", // v1 words are lower case
		"patient/observation.rs",
		"patient/Obs-ervation.rs",
		"patient/*.read?category=x", // v1 has no query
		"patient/Observation.rs?",
		"patient/Observation.rs?%zz=1",
		"patient/Observation.rs?_count=1000", // result parameters do not narrow
	} {
		s, err := Parse(raw)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %+v, %v; want a *scope.Error", raw, s, err)
		}
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		raw  string
		i    Interaction
		typ  string
		want bool
	}{
		{"patient/*.read", Read, "Observation", true},
		{"patient/*.read", Search, "Observation", true},
		{"patient/*.read", Create, "Observation", false},
		{"user/Appointment.write", Create, "Appointment", true},
		{"user/Appointment.write", Update, "Appointment", true},
		{"user/Appointment.write", Delete, "Appointment", true},
		{"user/Appointment.write", Read, "Appointment", false},
		{"user/Appointment.write", Create, "Slot", false},
		{"system/*.*", Delete, "Patient", true},
		{"patient/Appointment.rs", Search, "Appointment", true},
		{"patient/Appointment.rs", Update, "Appointment", false},
		{"patient/Appointment.rs", Read, "Slot", false},
		{"user/*.cruds", Update, "Coverage", true},
		{"patient/Patient.r", Search, "Patient", false},
		{"user/Encounter.cu", Delete, "Encounter", false},
	}
	for _, tt := range tests {
		s, err := Parse(tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Allows(tt.i, tt.typ); got != tt.want {
			t.Errorf("%s allows %c on %s = %v, want %v", tt.raw, tt.i, tt.typ, got, tt.want)
		}
	}
}

func TestSetFor(t *testing.T) {
	set := ParseSet([]string{"openid", "fhirUser", "launch/patient", "offline_access", "bogus/*.rs",
		"patient/Observation.rs?category=laboratory", "patient/Observation.rs?category=vital-signs",
		"user/Observation.rs?category=survey", "user/Appointment.cruds", "patient/Appointment.rs"})
	if len(set) != 5 {
		t.Fatalf("ParseSet kept %d scopes, want the 5 resource scopes: %v", len(set), set)
	}
	g := set.For(Patient, Search, "Observation")
	if !g.Allowed || len(g.Narrow) != 2 || g.Narrow[0].Get("category") != "laboratory" || g.Narrow[1].Get("category") != "vital-signs" {
		t.Errorf("patient Observation search = %+v, want narrowed to laboratory or vital-signs", g)
	}
	if g := set.For(User, Search, "Observation"); !g.Allowed || len(g.Narrow) != 1 || g.Narrow[0].Get("category") != "survey" {
		t.Errorf("user Observation search = %+v, want narrowed to survey", g)
	}
	if g := set.For(Patient, Create, "Observation"); g.Allowed {
		t.Errorf("patient Observation create = %+v, want refused", g)
	}
	if g := set.For(System, Read, "Appointment"); g.Allowed {
		t.Errorf("system Appointment read = %+v, want refused: no system scope", g)
	}
	// An unnarrowed scope of the same context widens the narrowed ones to everything.
	wide := ParseSet([]string{"patient/Observation.rs?category=laboratory", "patient/*.rs"})
	if g := wide.For(Patient, Read, "Observation"); !g.Allowed || g.Narrow != nil {
		t.Errorf("patient/*.rs beside a narrowed scope = %+v, want unnarrowed", g)
	}
	if !set.Any(Update, "Appointment") || set.Any(Update, "Observation") {
		t.Error("Any does not follow the scopes")
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, raw := range []string{"patient/*.rs", "user/Appointment.cruds", "patient/Observation.rs?category=laboratory"} {
		s, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != raw {
			t.Errorf("String() = %q, want %q", s.String(), raw)
		}
	}
}
