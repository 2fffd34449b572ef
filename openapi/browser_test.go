package openapi_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/openapi"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's browser, which .ci/run installs; without it (outside CI) the
// browser tests are skipped.
const chromium = "/usr/bin/chromium"

func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; .ci/run installs it", chromium)
		}
		t.Skipf("%s is missing: the browser test needs Debian's chromium", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// Swagger UI renders careslot's document in a real browser without a console error, and
// its Authorize dialog offers SMART's authorization code flow, with PKCE, as the
// Swagger client, and client credentials. Screenshots go to the test's output folder.
func TestSwaggerUIRendersInABrowser(t *testing.T) {
	srv := apptest.New(t)
	ctx := browser(t)
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console error: "+strings.Join(args, " "))
			}
		case *log.EventEntryAdded: // CSP violations, failed loads
			if ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, "log error: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text+" "+exceptionDescription(ev.ExceptionDetails))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSuffix(srv.URL, "/fhir")
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("Swagger UI, %s: %v", what, err)
		}
	}
	step("open /swagger/", chromedp.Do(ctx, chromedp.Navigate(root+"/swagger/"),
		chromedp.WaitVisible(css(`#operations-tag-Appointment`))))
	title, err := chromedp.Run(ctx, chromedp.Text(css(`.info .title`)))
	step("read the title", err)
	step("open the Appointment operations", chromedp.Do(ctx, chromedp.Click(css(`#operations-tag-Appointment`)),
		chromedp.WaitVisible(css(`[id^="operations-Appointment-postAppointmentbook"]`))))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	step("screenshot", err)
	step("open Authorize", chromedp.Do(ctx, chromedp.Click(css(`.auth-wrapper .authorize`)),
		chromedp.WaitVisible(css(`.dialog-ux .modal-ux`))))
	dialog, err := chromedp.Run(ctx, chromedp.Text(css(`.dialog-ux .modal-ux`)))
	step("read the Authorize dialog", err)
	clientID, err := chromedp.Run(ctx, chromedp.Value(css(`.dialog-ux input#client_id_authorizationCode`)))
	step("read the client_id", err)
	authShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	step("screenshot", err)
	// The test's output folder, as demo-ui's browser tests keep theirs (not tracked).
	dir := filepath.Join("testdata", "out", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string][]byte{"swagger.jpg": shot, "swagger-authorize.jpg": authShot} {
		if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	if !strings.Contains(title, "careslot FHIR R4 API") {
		t.Errorf("title = %q", title)
	}
	for _, want := range []string{"authorizationCode with PKCE", "clientCredentials", "/auth/authorize", "/auth/token", "patient/*.rs", "system/*.rs"} {
		if !strings.Contains(dialog, want) {
			t.Errorf("the Authorize dialog does not say %q:\n%s", want, dialog)
		}
	}
	if clientID != openapi.SwaggerClientID {
		t.Errorf("client_id = %q, want %s", clientID, openapi.SwaggerClientID)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged problems:\n%s", fmt.Sprint(strings.Join(problems, "\n")))
	}
}

func exceptionDescription(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}
