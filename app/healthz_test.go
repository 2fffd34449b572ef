package app_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// TestHealthzFollowsTheDatabase: /healthz is 200 while the database answers and 503 when
// it does not, unlike /fhir/metadata, which answers either way.
func TestHealthzFollowsTheDatabase(t *testing.T) {
	ctx := context.Background()
	db := storagetest.NewDatabase(t)
	srv := apptest.NewOnDatabase(t, db)
	get := func(path string) int {
		resp, err := http.Get(srv.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz with the database up: %d", got)
	}

	// Take the database away: no new connections, the pool's ones ended.
	u, _ := url.Parse(db)
	name := u.Path[1:]
	admin, err := pgx.Connect(ctx, storagetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	restore := func() { admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` ALLOW_CONNECTIONS true`) }
	defer restore()
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	if got := get("/healthz"); got != http.StatusServiceUnavailable {
		t.Errorf("/healthz with the database gone: %d, want 503", got)
	}
	if got := get("/fhir/metadata"); got != http.StatusOK {
		t.Errorf("/fhir/metadata with the database gone: %d (it needs no database)", got)
	}
	restore()
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz after the database came back: %d", got)
	}
}
