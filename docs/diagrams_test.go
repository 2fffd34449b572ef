package docs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Every Mermaid diagram in docs/ and the README parses with Mermaid (vendored in
// testdata/mermaid), in Debian's chromium: a diagram that does not parse shows as an
// error box where it is read.
func TestMermaidDiagramsParse(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; .ci/run installs it", chromium)
		}
		t.Skipf("%s is missing: the diagrams test needs Debian's chromium", chromium)
	}
	files, _ := filepath.Glob("*.md")
	files = append(files, "../README.md")
	block := regexp.MustCompile("(?s)```mermaid\n(.*?)```")
	var names, sources []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllStringSubmatch(string(src), -1) {
			names = append(names, f+" diagram "+strconv.Itoa(i+1))
			sources = append(sources, m[1])
		}
	}
	if len(sources) < 8 {
		t.Fatalf("found %d diagrams; the architecture alone has 8", len(sources))
	}
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata/mermaid")))
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/LICENSE")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`new Promise((ok, fail) => {
		const s = document.createElement("script"); s.src = "/mermaid.min.js"; s.onload = ok; s.onerror = fail;
		document.head.appendChild(s);
	}).then(() => { mermaid.initialize({startOnLoad: false}); return true })`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("load mermaid: %v", err)
	}
	srcJSON, _ := json.Marshal(sources)
	results, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Promise.all(`+string(srcJSON)+`.map(src =>
		mermaid.parse(src).then(() => "", e => String(e && e.message || e))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for i, msg := range results {
		if msg != "" {
			t.Errorf("%s does not parse:\n%s", names[i], strings.TrimSpace(msg))
		}
	}
}
