package search

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
)

func repeated(param string, n int, distinct bool) url.Values {
	v := url.Values{}
	for i := 0; i < n; i++ {
		if distinct {
			v.Add(param, fmt.Sprintf("a%d", i))
		} else {
			v.Add(param, "a")
		}
	}
	return v
}

// TestRepeatedIdenticalParamsMerge: name=a sent 300 times is one condition, so its SQL is
// that of name=a (the planner took minutes over 300 joins).
func TestRepeatedIdenticalParamsMerge(t *testing.T) {
	reg := Definitions()
	for _, param := range []string{"name", "gender"} {
		once, err := reg.Parse("Patient", repeated(param, 1, false), ParseOptions{MaxCount: 100})
		if err != nil {
			t.Fatal(err)
		}
		many, err := reg.Parse("Patient", repeated(param, 300, false), ParseOptions{MaxCount: 100})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := once.PageSQL(reg, 10)
		b, _ := many.PageSQL(reg, 10)
		if a != b || len(many.Clauses) != 1 {
			t.Errorf("%s=a x300 is %d clauses, SQL %s; want that of %s=a", param, len(many.Clauses), b, param)
		}
	}
	q, err := reg.Parse("Patient", url.Values{"name": {"a,a,b,a"}}, ParseOptions{MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(q.Clauses[0].Values); n != 2 {
		t.Errorf("name=a,a,b,a has %d values, want 2", n)
	}
}

// TestLimitsAreTooCostly: each limit is a 400 too-costly saying which limit.
func TestLimitsAreTooCostly(t *testing.T) {
	reg := Definitions()
	many := func(n int) url.Values {
		v := url.Values{}
		for i := 0; i < n; i++ {
			v.Add(fmt.Sprintf("unknown%d", i%7), fmt.Sprint(i%MaxDistinct))
		}
		return v
	}
	values := url.Values{"name": {strings.Repeat("x,", MaxValues) + "x"}}
	cases := []struct {
		name   string
		params url.Values
		says   string
	}{
		{"sent", many(MaxParams + 1), "parameters; at most 1000"},
		{"distinct", repeated("name", MaxDistinct+1, true), "different parameters"},
		{"values", values, "values; at most 1000"},
		{"conditions", repeated("name", MaxConditions+1, true), "conditions"},
		{"conditions with chains", url.Values{"general-practitioner.name": {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}}, "conditions"},
		{"10,000 params", repeated("name", 10000, false), "parameters; at most 1000"},
	}
	for _, c := range cases {
		_, err := reg.Parse("Patient", c.params, ParseOptions{MaxCount: 100})
		fe, ok := fhirerr.As(err)
		if !ok || fe.Status() != 400 || fe.Code != fhirerr.CodeTooCostly || !strings.Contains(fe.Diagnostics, c.says) {
			t.Errorf("%s: got %v; want 400 too-costly saying %q", c.name, err, c.says)
		}
	}
	// At the limits, each is accepted.
	for name, params := range map[string]url.Values{
		"sent":       repeated("name", MaxParams, false),
		"conditions": repeated("name", MaxConditions, true),
		"values":     {"name": {strings.Repeat("x,", MaxValues-1) + "x"}},
	} {
		if _, err := reg.Parse("Patient", params, ParseOptions{MaxCount: 100}); err != nil {
			t.Errorf("%s at the limit: %v", name, err)
		}
	}
}
