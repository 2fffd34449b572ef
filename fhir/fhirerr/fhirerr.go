// Package fhirerr is careslot's one error type: a FHIR issue with its HTTP status.
//
// Every layer returns (or wraps with %w) an *Error when a request is refused; the
// HTTP layer turns it into an OperationOutcome in one place. It must never import
// another careslot package.
package fhirerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Issue type codes from http://hl7.org/fhir/R4/valueset-issue-type.html that careslot uses.
const (
	CodeInvalid         = "invalid"
	CodeStructure       = "structure"
	CodeRequired        = "required"
	CodeValue           = "value"
	CodeInvariant       = "invariant"
	CodeSecurity        = "security"
	CodeLogin           = "login"
	CodeForbidden       = "forbidden"
	CodeNotSupported    = "not-supported"
	CodeDuplicate       = "duplicate"
	CodeMultipleMatches = "multiple-matches"
	CodeNotFound        = "not-found"
	CodeDeleted         = "deleted"
	CodeTooLong         = "too-long"
	CodeConflict        = "conflict"
	CodeBusinessRule    = "business-rule"
	CodeProcessing      = "processing"
	CodeException       = "exception"
	CodeTransient       = "transient"
	CodeInformational   = "informational"
	CodeTooCostly       = "too-costly"
)

// The categories of refusal, as pkgsite's derrors: every *Error has one (Kind), the
// category alone decides the HTTP status, and errors.Is(err, ErrConflict) asks for it
// through any wrapping.
var (
	ErrInvalid              = errors.New("invalid request")        // 400
	ErrUnauthorized         = errors.New("unauthorized")           // 401
	ErrForbidden            = errors.New("forbidden")              // 403
	ErrNotFound             = errors.New("not found")              // 404
	ErrMethodNotAllowed     = errors.New("method not allowed")     // 405
	ErrNotAcceptable        = errors.New("not acceptable")         // 406
	ErrConflict             = errors.New("conflict")               // 409
	ErrGone                 = errors.New("gone")                   // 410
	ErrPreconditionFailed   = errors.New("precondition failed")    // 412
	ErrTooLarge             = errors.New("request too large")      // 413
	ErrUnsupportedMediaType = errors.New("unsupported media type") // 415
	ErrUnprocessable        = errors.New("unprocessable")          // 422
	ErrInternal             = errors.New("internal error")         // 500
	ErrUnavailable          = errors.New("unavailable")            // 503: try again later
)

// statuses maps each category to its HTTP status.
var statuses = []struct {
	kind   error
	status int
}{
	{ErrInvalid, http.StatusBadRequest},
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrForbidden, http.StatusForbidden},
	{ErrNotFound, http.StatusNotFound},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed},
	{ErrNotAcceptable, http.StatusNotAcceptable},
	{ErrConflict, http.StatusConflict},
	{ErrGone, http.StatusGone},
	{ErrPreconditionFailed, http.StatusPreconditionFailed},
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
	{ErrUnprocessable, http.StatusUnprocessableEntity},
	{ErrInternal, http.StatusInternalServerError},
	{ErrUnavailable, http.StatusServiceUnavailable},
}

// KindOf is the category of an HTTP status, for an answer recorded as a status (a
// transaction Bundle's failed entry). A status without a category of its own is
// ErrInvalid when it is a 4xx and ErrInternal otherwise.
func KindOf(status int) error {
	for _, c := range statuses {
		if c.status == status {
			return c.kind
		}
	}
	if status >= 400 && status < 500 {
		return ErrInvalid
	}
	return ErrInternal
}

// Error is one refused request: its category, what went wrong, where, and why.
type Error struct {
	Kind        error    // the category: one of the Err* sentinels; it decides the HTTP status
	Code        string   // issue type code
	Severity    string   // fatal | error | warning | information; "" means error
	Diagnostics string   // human-readable explanation
	Expression  []string // FHIRPath of the offending element(s)
	// Resource is the "Type/id" the error is about, when known; not rendered. A transaction
	// uses it to say which of its entries failed a check made at commit.
	Resource string
	// Err is the cause (a database error a refusal was made from), kept for logs and
	// errors.Is/As; never rendered to the client.
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status(), e.Code, e.Diagnostics)
	if len(e.Expression) > 0 {
		msg += " (at " + e.Expression[0] + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrConflict) true for an *Error of that category.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Status is the HTTP status of the error's category; 500 when it has none.
func (e *Error) Status() int {
	for _, c := range statuses {
		if c.kind == e.Kind {
			return c.status
		}
	}
	return http.StatusInternalServerError
}

// WithCause records err as the cause of e and returns e.
func (e *Error) WithCause(err error) *Error {
	e.Err = err
	return e
}

// New makes an Error of category kind; expression may be empty.
func New(kind error, code, diagnostics string, expression ...string) *Error {
	return &Error{Kind: kind, Code: code, Diagnostics: diagnostics, Expression: expression}
}

// Invalid is a 400 for a malformed request or resource.
func Invalid(diagnostics string, expression ...string) *Error {
	return New(ErrInvalid, CodeInvalid, diagnostics, expression...)
}

// Unprocessable is a 422: the resource parses but breaks a rule.
func Unprocessable(code, diagnostics string, expression ...string) *Error {
	return New(ErrUnprocessable, code, diagnostics, expression...)
}

// NotFound is a 404.
func NotFound(diagnostics string) *Error {
	return New(ErrNotFound, CodeNotFound, diagnostics)
}

// Conflict is a 409.
func Conflict(diagnostics string, expression ...string) *Error {
	return New(ErrConflict, CodeConflict, diagnostics, expression...)
}

// Forbidden is a 403.
func Forbidden(diagnostics string) *Error {
	return New(ErrForbidden, CodeForbidden, diagnostics)
}

// As finds an *Error in err's chain.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// From returns err's *Error, or a 500 exception that hides the internal detail (err is
// kept as its cause, for the log).
func From(err error) *Error {
	if fe, ok := As(err); ok {
		return fe
	}
	return New(ErrInternal, CodeException, "internal server error").WithCause(err)
}

// OutcomeIssue is one OperationOutcome.issue.
type OutcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// Outcome is an R4 OperationOutcome.
type Outcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []OutcomeIssue `json:"issue"`
}

// Issue returns the error as an OperationOutcome issue.
func (e *Error) Issue() OutcomeIssue {
	sev := e.Severity
	if sev == "" {
		sev = "error"
	}
	return OutcomeIssue{Severity: sev, Code: e.Code, Diagnostics: e.Diagnostics, Expression: e.Expression}
}

// Outcome renders the error as an OperationOutcome.
func (e *Error) Outcome() Outcome {
	return Outcome{ResourceType: "OperationOutcome", Issue: []OutcomeIssue{e.Issue()}}
}

// JSON renders the OperationOutcome as JSON.
func (e *Error) JSON() []byte {
	b, _ := json.Marshal(e.Outcome())
	return b
}

// Information makes a one-issue informational OperationOutcome, for successful
// interactions that answer with an outcome (Prefer: return=OperationOutcome).
func Information(diagnostics string) Outcome {
	return Outcome{ResourceType: "OperationOutcome", Issue: []OutcomeIssue{{
		Severity: "information", Code: CodeInformational, Diagnostics: diagnostics}}}
}
