package audit

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
)

// request is what the audit knows of one HTTP request: where it came from, and whether
// an interaction already recorded it (so that the outer layer does not record it twice).
type request struct {
	recorder *Recorder
	addr     string
	recorded bool
}

type requestKey struct{}

func requestOf(ctx context.Context) *request {
	q, _ := ctx.Value(requestKey{}).(*request)
	return q
}

func (q *request) address() string {
	if q == nil {
		return ""
	}
	return q.addr
}

// Middleware goes in front of authentication: it gives each request its address for the
// interactions behind it to record, and records the refusals that no interaction saw
// (a missing or bad token is refused before the FHIR API) when they concern patient data.
func (r *Recorder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := &request{recorder: r, addr: remoteIP(req.RemoteAddr)}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, req.WithContext(context.WithValue(req.Context(), requestKey{}, q)))
		if q.recorded || (sw.status != http.StatusUnauthorized && sw.status != http.StatusForbidden) {
			return
		}
		target, ok := pathTarget(req.URL.Path)
		if !ok {
			return
		}
		ev := Event{Action: actionOf(req.Method), Outcome: OutcomeMinor,
			OutcomeDesc: "denied: " + strings.ToLower(http.StatusText(sw.status)), Address: q.addr, Query: req.Method + " " + req.URL.RequestURI()}
		if target != "" {
			ev.What = []string{target}
		}
		r.Record(ev)
	})
}

// pathTarget reads the resource of a /fhir path: "Type/id", "Type" (as "") for a type
// level path, "" for a system level one; ok is false for paths whose refusal does not
// concern patient data (the directory, the server's own resources).
func pathTarget(path string) (target string, ok bool) {
	rest, found := strings.CutPrefix(path, "/fhir")
	if !found {
		return "", false
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	if parts[0] == "" || strings.HasPrefix(parts[0], "_") || strings.HasPrefix(parts[0], "$") {
		return "", true // the base: a Bundle, system history or operation
	}
	if !Covers(parts[0]) {
		return "", false
	}
	if len(parts) > 1 && !strings.HasPrefix(parts[1], "_") && !strings.HasPrefix(parts[1], "$") {
		return parts[0] + "/" + parts[1], true
	}
	return "", true
}

func actionOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return ActionRead
	case http.MethodPut, http.MethodPatch:
		return ActionUpdate
	case http.MethodDelete:
		return ActionDelete
	case http.MethodPost:
		return ActionCreate
	}
	return ActionExecute
}

// remoteIP is the address of the peer. X-Forwarded-For is not trusted: any client can set it.
func remoteIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// Interaction is one FHIR interaction, as the route that serves it knows it.
type Interaction struct {
	Code   string // http://hl7.org/fhir/restful-interaction: read, search-type, create…
	Action string // C, R, U, D or E
	Type   string // the resource type; "" at the system level
	ID     string // the resource id, for instance level interactions
	// Compartment is "Patient/id" for a search within a patient's compartment.
	Compartment string
	// Write is true for create, update and delete: their success is audited by the
	// transaction that stores them (storage.WriteAudit), their failure here.
	Write bool
}

// note is what the handler of an interaction tells the audit.
type note struct {
	touched []Touched
	query   string
	denied  string
	failure string
}

type noteKey struct{}

// Serve runs next as the interaction in and records its AuditEvent when it concerns
// patient data (its type is audited, or it is a system level interaction) or the policy
// refused it (Denied).
func Serve(w http.ResponseWriter, req *http.Request, in Interaction, next http.Handler) {
	q := requestOf(req.Context())
	if q == nil {
		next.ServeHTTP(w, req)
		return
	}
	n := &note{}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	start := time.Now()
	next.ServeHTTP(sw, req.WithContext(context.WithValue(req.Context(), noteKey{}, n)))
	if in.Type != "" && !Covers(in.Type) && (n.denied == "" || sw.status < 400) {
		return
	}
	q.recorded = true
	ev := Event{Action: in.Action, Interaction: in.Code, Recorded: start, Address: q.addr, Touched: n.touched}
	switch {
	case n.denied != "" && sw.status >= 400: // a refused include or chain does not fail the search
		ev.Outcome, ev.OutcomeDesc = OutcomeMinor, "denied: "+n.denied
	case sw.status >= 500:
		ev.Outcome, ev.OutcomeDesc = OutcomeSerious, firstNonEmpty(n.failure, http.StatusText(sw.status))
	case sw.status >= 400:
		ev.Outcome, ev.OutcomeDesc = OutcomeMinor, firstNonEmpty(n.failure, http.StatusText(sw.status))
		if sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden {
			ev.OutcomeDesc = "denied: " + ev.OutcomeDesc
		}
	default:
		if in.Write {
			return // the write's own transaction stored its AuditEvent
		}
		ev.Outcome = OutcomeSuccess
	}
	if c, ok := caller.From(req.Context()); ok {
		ev.Caller = &c
	}
	switch {
	case in.ID != "":
		ev.What = []string{in.Type + "/" + in.ID}
	case in.Compartment != "":
		ev.What = []string{in.Compartment}
	}
	if in.ID == "" || strings.HasPrefix(in.Code, "history") || in.Code == "operation" {
		ev.Query = firstNonEmpty(n.query, req.Method+" "+req.URL.RequestURI())
	}
	q.recorder.Record(ev)
}

// Touch tells the interaction of ctx that its answer carries typ/id (content is the
// resource, whose patients the AuditEvent names).
func Touch(ctx context.Context, typ, id string, content []byte) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok && Covers(typ) {
		n.touched = append(n.touched, Touched{Type: typ, ID: id, Content: content})
	}
}

// Query tells the interaction of ctx the search it ran, e.g. a POST _search's body as a query string.
func Query(ctx context.Context, query string) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.query = query
	}
}

// Failure tells the interaction of ctx why it failed, for outcomeDesc.
func Failure(ctx context.Context, err error) {
	n, ok := ctx.Value(noteKey{}).(*note)
	if !ok || err == nil {
		return
	}
	if fe, ok := fhirerr.As(err); ok {
		n.failure = fe.Diagnostics
	} else {
		n.failure = "internal error" // the log has the cause
	}
}

// Denied is the access policy's hook: the interaction of ctx was refused for reason,
// whatever its answer (a denied read answers 404 like a missing resource). Outside an
// interaction (e.g. a websocket bind), it records a denial of what ("Type/id") at once.
func Denied(ctx context.Context, reason string, what ...string) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.denied = reason
		return
	}
	q := requestOf(ctx)
	if q == nil {
		return
	}
	q.recorded = true
	ev := Event{Action: ActionExecute, Outcome: OutcomeMinor, OutcomeDesc: "denied: " + reason, Address: q.addr, What: what}
	if c, ok := caller.From(ctx); ok {
		ev.Caller = &c
	}
	q.recorder.Record(ev)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// statusWriter remembers the status of an answer; it passes Flush and Hijack through
// (a websocket upgrade goes through it).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("audit: the connection cannot be hijacked")
}
