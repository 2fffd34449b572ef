package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// limitedDatabase returns the URL of a fresh database that takes at most limit
// connections, for a role of its own: the limit binds no superuser, as the tests' is.
func limitedDatabase(t *testing.T, limit int) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, storagetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	role := "careslot_test_limited_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	// Registered before the database's drop, so it runs after it.
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), storagetest.AdminURL())
		if err == nil {
			c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(storagetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{u.Path[1:]}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" OWNER TO "+role); err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(ctx, "ALTER SCHEMA public OWNER TO "+role)
	db.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" CONNECTION LIMIT "+strconv.Itoa(limit)); err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// When the server refuses the pool a new connection (too many clients), a write waits
// for one of the pool's own instead of failing with a 500.
func TestWritesWaitWhileTheServerIsFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The pool may open 8 connections; the server lets it have 2.
	dbURL := limitedDatabase(t, 2) + "&pool_max_conns=8"
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.InTx(ctx, func(tx *storage.Tx) error {
				_, err := tx.PG().Exec(ctx, `SELECT pg_sleep(0.05)`)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a write while the server is full: %v", err)
		}
	}
}
