package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

const fhirJSON = "application/fhir+json"

func errorf(kind error, code, format string, args ...any) *fhirerr.Error {
	return fhirerr.New(kind, code, fmt.Sprintf(format, args...))
}

// wantsXML reports whether the client asked for XML, which careslot does not speak.
func wantsXML(r *http.Request) bool {
	if f := r.URL.Query().Get("_format"); f != "" {
		return strings.Contains(f, "xml")
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "xml") && !strings.Contains(accept, "json") && !strings.Contains(accept, "*/*")
}

// checkFormat refuses a _format or Accept that careslot cannot answer: 406.
func checkFormat(r *http.Request) error {
	if wantsXML(r) {
		return errorf(fhirerr.ErrNotAcceptable, fhirerr.CodeNotSupported, "careslot answers in JSON only (application/fhir+json); XML is not supported")
	}
	if f := r.URL.Query().Get("_format"); f != "" {
		// An unescaped + in a query string decodes to a space: application/fhir+json
		// arrives as "application/fhir json".
		switch strings.ReplaceAll(f, " ", "+") {
		case "json", "application/json", fhirJSON, "application/json+fhir":
		default:
			return errorf(fhirerr.ErrNotAcceptable, fhirerr.CodeNotSupported, "_format %q is not supported; use json", f)
		}
	}
	return nil
}

// readBody reads a request body of a FHIR JSON content type, within the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fhirJSON && mt != "application/json" && mt != "application/json+fhir") {
			return nil, errorf(fhirerr.ErrUnsupportedMediaType, fhirerr.CodeNotSupported,
				"Content-Type %q is not supported; send application/fhir+json", ct)
		}
	}
	body, err := s.readLimited(w, r)
	if err != nil {
		return nil, err
	}
	// JSON is UTF-8; a body that is not would be silently altered by re-encoding (e.g. in a transaction).
	if !utf8.Valid(body) {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the body is not valid UTF-8")
	}
	return body, nil
}

// readResource reads and validates the resource in the body; its type must be typ.
func (s *Server) readResource(w http.ResponseWriter, r *http.Request, typ string) ([]byte, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	got, err := s.validator.Validate(body)
	if err != nil {
		return nil, err
	}
	if got != typ {
		return nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("the body is a %s but the URL is for %s", got, typ), Expression: []string{"resourceType"}}
	}
	return s.localizeReferences(body), nil
}

// writeJSON writes a FHIR JSON body, indented when _pretty=true. Every answer goes out
// through here, so this is where each resource in it gets resourceType, id and meta
// first (order.go).
func writeJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	body = orderResources(body)
	if r.URL.Query().Get("_pretty") == "true" {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			body = buf.Bytes()
		}
	}
	w.Header().Set("Content-Type", fhirJSON+"; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// marshal renders a value that careslot built itself; it cannot fail for those values.
// Unlike json.Marshal it leaves & < > as they are, so URLs in links stay readable.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("fhir: marshal %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// fail answers with err as an OperationOutcome and logs what the client is not told:
// an error that is not a *fhirerr.Error is hidden behind a 500, and a refusal made from
// another error (a deadlock the client may retry) keeps that cause for the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	fe, ok := fhirerr.As(err)
	switch {
	case ok && fe.Err != nil:
		s.log.Warn("refused", "method", r.Method, "path", r.URL.Path, "status", fe.Status(), "err", err)
	case ok:
	case r.Context().Err() != nil:
		// The client went away and its request was cut short: nobody reads this
		// answer, and it is no server failure to alert on.
		s.log.Info("request abandoned by the client", "method", r.Method, "path", r.URL.Path)
	default:
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if !ok {
		fe = fhirerr.From(err)
	}
	var inBundle outcomeInBundle
	if errors.As(err, &inBundle) {
		writeJSON(w, r, fe.Status(), outcomeBundle(fe))
		return
	}
	writeJSON(w, r, fe.Status(), fe.JSON())
}

// versionTag is the weak ETag of a version.
func versionTag(version int) string { return `W/"` + strconv.Itoa(version) + `"` }

// setVersionHeaders sets ETag and Last-Modified of a stored version.
func setVersionHeaders(w http.ResponseWriter, res *storage.Resource) {
	w.Header().Set("ETag", versionTag(res.VersionID))
	w.Header().Set("Last-Modified", res.LastUpdated.UTC().Format(http.TimeFormat))
}

// parseETag reads a version from an If-Match value: W/"3", "3" or 3.
func parseETag(v string) (int, error) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "If-Match %q is not a version ETag like W/\"3\"", v)
	}
	return n, nil
}

// preferHeader is the Prefer header of r; RFC 7240 lets a client send it as several fields.
func preferHeader(r *http.Request) string {
	return strings.Join(r.Header.Values("Prefer"), ",")
}

// preference is the value of one preference of the Prefer header, "" when absent.
func preference(r *http.Request, name string) string {
	for _, part := range strings.Split(preferHeader(r), ",") {
		pref, _, _ := strings.Cut(part, ";") // a preference's own parameters follow a ;
		k, v, _ := strings.Cut(strings.TrimSpace(pref), "=")
		if strings.TrimSpace(k) == name {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// preferReturn is the return preference of the Prefer header: minimal, representation
// (the default) or OperationOutcome.
func preferReturn(r *http.Request) string {
	if v := preference(r, "return"); v != "" {
		return v
	}
	return "representation"
}

// preferStrict is true when the client asked for strict handling of search parameters.
func preferStrict(r *http.Request) bool {
	return preference(r, "handling") == "strict"
}

// writeResult answers a successful write: status, version headers, and the body the client preferred.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, status int, res *storage.Resource, message string) {
	setVersionHeaders(w, res)
	if status == http.StatusCreated {
		w.Header().Set("Location", fmt.Sprintf("%s/%s/%s/_history/%d", s.cfg.BaseURL, res.Type, res.ID, res.VersionID))
	}
	switch preferReturn(r) {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		writeJSON(w, r, status, marshal(fhirerr.Information(message)))
	default:
		writeJSON(w, r, status, res.Content)
	}
}
