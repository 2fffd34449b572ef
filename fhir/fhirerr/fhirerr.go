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
	CodeInformational   = "informational"
	CodeTooCostly       = "too-costly"
)

// Error is one refused request: what went wrong, where, and the HTTP status it maps to.
type Error struct {
	Status      int      // HTTP status code
	Code        string   // issue type code
	Severity    string   // fatal | error | warning | information; "" means error
	Diagnostics string   // human-readable explanation
	Expression  []string // FHIRPath of the offending element(s)
	// Resource is the "Type/id" the error is about, when known; not rendered. A transaction
	// uses it to say which of its entries failed a check made at commit.
	Resource string
}

func (e *Error) Error() string {
	if len(e.Expression) > 0 {
		return fmt.Sprintf("%d %s: %s (at %s)", e.Status, e.Code, e.Diagnostics, e.Expression[0])
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Diagnostics)
}

// New makes an Error; expression may be empty.
func New(status int, code, diagnostics string, expression ...string) *Error {
	return &Error{Status: status, Code: code, Diagnostics: diagnostics, Expression: expression}
}

// Invalid is a 400 for a malformed request or resource.
func Invalid(diagnostics string, expression ...string) *Error {
	return New(http.StatusBadRequest, CodeInvalid, diagnostics, expression...)
}

// Unprocessable is a 422: the resource parses but breaks a rule.
func Unprocessable(code, diagnostics string, expression ...string) *Error {
	return New(http.StatusUnprocessableEntity, code, diagnostics, expression...)
}

// NotFound is a 404.
func NotFound(diagnostics string) *Error {
	return New(http.StatusNotFound, CodeNotFound, diagnostics)
}

// Conflict is a 409.
func Conflict(diagnostics string, expression ...string) *Error {
	return New(http.StatusConflict, CodeConflict, diagnostics, expression...)
}

// Forbidden is a 403.
func Forbidden(diagnostics string) *Error {
	return New(http.StatusForbidden, CodeForbidden, diagnostics)
}

// As finds an *Error in err's chain.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// From returns err's *Error, or a 500 exception that hides the internal detail.
func From(err error) *Error {
	if fe, ok := As(err); ok {
		return fe
	}
	return New(http.StatusInternalServerError, CodeException, "internal server error")
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
