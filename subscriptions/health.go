package subscriptions

import (
	"context"
	"net/url"
	"time"
)

// Health is what /healthz reports of subscriptions.
type Health struct {
	Broker string `json:"broker"` // connected, unreachable or in-process
	Relay  struct {
		Status string `json:"status"` // ok, failing, or standby (another replica holds the lease)
		Error  string `json:"error,omitempty"`
		// Pending is how many outbox rows wait (counted up to 100,000); LagSeconds is the
		// age of the oldest of them, 0 when none waits.
		Pending    int64   `json:"pending"`
		LagSeconds float64 `json:"lagSeconds"`
	} `json:"relay"`
	Healthy bool `json:"-"`
}

// healthyLag is the relay lag beyond which careslot reports itself degraded.
const healthyLag = time.Minute

// Health reads the state of the broker connection and of the relay.
func (s *Service) Health(ctx context.Context) Health {
	var h Health
	h.Broker = "unreachable"
	switch {
	case s.inProcess.Load():
		h.Broker = "in-process"
	case s.broker.connected():
		h.Broker = "connected"
	}
	s.relay.mu.Lock()
	leading, lastErr := s.relay.leading, s.relay.lastError
	s.relay.mu.Unlock()
	switch {
	case lastErr != "":
		h.Relay.Status, h.Relay.Error = "failing", lastErr
	case leading:
		h.Relay.Status = "ok"
	default:
		h.Relay.Status = "standby"
	}
	lag, err := s.store.OutboxLag(ctx)
	if err != nil {
		h.Relay.Status, h.Relay.Error = "failing", err.Error()
	} else {
		h.Relay.Pending = lag.Pending
		if !lag.Oldest.IsZero() {
			h.Relay.LagSeconds = time.Since(lag.Oldest).Seconds()
		}
	}
	h.Healthy = h.Broker != "unreachable" && h.Relay.Status != "failing" && h.Relay.LagSeconds < healthyLag.Seconds()
	return h
}

// redactURL hides the password of a URL for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
