package subscriptions

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/storage"
)

// Config is how subscriptions run; cmd/careslot reads it from the environment.
type Config struct {
	// AMQPURL is the RabbitMQ to use (AMQP_URL).
	AMQPURL string
	// BaseURL is the server's FHIR base, for fullUrls and references in notifications.
	BaseURL string
	// AllowPrivate lets notifications reach private, loopback and link-local addresses
	// (CARESLOT_SUBSCRIPTION_ALLOW_PRIVATE).
	AllowPrivate bool
	// RetryDelays are the waits before each retry of a failed notification; after the
	// last, the notification is parked in the dead-letter queue and the subscription
	// goes to error.
	RetryDelays []time.Duration
	// PollInterval is how often the relay looks for new outbox rows when it found none.
	PollInterval time.Duration
	// OutboxRetention is how long sent outbox rows are kept (CARESLOT_OUTBOX_RETENTION).
	OutboxRetention time.Duration
	// PruneInterval is how often the relay prunes sent rows older than the retention.
	PruneInterval time.Duration
	// ReconnectDelay is the wait before a worker whose broker connection broke starts over.
	ReconnectDelay time.Duration
	// DeliveryTimeout bounds one notification request when the subscription sets none.
	DeliveryTimeout time.Duration
	// ReminderLead is how long before an appointment's start its reminder goes out
	// (CARESLOT_REMINDER_LEAD).
	ReminderLead time.Duration
	// Now is the clock of reminders and heartbeats; tests move it.
	Now func() time.Time
	// ScheduleInterval is how often due reminders, heartbeats and ends are looked for.
	ScheduleInterval time.Duration
	// InProcessFallback fans notifications out in-process, on this node only, when
	// RabbitMQ does not answer at start (CARESLOT_SUBSCRIPTION_IN_PROCESS; inprocess.go);
	// without it careslot waits for the broker, the outbox keeping every change.
	InProcessFallback bool
	// Visible tells whether the owner of a subscription (the creating caller as JSON, nil
	// when anonymous) may read the resource of a change, content being the version the
	// event is about (the deleted one for a delete); an error has the batch matched
	// again. app wires the access policy here (resources.Rules.OwnerMaySee), so that
	// notifications never carry what their owner may not read; nil lets everything
	// through (tests of delivery alone).
	Visible func(ctx context.Context, owner []byte, c storage.Change, content []byte) (bool, error)
}

// DefaultRetryDelays wait 1 s, 5 s, 30 s, 2 min and 10 min.
var DefaultRetryDelays = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

func (c *Config) defaults() {
	if c.AMQPURL == "" {
		c.AMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	if len(c.RetryDelays) == 0 {
		c.RetryDelays = DefaultRetryDelays
	}
	if c.PollInterval == 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.OutboxRetention == 0 {
		c.OutboxRetention = 72 * time.Hour
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = time.Minute
	}
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = time.Second
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = 10 * time.Second
	}
	if c.ReminderLead == 0 {
		c.ReminderLead = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ScheduleInterval == 0 {
		c.ScheduleInterval = time.Second
	}
}

// Service runs the relay, the matcher, the delivery workers and the schedulers.
type Service struct {
	cfg    Config
	store  *storage.Store
	log    *slog.Logger
	broker *broker
	relay  *relay
	hub    *hub
	client *http.Client

	// inProcess is set when notifications fan out without RabbitMQ; wake tells the
	// in-process workers that events were recorded.
	inProcess atomic.Bool
	wake      localWake

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New makes the service; Start runs it.
func New(cfg Config, store *storage.Store, log *slog.Logger) *Service {
	cfg.defaults()
	s := &Service{cfg: cfg, store: store, log: log}
	s.broker = &broker{url: cfg.AMQPURL, retries: cfg.RetryDelays}
	s.relay = &relay{store: store, broker: s.broker, svc: s, batch: 500, poll: cfg.PollInterval, retention: cfg.OutboxRetention}
	s.hub = newHub(s)
	s.client = newClient(cfg.AllowPrivate)
	return s
}

// Start runs the workers until Stop.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	// The first connection is tried beside serving, not before it: a slow broker must
	// not delay the API. Without one, writes go on and the outbox keeps every change.
	s.wg.Go(func() {
		_, err := s.broker.connection()
		if err != nil && ctx.Err() == nil {
			if s.cfg.InProcessFallback {
				s.log.Warn("RabbitMQ is not reachable at start: notifications fan out in-process from the outbox, on this node only; restart careslot to use RabbitMQ once it is up",
					"amqp", redactURL(s.cfg.AMQPURL), "err", err)
				s.runInProcess(ctx)
				return
			}
			s.log.Warn("RabbitMQ is not reachable at start: notifications wait in the outbox until it is; the relay keeps trying",
				"amqp", redactURL(s.cfg.AMQPURL), "err", err)
		}
		s.wg.Go(func() { s.relay.run(ctx, nil) })
		m := &matcher{svc: s}
		s.wg.Go(func() { m.run(ctx) })
		s.wg.Go(func() { s.supervise(ctx) })
		s.wg.Go(func() { s.scheduler(ctx) })
	})
	return nil
}

// stopGrace is how long Stop lets the workers finish what they are doing before it
// closes the broker connection under them.
const stopGrace = 5 * time.Second

// Stop ends every worker and waits for them. A worker waiting on a broker that does not
// answer is freed by closing the connection.
func (s *Service) Stop() {
	if s.stop != nil {
		s.stop()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopGrace):
		s.broker.close()
		<-done
	}
	s.broker.close()
}

// visible is the seam of the access policy: a subscription gets an event only if its
// owner may read the changed resource (Config.Visible).
func (s *Service) visible(ctx context.Context, sub *liveSubscription, c storage.Change, content []byte) (bool, error) {
	if s.cfg.Visible == nil {
		return true, nil
	}
	return s.cfg.Visible(ctx, sub.Owner, c, content)
}
