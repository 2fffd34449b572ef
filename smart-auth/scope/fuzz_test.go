package scope

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any text is a Scope or a *scope.Error, never a panic; a Scope names a
// context, a type and permissions in cruds order, and its v2 form parses to the same grants.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"patient/*.read", "user/Appointment.write", "system/*.*", "patient/Appointment.rs",
		"user/*.cruds", "patient/Observation.rs?category=laboratory", "openid", "patient/*.sr", "user/X.rs?a=%zz", "patient/Observation.rs?category=a&category=b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := Parse(raw)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T %v, want *scope.Error", raw, err, err)
			}
			return
		}
		switch s.Context {
		case Patient, User, System:
		default:
			t.Fatalf("Parse(%q): context %q", raw, s.Context)
		}
		if s.Permissions == "" {
			t.Fatalf("Parse(%q): no permissions", raw)
		}
		at := 0
		for i := 0; i < len(s.Permissions); i++ {
			j := strings.IndexByte(order[at:], s.Permissions[i])
			if j < 0 {
				t.Fatalf("Parse(%q): permissions %q out of cruds order", raw, s.Permissions)
			}
			at += j + 1
		}
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", raw, s.String(), err)
		}
		for _, i := range order {
			if again.Allows(Interaction(i), s.Type) != s.Allows(Interaction(i), s.Type) {
				t.Fatalf("Parse(%q) and its v2 form %q grant %c differently", raw, s.String(), i)
			}
		}
	})
}
