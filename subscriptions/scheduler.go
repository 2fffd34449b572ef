package subscriptions

import (
	"context"
	"time"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
	amqp "github.com/rabbitmq/amqp091-go"
)

// scheduler runs what happens at a time rather than on a change: due reminders,
// heartbeats, and the end of subscriptions whose end has passed. One replica runs it,
// the one holding the "scheduler" lease; its clock is Config.Now.
func (s *Service) scheduler(ctx context.Context) {
	for ctx.Err() == nil {
		lease, err := s.store.TryLease(ctx, "scheduler")
		if err != nil || lease == nil {
			pause(ctx, time.Second)
			continue
		}
		err = s.runScheduler(ctx, lease)
		lease.Release(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler stopped; starting over", "err", err)
			pause(ctx, s.cfg.ReconnectDelay)
		}
	}
}

func (s *Service) runScheduler(ctx context.Context, lease *storage.Lease) error {
	var ch *amqp.Channel
	defer func() {
		if ch != nil {
			ch.Close()
		}
	}()
	lastBeat := map[string]time.Time{}
	tick := time.NewTicker(s.cfg.ScheduleInterval)
	defer tick.Stop()
	nextCheck := time.Now().Add(5 * time.Second)
	for {
		now := s.cfg.Now()
		for {
			sent, err := s.store.SendDueReminder(ctx, now, s.reminderBody)
			if err != nil {
				s.log.Warn("reminder not sent; trying again", "err", err)
				break
			}
			if !sent {
				break
			}
		}
		subs, err := s.store.Subscriptions(ctx)
		if err != nil {
			return err
		}
		var beats []outgoing
		for _, st := range subs {
			sub, err := subscription.Parse(st.Content, s.parseOptions())
			if err != nil {
				continue
			}
			if !sub.End.IsZero() && !now.Before(sub.End) && sub.Status != subscription.StatusOff {
				// R4: at its end the server turns the subscription off.
				if err := s.setStatus(ctx, sub.ID, "", subscription.StatusOff, ""); err != nil {
					return err
				}
				continue
			}
			if sub.Status == subscription.StatusActive && sub.Heartbeat > 0 && now.Sub(lastBeat[sub.ID]) >= sub.Heartbeat {
				lastBeat[sub.ID] = now
				beats = append(beats, notificationMessage(notification{Subscription: sub.ID, Kind: kindHeartbeat, At: now}))
			}
		}
		if len(beats) > 0 && !s.inProcess.Load() { // in-process workers send their own
			if ch == nil || ch.IsClosed() {
				if ch, err = s.broker.channel(true); err != nil {
					ch = nil // no broker now: heartbeats wait, reminders go on
				}
			}
			if ch != nil {
				if err := publishConfirmed(ctx, ch, beats); err != nil {
					s.log.Warn("heartbeats not published", "err", err)
				}
			}
		}
		if time.Now().After(nextCheck) {
			nextCheck = time.Now().Add(5 * time.Second)
			if err := lease.Check(ctx); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
