package fhirerr_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// TestCategoryDecidesStatus: every category maps to its HTTP status, and KindOf maps
// the status back to the category.
func TestCategoryDecidesStatus(t *testing.T) {
	cases := []struct {
		kind   error
		status int
	}{
		{fhirerr.ErrInvalid, http.StatusBadRequest},
		{fhirerr.ErrUnauthorized, http.StatusUnauthorized},
		{fhirerr.ErrForbidden, http.StatusForbidden},
		{fhirerr.ErrNotFound, http.StatusNotFound},
		{fhirerr.ErrMethodNotAllowed, http.StatusMethodNotAllowed},
		{fhirerr.ErrNotAcceptable, http.StatusNotAcceptable},
		{fhirerr.ErrConflict, http.StatusConflict},
		{fhirerr.ErrGone, http.StatusGone},
		{fhirerr.ErrPreconditionFailed, http.StatusPreconditionFailed},
		{fhirerr.ErrTooLarge, http.StatusRequestEntityTooLarge},
		{fhirerr.ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
		{fhirerr.ErrUnprocessable, http.StatusUnprocessableEntity},
		{fhirerr.ErrInternal, http.StatusInternalServerError},
		{fhirerr.ErrUnavailable, http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.kind.Error(), func(t *testing.T) {
			t.Parallel()
			if got := fhirerr.New(c.kind, fhirerr.CodeInvalid, "x").Status(); got != c.status {
				t.Errorf("status %d, want %d", got, c.status)
			}
			if got := fhirerr.KindOf(c.status); got != c.kind {
				t.Errorf("KindOf(%d) = %v, want %v", c.status, got, c.kind)
			}
		})
	}
	t.Run("statuses without a category", func(t *testing.T) {
		t.Parallel()
		if got := fhirerr.KindOf(http.StatusTeapot); got != fhirerr.ErrInvalid {
			t.Errorf("KindOf(418) = %v, want ErrInvalid", got)
		}
		if got := fhirerr.KindOf(http.StatusBadGateway); got != fhirerr.ErrInternal {
			t.Errorf("KindOf(502) = %v, want ErrInternal", got)
		}
		if got := (&fhirerr.Error{Code: fhirerr.CodeException}).Status(); got != http.StatusInternalServerError {
			t.Errorf("an Error without a category answers %d, want 500", got)
		}
	})
}

// TestErrorKeepsItsCause: a refusal made from another error still carries it, for
// errors.Is/As and the log, through any wrapping, while the client sees only the
// diagnostics.
func TestErrorKeepsItsCause(t *testing.T) {
	cause := errors.New("deadlock detected (SQLSTATE 40P01)")
	err := fmt.Errorf("storage: lock: %w", fhirerr.Conflict("changed concurrently; retry").WithCause(cause))
	if !errors.Is(err, fhirerr.ErrConflict) {
		t.Error("errors.Is(err, ErrConflict) is false")
	}
	if errors.Is(err, fhirerr.ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) is true for a conflict")
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is lost")
	}
	if !strings.Contains(err.Error(), cause.Error()) || !strings.HasPrefix(fhirerr.From(err).Error(), "409 conflict: changed concurrently; retry") {
		t.Errorf("Error() = %q, want the status, the diagnostics and the cause", err.Error())
	}
	if body := string(fhirerr.From(err).JSON()); strings.Contains(body, "40P01") {
		t.Errorf("the OperationOutcome shows the cause: %s", body)
	}
	internal := fhirerr.From(cause)
	if internal.Status() != http.StatusInternalServerError || !errors.Is(internal, cause) || strings.Contains(string(internal.JSON()), "40P01") {
		t.Errorf("From(a plain error) = %v, want a 500 that keeps the cause and does not show it", internal)
	}
}
