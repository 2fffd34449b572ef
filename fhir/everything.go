package fhir

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/gorilla/mux"
)

// Patient/[id]/$everything answers the patient's whole record as one paged searchset:
// the Patient, every resource of its compartment, then the Practitioners,
// Organizations, Locations and Medications those resources refer to. Each part is a
// search of package storage (a compartment search, or a ReferencedBy one) with the
// caller's access filter, so it sees exactly what the caller's searches would.

// everythingReferenced are the types $everything adds because the record refers to them.
var everythingReferenced = []string{"Practitioner", "Organization", "Location", "Medication"}

// careDateParams is the search parameter of each compartment type that holds the date
// of the care it records, which start and end test. A type without one (Coverage,
// AppointmentResponse, the Patient) is returned whatever start and end say.
var careDateParams = map[string]string{
	"AllergyIntolerance": "onset",
	"Appointment":        "date",
	"Communication":      "sent",
	"Condition":          "onset-date",
	"DiagnosticReport":   "date",
	"DocumentReference":  "period",
	"Encounter":          "date",
	"MedicationRequest":  "authoredon",
	"Observation":        "date",
	"Procedure":          "date",
	"Schedule":           "date",
}

// EverythingOperation is Patient/[id]/$everything, and Patient/$everything for the
// token's own patient.
func (s *Server) EverythingOperation() *Operation {
	return &Operation{Name: "everything", Types: []string{"Patient"}, Type: true, Instance: true, Handler: s.everything,
		// The Patient itself must be readable; each part is then filtered by what the
		// caller may search of its type.
		Needs:   &Need{scope.Read, "Patient"},
		Aliases: []string{"_cursor"},
		Definition: s.operationDefinition(opMeta{Name: "everything", Title: "Patient everything", Types: []string{"Patient"}, Type: true, Instance: true,
			Description: "The patient's whole record: the Patient, every resource of its compartment (AuditEvents aside) and the " +
				"Practitioners, Organizations, Locations and Medications they refer to, as a searchset Bundle paged with next links. " +
				"Only what the caller may see is returned. On Patient/$everything, the patient of the token's launch context " +
				"(a patient's own record).",
			Params: []opParam{
				{Name: "start", Use: "in", Min: 0, Max: "1", Type: "date", Doc: "only records of care on or after this date (resources with a care date: Encounter.period, Observation.effective, Condition.onset...)"},
				{Name: "end", Use: "in", Min: 0, Max: "1", Type: "date", Doc: "only records of care on or before this date"},
				{Name: "_since", Use: "in", Min: 0, Max: "1", Type: "instant", Doc: "only resources last updated at or after this instant"},
				{Name: "_type", Use: "in", Min: 0, Max: "*", Type: "string", Doc: "only these resource types (a comma-separated list)"},
				{Name: "_count", Use: "in", Min: 0, Max: "1", Type: "integer", Doc: fmt.Sprintf("page size (default %d, at most %d)", defaultCount, maxCount)},
				{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a searchset Bundle; its next link reads the following page"},
			}})}
}

// fhirDate is an R4 date or dateTime, as start and end take.
var fhirDate = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$`)

// everythingPart is one search of $everything: a type, from the compartment or
// referenced by it.
type everythingPart struct {
	Type       string
	Referenced bool
}

// everythingCursor is a position in $everything: the part, and the position in its search.
type everythingCursor struct {
	Part   int    `json:"p"`
	Search string `json:"c,omitempty"`
}

func (c everythingCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// everythingArgs are the parsed parameters of a call.
type everythingArgs struct {
	start, end, since string // as search values
	types             []string
	count             int
	cursor            everythingCursor
	searchCursor      *search.Cursor
	params            url.Values // repeated in the links
}

func (s *Server) everything(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := mux.Vars(r)["id"]
	path := "Patient/" + id + "/$everything"
	if id == "" {
		// Patient/$everything: the patient the token is about.
		if id = contextPatient(ctx); id == "" {
			return errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported,
				"Patient/$everything is the record of the token's patient, and this token has none: ask for Patient/[id]/$everything")
		}
		path = "Patient/$everything"
	}
	args, err := s.everythingArgs(w, r)
	if err != nil {
		return err
	}
	// A patient the caller may not see is one that does not exist (as a read answers).
	patient, err := s.reader(ctx).Read(ctx, "Patient", id)
	if patient != nil {
		if aerr := s.authorize(ctx, scope.Read, "Patient", patient); aerr != nil {
			return aerr
		}
	}
	if err != nil {
		return err
	}
	parts := everythingParts(args.types)
	if args.cursor.Part >= len(parts) {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "the _cursor does not belong to this $everything")
	}
	comp := &search.Compartment{Type: "Patient", ID: id}
	var matches, included []storage.Resource
	var next *everythingCursor
	remaining := args.count
	for p := args.cursor.Part; p < len(parts) && remaining > 0; p++ {
		part := parts[p]
		d := s.rules.Decide(ctx, scope.Search, part.Type)
		if !d.Allowed {
			continue // a type the caller may not search is left out, as a search would refuse it
		}
		q, err := s.everythingQuery(part, args)
		if err != nil {
			return err
		}
		if part.Referenced {
			q.ReferencedBy = comp
		} else {
			q.Compartment = comp
		}
		q.Access, q.Count = d.Access, remaining
		if p == args.cursor.Part {
			q.Cursor = args.searchCursor
		}
		res, err := s.searcher(ctx).Search(ctx, q)
		if err != nil {
			return err
		}
		if part.Referenced {
			included = append(included, res.Matches...)
		} else {
			matches = append(matches, res.Matches...)
		}
		remaining -= len(res.Matches)
		if res.Next != nil {
			next = &everythingCursor{Part: p, Search: res.Next.Encode()}
			break
		}
		if remaining == 0 && p+1 < len(parts) {
			next = &everythingCursor{Part: p + 1}
		}
	}
	audit.Query(ctx, r.Method+" "+r.URL.Path+"?"+args.params.Encode())
	for _, list := range [][]storage.Resource{matches, included} {
		for i := range list {
			audit.Touch(ctx, list[i].Type, list[i].ID, list[i].Content)
		}
	}
	b := &Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "searchset",
		Meta: &BundleMeta{LastUpdated: time.Now().UTC().Format(storage.LastUpdatedFormat)}}
	self := ""
	if args.cursor != (everythingCursor{}) {
		self = args.cursor.encode()
	}
	b.Link = append(b.Link, BundleLink{Relation: "self", URL: s.searchURL(path, args.params, self)})
	if next != nil {
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: s.searchURL(path, args.params, next.encode())})
	}
	for _, m := range matches {
		b.Entry = append(b.Entry, BundleEntry{FullURL: s.cfg.BaseURL + "/" + m.Type + "/" + m.ID, Resource: m.Content, Search: &EntrySearch{Mode: "match"}})
	}
	for _, m := range included {
		b.Entry = append(b.Entry, BundleEntry{FullURL: s.cfg.BaseURL + "/" + m.Type + "/" + m.ID, Resource: m.Content, Search: &EntrySearch{Mode: "include"}})
	}
	writeJSON(w, r, http.StatusOK, marshal(b))
	return nil
}

// contextPatient is the patient a token is about: its launch context, or a patient's
// own Patient; "" for none.
func contextPatient(ctx context.Context) string {
	c, ok := caller.From(ctx)
	if !ok {
		return ""
	}
	if c.Patient != "" {
		return c.Patient
	}
	if typ, id, _ := strings.Cut(c.FHIRUser, "/"); c.Role == caller.RolePatient && typ == "Patient" {
		return id
	}
	return ""
}

// everythingParts lists the searches of $everything in the order pages walk them: the
// Patient, its compartment's types by name, then the types it refers to; only those of
// types when given.
func everythingParts(types []string) []everythingPart {
	reg := search.Definitions()
	want := func(t string) bool { return len(types) == 0 || slices.Contains(types, t) }
	var parts []everythingPart
	if want("Patient") {
		parts = append(parts, everythingPart{Type: "Patient"})
	}
	for _, t := range everythingCompartmentTypes(reg) {
		if want(t) {
			parts = append(parts, everythingPart{Type: t})
		}
	}
	for _, t := range everythingReferenced {
		if want(t) {
			parts = append(parts, everythingPart{Type: t, Referenced: true})
		}
	}
	return parts
}

// everythingCompartmentTypes are the types of the Patient compartment but Patient
// itself, and AuditEvent: the record of who read the record is not part of it (and
// only administrators read it).
func everythingCompartmentTypes(reg *search.Registry) []string {
	var out []string
	for _, t := range reg.Types() {
		if t != "Patient" && t != storage.AuditType && reg.CompartmentParams("Patient", t) != nil {
			out = append(out, t)
		}
	}
	return out
}

// everythingQuery is the search of one part, with the filters start, end and _since.
func (s *Server) everythingQuery(part everythingPart, args *everythingArgs) (*search.Query, error) {
	params := url.Values{}
	if args.since != "" {
		params.Add("_lastUpdated", "ge"+args.since)
	}
	if dp := careDateParams[part.Type]; dp != "" && !part.Referenced {
		if args.start != "" {
			params.Add(dp, "ge"+args.start)
		}
		if args.end != "" {
			params.Add(dp, "le"+args.end)
		}
	}
	reg := search.Definitions()
	parseAs := part.Type
	if !reg.Searchable(parseAs) {
		// Medication has no search parameters here; _lastUpdated, which is all it is
		// filtered by, reads the resources table whatever the type.
		parseAs = "Patient"
	}
	q, err := reg.Parse(parseAs, params, s.parseOptions(true))
	if err != nil {
		return nil, err
	}
	q.Type = part.Type
	return q, nil
}

// everythingArgs reads and checks the parameters, from the query and a POSTed Parameters.
func (s *Server) everythingArgs(w http.ResponseWriter, r *http.Request) (*everythingArgs, error) {
	p, err := s.readParams(w, r)
	if err != nil {
		return nil, err
	}
	query := r.URL.Query()
	for _, n := range []string{"_since", "_type", "_cursor"} {
		p.values[n] = append(p.values[n], query[n]...)
	}
	args := &everythingArgs{count: defaultCount, params: url.Values{}}
	for _, n := range []string{"start", "end"} {
		v, err := p.get(n)
		if err != nil || v == "" {
			if err != nil {
				return nil, err
			}
			continue
		}
		if !fhirDate.MatchString(v) {
			return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeValue, fmt.Sprintf("parameter %s: %q is not a date", n, v), n)
		}
		args.params.Set(n, v)
	}
	args.start, args.end = args.params.Get("start"), args.params.Get("end")
	since, err := p.get("_since")
	if err != nil {
		return nil, err
	}
	if since != "" {
		if _, err := time.Parse(time.RFC3339Nano, since); err != nil {
			return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeValue,
				fmt.Sprintf("parameter _since: %q is not an instant (a dateTime with seconds and a time zone)", since), "_since")
		}
		args.since = since
		args.params.Set("_since", since)
	}
	known := append([]string{"Patient"}, everythingCompartmentTypes(search.Definitions())...)
	known = append(known, everythingReferenced...)
	for _, list := range p.all("_type") {
		for _, t := range strings.Split(list, ",") {
			t = strings.TrimSpace(t)
			if !slices.Contains(known, t) {
				return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeNotSupported,
					fmt.Sprintf("_type: %q is not a type of a patient's record; $everything returns %s", t, strings.Join(known, ", ")), "_type")
			}
			if !slices.Contains(args.types, t) {
				args.types = append(args.types, t)
			}
		}
		args.params.Add("_type", list)
	}
	if c, err := p.get("_count"); err != nil {
		return nil, err
	} else if c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeValue, fmt.Sprintf("_count must be a whole number of at least 1, not %q", c), "_count")
		}
		args.count = min(n, maxCount)
		args.params.Set("_count", strconv.Itoa(args.count))
	}
	if c, err := p.get("_cursor"); err != nil {
		return nil, err
	} else if c != "" {
		bad := fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "the _cursor is not one this server made", "_cursor")
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || json.Unmarshal(raw, &args.cursor) != nil || args.cursor.Part < 0 {
			return nil, bad
		}
		if args.cursor.Search != "" {
			if args.searchCursor, err = search.DecodeCursor(args.cursor.Search); err != nil || args.searchCursor.Before {
				return nil, bad
			}
		}
	}
	return args, nil
}
