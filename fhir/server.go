// Package fhir is careslot's FHIR R4 RESTful API: it routes the interactions, parses and
// validates resources, runs Bundles, and renders every refusal as an OperationOutcome.
//
// It decides nothing about the rules of a resource type (that is package resources) and
// writes no SQL (that is package storage).
package fhir

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/gorilla/mux"
)

// Config is how the FHIR API is served.
type Config struct {
	// BaseURL is the absolute URL of the FHIR base, e.g. http://127.0.0.1:8080/fhir.
	BaseURL string
	// MaxBodyBytes limits a request body; larger ones get 413.
	MaxBodyBytes int64
	// BinaryMaxBytes limits the bytes of a Binary (CARESLOT_BINARY_MAX_BYTES); larger
	// ones get 413. DefaultBinaryMaxBytes when zero.
	BinaryMaxBytes int64
	// Security is CapabilityStatement.rest.security (SMART on FHIR), when set.
	Security map[string]any
	// HoldTTL is how long $hold keeps a slot (CARESLOT_HOLD_TTL); 5 minutes when zero.
	HoldTTL time.Duration
	// Websocket serves the R4 websocket channel of subscriptions at /fhir/websocket;
	// nil when subscriptions do not run.
	Websocket http.Handler
}

// Server serves the FHIR API.
type Server struct {
	cfg       Config
	store     *storage.Store
	rules     *resources.Rules
	validator *Validator
	router    *mux.Router
	ops       map[string]*Operation
	log       *slog.Logger
}

// NewServer wires the FHIR API over store and rules.
func NewServer(cfg Config, store *storage.Store, rules *resources.Rules, log *slog.Logger) (*Server, error) {
	v, err := NewValidator()
	if err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.BinaryMaxBytes <= 0 {
		cfg.BinaryMaxBytes = DefaultBinaryMaxBytes
	}
	if cfg.HoldTTL <= 0 {
		cfg.HoldTTL = resources.DefaultHoldDuration
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, store: store, rules: rules, validator: v, ops: map[string]*Operation{}, log: log}
	s.routes()
	return s, nil
}

// HandlerFunc is a FHIR interaction: it answers the request, or returns the error that
// refuses it and leaves the answer to the one place that renders errors (handle).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle turns an interaction into an http.Handler. It is the one place where a refusal
// becomes an OperationOutcome and is logged (fail), and where a panic, which is a bug,
// is logged with its stack and answered with a 500 OperationOutcome rather than a
// dropped connection; in a Bundle entry, it is that entry's 500.
func (s *Server) handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				fe := fhirerr.From(nil)
				writeJSON(w, r, fe.Status(), fe.JSON())
			}
		}()
		if err := h(w, r); err != nil {
			audit.Failure(r.Context(), err)
			s.fail(w, r, err)
		}
	})
}

// Handler serves the API; mount it at /fhir.
func (s *Server) Handler() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := checkFormat(r); err != nil {
			return err
		}
		if r.URL.Path != "/fhir/metadata" {
			// Answers are one caller's view of patient data: no browser or proxy keeps
			// them (a cached read gave the booking UI a stale version for If-Match).
			w.Header().Set("Cache-Control", "no-store")
		}
		s.router.ServeHTTP(w, r)
		return nil
	})
}

// Validator is the server's R4 validator.
func (s *Server) Validator() *Validator { return s.validator }

const (
	typePattern = `{type:[A-Z][A-Za-z]+}`
	idPattern   = `{id:[A-Za-z0-9\-\.]{1,64}}`
	opPattern   = `{op:\$[A-Za-z][A-Za-z\-]*}`
)

func (s *Server) routes() {
	r := mux.NewRouter().PathPrefix("/fhir").Subrouter()
	r.StrictSlash(false)
	get, post, put, del, head, patch := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch

	r.Handle("/metadata", s.handle(s.metadata)).Methods(get, head)
	if s.cfg.Websocket != nil {
		r.Handle("/websocket", s.cfg.Websocket).Methods(get)
	}
	r.Handle("", s.handle(s.bundle)).Methods(post)
	r.Handle("/", s.handle(s.bundle)).Methods(post)
	// Every other interaction is audited when it concerns patient data (package audit).
	const read, exec, create, update, remove = "R", "E", "C", "U", "D"
	// careslot's SubscriptionTopics, as Basic (topics.go), before the stored types.
	r.Handle("/Basic", s.handle(s.searchTopics)).Methods(get, head)
	r.Handle("/Basic/"+idPattern, s.handle(s.readTopic)).Methods(get, head).MatcherFunc(isTopicRead)
	r.Handle("/_history", s.audited("history-system", read, s.history)).Methods(get)
	r.Handle("/"+opPattern, s.audited("operation", exec, s.operation)).Methods(get, post)

	r.Handle("/"+typePattern, s.audited("search-type", exec, s.search)).Methods(get, head)
	r.Handle("/"+typePattern+"/_search", s.audited("search-type", exec, s.search)).Methods(post)
	r.Handle("/"+typePattern, s.audited("create", create, s.create)).Methods(post)
	r.Handle("/"+typePattern, s.audited("update", update, s.conditionalUpdate)).Methods(put)
	r.Handle("/"+typePattern, s.audited("delete", remove, s.conditionalDelete)).Methods(del)
	r.Handle("/"+typePattern, s.audited("patch", update, s.conditionalPatch)).Methods(patch)
	r.Handle("/"+typePattern+"/_history", s.audited("history-type", read, s.history)).Methods(get)
	r.Handle("/"+typePattern+"/"+opPattern, s.audited("operation", exec, s.operation)).Methods(get, post)

	r.Handle("/"+typePattern+"/"+idPattern, s.audited("read", read, s.read)).Methods(get, head)
	r.Handle("/"+typePattern+"/"+idPattern, s.audited("update", update, s.update)).Methods(put)
	r.Handle("/"+typePattern+"/"+idPattern, s.audited("delete", remove, s.delete)).Methods(del)
	r.Handle("/"+typePattern+"/"+idPattern, s.audited("patch", update, s.patch)).Methods(patch)
	r.Handle("/"+typePattern+"/"+idPattern+"/_history", s.audited("history-instance", read, s.history)).Methods(get)
	r.Handle("/"+typePattern+"/"+idPattern+"/_history/{vid:[0-9]{1,9}}", s.audited("vread", read, s.vread)).Methods(get, head)
	r.Handle("/"+typePattern+"/"+idPattern+"/"+opPattern, s.audited("operation", exec, s.operation)).Methods(get, post)
	// Compartment search: [base]/Patient/123/Appointment?… is Appointment?… within Patient/123's compartment.
	r.Handle("/{compartment:Patient|Practitioner|Encounter}/"+idPattern+"/"+typePattern, s.audited("search-type", exec, s.search)).Methods(get, head)

	// Anything else under /fhir: a bad id, an unknown path, or a known path with the wrong method.
	r.NotFoundHandler = s.handle(s.unknownPath)
	r.MethodNotAllowedHandler = s.handle(func(w http.ResponseWriter, req *http.Request) error {
		return errorf(fhirerr.ErrMethodNotAllowed, "not-supported", "%s is not supported on %s", req.Method, req.URL.Path)
	})
	s.router = r
}

// Route is one path the FHIR router serves, as a template ({type}, {id}…), with its methods.
type Route struct {
	Path    string
	Methods []string
}

// Routes lists what the router serves, for tests that walk every route (each must
// refuse a caller without a token, but the public ones).
func (s *Server) Routes() []Route {
	var out []Route
	s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, _ := route.GetMethods()
		out = append(out, Route{Path: path, Methods: methods})
		return nil
	})
	return out
}

// unknownPath answers a path that matches no interaction: 400 for a malformed id, 404 otherwise.
func (s *Server) unknownPath(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
	default:
		return errorf(fhirerr.ErrMethodNotAllowed, "not-supported", "%s is not supported", r.Method)
	}
	if s.otherMethodMatches(r) {
		return errorf(fhirerr.ErrMethodNotAllowed, "not-supported", "%s is not supported on %s", r.Method, r.URL.Path)
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/fhir"), "/"), "/")
	if len(parts) == 4 && parts[2] == "_history" && s.validator.IsResourceType(parts[0]) {
		// careslot's version ids are 1, 2, 3…; any other is a version that does not exist.
		return errorf(fhirerr.ErrNotFound, "not-found", "%s/%s has no version %q", parts[0], parts[1], parts[3])
	}
	if len(parts) >= 2 && s.validator.IsResourceType(parts[0]) && !strings.HasPrefix(parts[1], "_") && !strings.HasPrefix(parts[1], "$") &&
		!validID(parts[1]) {
		return errorf(fhirerr.ErrInvalid, "invalid", "%q is not a valid resource id: ids are 1 to 64 of A-Z a-z 0-9 - .", parts[1])
	}
	return errorf(fhirerr.ErrNotFound, "not-found", "no FHIR interaction at %s %s", r.Method, r.URL.Path)
}

// otherMethodMatches reports whether the path of r has an interaction under another
// method (gorilla/mux does not always tell, e.g. HEAD on a GET-only path).
func (s *Server) otherMethodMatches(r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if m == r.Method {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		var match mux.RouteMatch
		if s.router.Match(other, &match) && match.MatchErr == nil {
			return true
		}
	}
	return false
}

// resourceType reads and checks the {type} of the route: 404 for a type that is not R4.
func (s *Server) resourceType(r *http.Request) (string, error) {
	typ := mux.Vars(r)["type"]
	if !s.validator.IsResourceType(typ) {
		return "", errorf(fhirerr.ErrNotFound, "not-supported", "%q is not a resource type this server supports", typ)
	}
	return typ, nil
}

// txKey carries the transaction of a transaction Bundle to the interactions it runs.
type txKey struct{}

func withTx(ctx context.Context, tx *storage.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// inTx runs fn in the request's transaction Bundle, if any, or in a transaction of its own.
func (s *Server) inTx(ctx context.Context, fn func(*storage.Tx) error) error {
	if tx, ok := ctx.Value(txKey{}).(*storage.Tx); ok {
		return fn(tx)
	}
	return s.store.InTx(ctx, fn)
}

// reader is what reads go through: the Bundle's transaction, so a transaction sees its
// own writes, or the pool.
type reader interface {
	Read(ctx context.Context, typ, id string) (*storage.Resource, error)
	ReadVisible(ctx context.Context, a *search.Access, typ, id string) (*storage.Resource, bool, error)
	VRead(ctx context.Context, typ, id string, version int) (*storage.Resource, error)
	History(ctx context.Context, q storage.HistoryQuery) ([]storage.HistoryEntry, *storage.HistoryCursor, error)
	Visible(ctx context.Context, a *search.Access, typ string, rid int64) (bool, error)
	BinaryBlob(ctx context.Context, rid int64, version int) (*storage.Blob, error)
	CopyBlob(ctx context.Context, b *storage.Blob, w io.Writer) error
}

func (s *Server) reader(ctx context.Context) reader {
	if tx, ok := ctx.Value(txKey{}).(*storage.Tx); ok {
		return tx
	}
	return s.store
}
