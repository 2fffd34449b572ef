package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/careslot/careslot/app"
)

// holdSweepInterval is how often serve cancels lapsed $hold appointments. Bookings and
// $find release lapsed holds in their own transaction anyway; the sweep makes a lapsed
// hold's appointment and slot read as cancelled and free even when nobody books.
const holdSweepInterval = 30 * time.Second

// sweepHolds cancels lapsed holds every holdSweepInterval until ctx ends. Each replica
// may run it: a hold is cancelled under its row lock, once.
func sweepHolds(ctx context.Context, a *app.App, log *slog.Logger) {
	tick := time.NewTicker(holdSweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n, err := a.Rules.ExpireHolds(ctx, a.Store); err != nil && ctx.Err() == nil {
				log.Error("expire holds", "err", err)
			} else if n > 0 {
				log.Info("expired holds", "count", n)
			}
		}
	}
}
