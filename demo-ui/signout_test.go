package demoui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSignOut: signing out revokes the token and ends the sign-in at careslot (Hydra's
// session, through RP-initiated logout), so the next sign-in asks for the password again.
func TestSignOut(t *testing.T) {
	u := newUIServer(t)
	b := newBrowser(t)
	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")
	token := alice.eval(`JSON.parse(sessionStorage.getItem("careslot.session")).token`)

	alice.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS(`button[value="logout"]`)))
	alice.screenshot("1-confirm")
	alice.do("confirm", chromedp.Click(chromedp.CSS(`button[value="logout"]`)), chromedp.WaitVisible(chromedp.CSS("#sign-in-patient")))
	if text := alice.eval(`document.getElementById("alerts").innerText`); !strings.Contains(text, "You are signed out.") {
		t.Errorf("after signing out the page reads %q", text)
	}
	if got := alice.eval(`String(sessionStorage.getItem("careslot.session"))`); got != "null" {
		t.Errorf("the session after signing out: %s", got)
	}
	alice.screenshot("2-signed-out")

	// The token is revoked: careslot asks Hydra again at most 5 s after its last answer.
	status := 0
	for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		req, _ := http.NewRequest("GET", u.URL+"/Patient/pat-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if status = resp.StatusCode; status == http.StatusUnauthorized {
			break
		}
	}
	if status != http.StatusUnauthorized {
		t.Errorf("the signed-out token still reads: %d", status)
	}

	// Without the logout, Hydra would remember the sign-in for an hour and skip the
	// password.
	alice.do("sign in again", chromedp.Click(chromedp.CSS("#sign-in-patient")), chromedp.WaitVisible(chromedp.CSS("#password")))
	alice.screenshot("3-password-again")
}
