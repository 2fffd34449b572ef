package token_test

import (
	"context"
	"errors"
	"testing"

	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/smart-auth/token"
)

// FuzzVerify: whatever a client sends as a token, the verifier answers with a
// *token.Error and never panics; only the issuer's own tokens pass.
func FuzzVerify(f *testing.F) {
	iss := smarttest.Shared(f)
	good := iss.MustMint(f, smarttest.Patient(aud, "p1", "patient/*.rs"))
	for _, seed := range []string{good, good[:len(good)-3], "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "..", "x", "eyJ9.eyJ9.eyJ9",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6InNtYXJ0dGVzdCJ9.eyJleHQiOjF9.AAAA"} {
		f.Add(seed)
	}
	v, err := iss.Verifier(aud)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			var te *token.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *token.Error", err)
			}
			return
		}
		if raw != good || c.Patient != "p1" {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}
