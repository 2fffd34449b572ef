package main

import (
	"context"
	"log/slog"

	"github.com/careslot/careslot/storage"
)

// reindex rebuilds the search index of every resource: run it after the search
// parameter definitions change (a careslot upgrade says so in its notes).
func reindex(ctx context.Context, cfg config, log *slog.Logger) error {
	store, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.Reindex(ctx, func(done int) {
		if done%10000 < 500 {
			log.Info("reindexing", "resources", done)
		}
	})
	if err != nil {
		return err
	}
	log.Info("reindexed", "resources", n)
	return nil
}
