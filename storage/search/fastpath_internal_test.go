package search

import "testing"

// TestFastPathCoversEveryExpression: every expression of the product types' parameters is
// answered by the fast path (Location near, a special parameter, stays with the engine).
// The differential test would still pass if an expression silently fell back to the
// engine; this one says the speed is still there.
func TestFastPathCoversEveryExpression(t *testing.T) {
	reg := Definitions()
	n := 0
	for typ, plan := range reg.plans {
		for _, pp := range plan {
			if pp.param.Kind == KindSpecial {
				continue
			}
			for i, f := range pp.parts {
				n++
				if f == nil {
					t.Errorf("%s: %q is evaluated by the engine", pp.sp, pp.param.parts[i].source)
				}
			}
			if pp.param.Kind == KindComposite && !pp.fastComposite {
				t.Errorf("%s (%s): composite is evaluated by the engine", pp.sp, typ)
			}
		}
	}
	if n < 300 {
		t.Errorf("only %d expressions planned", n)
	}
}

func TestCompileFast(t *testing.T) {
	for _, c := range []struct {
		expr     string
		relative bool
		fast     bool
	}{
		{"Patient.name.family", false, true},
		{"Resource.meta.tag", false, true},
		{"Observation", false, true},
		{"(Observation.valueCodeableConcept).text", false, true},
		{"Patient.telecom.where(system='phone')", false, true},
		{"Patient.telecom.where(system = 'email')", false, true},
		{"Patient.deceased.exists() and Patient.deceased != false", false, true},
		{"valueDateTime | valuePeriod", true, true},
		{"code", true, true},
		{"Patient.name | Patient.address", false, true},
		{"Patient.deceased.exists() and Patient.other != false", false, false},
		{"Patient.name.exists()", false, false},
		{"Patient.name.where(use='official').family", false, false},
		{"Patient.telecom.where(system='2020')", false, false}, // a literal that reads as a date
		{"Patient.telecom.where(system=%phone)", false, false},
		{"Patient.link.other.resolve()", false, false},
		{"Bundle.entry[0].resource", false, false},
		{"Observation.value as Quantity", false, false},
		{"Patient.text.div", false, false}, // the engine reads the resource without a large narrative
		{"text", true, false},
		{"Patient.name", true, false},
		{"name.family", false, false},
	} {
		if got := compileFast(c.expr, c.relative) != nil; got != c.fast {
			t.Errorf("compileFast(%q, relative=%v) fast = %v, want %v", c.expr, c.relative, got, c.fast)
		}
	}
}

// TestEngineString: date-like strings come out as the engine prints them.
func TestEngineString(t *testing.T) {
	for _, c := range []struct{ in, hint, want string }{
		{"2015-02-07T13:28:17.239456+02:00", "", "2015-02-07T13:28:17.239+02:00"},
		{"2015-02-07T13:28:17.5Z", "", "2015-02-07T13:28:17.500Z"},
		{"2015-02-07T13:28:17+00:00", "", "2015-02-07T13:28:17Z"},
		{"2015-02-07", "", "2015-02-07"},
		{"2015-02-07", "DateTime", "2015-02-07"},
		{"2015-02-07T10:00:00.1234Z", "Instant", "2015-02-07T10:00:00.123Z"},
		{"2015-02-07T10:00:00.1234Z", "String", "2015-02-07T10:00:00.1234Z"},
		{"10:00:00.1234", "Time", "10:00:00.123"},
		{"12345", "", "12345"},
		{"Zed", "", "Zed"},
		{"abc", "Date", "abc"},
	} {
		if got := engineString(c.in, c.hint); got != c.want {
			t.Errorf("engineString(%q, %q) = %q, want %q", c.in, c.hint, got, c.want)
		}
	}
}
