// Package subscription reads a FHIR R4 Subscription resource into what careslot delivers:
// criteria-based (R4: criteria is a search) or topic-based (the Subscriptions R5
// Backport IG 1.1.0, R4 profile: criteria names one of careslot's topics), and refuses
// with an OperationOutcome whatever careslot cannot honour. It also holds the topics and
// the check of notification endpoints.
//
// It is a leaf shared by resources (validation at write time), fhir (the
// CapabilityStatement) and subscriptions (delivery); it must never import them.
package subscription

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/search"
)

// The extensions of the Backport IG that careslot reads.
const (
	backportIG          = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
	ExtFilterCriteria   = backportIG + "backport-filter-criteria"
	ExtHeartbeatPeriod  = backportIG + "backport-heartbeat-period"
	ExtTimeout          = backportIG + "backport-timeout"
	ExtMaxCount         = backportIG + "backport-max-count"
	ExtPayloadContent   = backportIG + "backport-payload-content"
	ExtChannelType      = backportIG + "backport-channel-type"
	ProfileSubscription = backportIG + "backport-subscription"
	ProfileStatus       = backportIG + "backport-subscription-status-r4"
	ProfileNotification = backportIG + "backport-subscription-notification-r4"
)

// Statuses of a Subscription.
const (
	StatusRequested = "requested"
	StatusActive    = "active"
	StatusError     = "error"
	StatusOff       = "off"
)

// Payload contents of a topic-based subscription.
const (
	ContentEmpty  = "empty"
	ContentIDOnly = "id-only"
	ContentFull   = "full-resource"
)

// Subscription is a parsed Subscription resource.
type Subscription struct {
	ID      string
	Version int
	Status  string
	Error   string
	End     time.Time // zero: no end
	// Criteria is the R4 criteria: a search, or a topic's canonical URL.
	Criteria string
	// Query is the criteria of a criteria-based subscription; nil for a topic-based one.
	Query *search.Query
	// Topic and Filters are those of a topic-based subscription: every filter must match.
	Topic    *Topic
	Filters  []*search.Query
	Channel  string // rest-hook or websocket
	Endpoint string
	// Payload is the MIME type of the notification body; "" sends no body (a ping).
	Payload string
	// Content is what a topic-based notification carries: empty, id-only or full-resource.
	Content   string
	Headers   []string // "Name: value"
	Heartbeat time.Duration
	Timeout   time.Duration
	MaxCount  int
}

// TopicBased reports whether the subscription names a topic.
func (s *Subscription) TopicBased() bool { return s.Topic != nil }

// ResourceType is the type of the resources whose changes the subscription watches.
func (s *Subscription) ResourceType() string {
	if s.Topic != nil {
		return s.Topic.Resource
	}
	return s.Query.Type
}

// raw is the part of a Subscription resource that careslot reads.
type raw struct {
	ID   string `json:"id"`
	Meta struct {
		VersionID string `json:"versionId"`
	} `json:"meta"`
	Status    string     `json:"status"`
	Error     string     `json:"error"`
	End       string     `json:"end"`
	Criteria  string     `json:"criteria"`
	CriteriaX *element   `json:"_criteria"`
	Channel   rawChannel `json:"channel"`
}

type rawChannel struct {
	Extension []extension `json:"extension"`
	Type      string      `json:"type"`
	TypeX     *element    `json:"_type"`
	Endpoint  string      `json:"endpoint"`
	Payload   string      `json:"payload"`
	PayloadX  *element    `json:"_payload"`
	Header    []string    `json:"header"`
}

type element struct {
	Extension []extension `json:"extension"`
}

type extension struct {
	URL              string          `json:"url"`
	ValueString      *string         `json:"valueString"`
	ValueCode        *string         `json:"valueCode"`
	ValueUnsignedInt *int            `json:"valueUnsignedInt"`
	ValuePositiveInt *int            `json:"valuePositiveInt"`
	ValueCoding      json.RawMessage `json:"valueCoding"`
}

func refuse(code, expression, format string, args ...any) *fhirerr.Error {
	return fhirerr.Unprocessable(code, fmt.Sprintf(format, args...), expression)
}

// Options are how subscriptions are read.
type Options struct {
	// BaseURL is the server's FHIR base: absolute references under it are local.
	BaseURL string
	// AllowPrivate lets endpoints on private, loopback and link-local addresses through
	// (CARESLOT_SUBSCRIPTION_ALLOW_PRIVATE).
	AllowPrivate bool
}

// Parse reads a validated Subscription resource. It refuses, with a 422 naming the
// element, unsupported channels, payloads, topics, filters and criteria; the endpoint's
// address is checked separately (CheckEndpoint), since that needs DNS.
func Parse(content []byte, opts Options) (*Subscription, error) {
	var r raw
	if err := json.Unmarshal(content, &r); err != nil {
		return nil, fhirerr.Invalid("Subscription is not a JSON object")
	}
	s := &Subscription{ID: r.ID, Status: r.Status, Error: r.Error, Criteria: r.Criteria,
		Channel: r.Channel.Type, Endpoint: r.Channel.Endpoint, Payload: r.Channel.Payload, Headers: r.Channel.Header}
	s.Version, _ = strconv.Atoi(r.Meta.VersionID)
	if r.End != "" {
		end, err := parseInstant(r.End)
		if err != nil {
			return nil, refuse(fhirerr.CodeValue, "Subscription.end", "Subscription.end %q is not an instant", r.End)
		}
		s.End = end
	}
	if err := s.readChannel(r.Channel); err != nil {
		return nil, err
	}
	if topic := TopicByURL(r.Criteria); topic != nil {
		if err := s.readTopic(topic, r.CriteriaX, opts); err != nil {
			return nil, err
		}
		return s, nil
	}
	if r.CriteriaX != nil {
		for _, e := range r.CriteriaX.Extension {
			if e.URL == ExtFilterCriteria {
				return nil, refuse(fhirerr.CodeNotSupported, "Subscription.criteria",
					"%s is not a topic of this server (see the CapabilityStatement); backport-filter-criteria needs a topic", r.Criteria)
			}
		}
	}
	// A canonical URL names a topic; a search starts with a type (and may hold URLs in
	// its values: code=http://loinc.org|1975-2).
	if strings.HasPrefix(r.Criteria, "http://") || strings.HasPrefix(r.Criteria, "https://") {
		return nil, refuse(fhirerr.CodeNotSupported, "Subscription.criteria", "topic %s is not supported here; the supported topics are %s", r.Criteria, strings.Join(TopicURLs(), ", "))
	}
	q, err := parseCriteria(r.Criteria, opts, "Subscription.criteria")
	if err != nil {
		return nil, err
	}
	s.Query = q
	if s.Content != "" && s.Content != ContentFull {
		return nil, refuse(fhirerr.CodeNotSupported, "Subscription.channel.payload", "backport-payload-content %s is for topic-based subscriptions; a criteria-based one sends the resource or nothing", s.Content)
	}
	return s, nil
}

func (s *Subscription) readChannel(c rawChannel) error {
	if c.TypeX != nil {
		for _, e := range c.TypeX.Extension {
			if e.URL == ExtChannelType {
				return refuse(fhirerr.CodeNotSupported, "Subscription.channel.type", "custom channel types are not supported; use rest-hook or websocket")
			}
		}
	}
	switch c.Type {
	case "rest-hook":
		u, err := url.Parse(c.Endpoint)
		if c.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return refuse(fhirerr.CodeRequired, "Subscription.channel.endpoint", "a rest-hook subscription needs an absolute http or https endpoint")
		}
		if u.User != nil {
			return refuse(fhirerr.CodeValue, "Subscription.channel.endpoint", "the endpoint must not carry credentials; use channel.header")
		}
	case "websocket":
	case "email", "sms", "message":
		return refuse(fhirerr.CodeNotSupported, "Subscription.channel.type", "channel %s is not supported; use rest-hook or websocket", c.Type)
	default:
		return refuse(fhirerr.CodeValue, "Subscription.channel.type", "channel type %q is not known", c.Type)
	}
	switch c.Payload {
	case "", "application/fhir+json", "application/json":
	default:
		return refuse(fhirerr.CodeNotSupported, "Subscription.channel.payload", "payload %s is not supported; use application/fhir+json", c.Payload)
	}
	for i, h := range c.Header {
		name, _, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(h, "\r\n") || strings.ContainsAny(strings.TrimSpace(name), " \t") {
			return refuse(fhirerr.CodeValue, fmt.Sprintf("Subscription.channel.header[%d]", i), "a header must read \"Name: value\"")
		}
	}
	if c.PayloadX != nil {
		for _, e := range c.PayloadX.Extension {
			if e.URL != ExtPayloadContent {
				continue
			}
			if e.ValueCode == nil {
				return refuse(fhirerr.CodeValue, "Subscription.channel.payload", "backport-payload-content needs a valueCode")
			}
			switch *e.ValueCode {
			case ContentEmpty, ContentIDOnly, ContentFull:
				s.Content = *e.ValueCode
			default:
				return refuse(fhirerr.CodeNotSupported, "Subscription.channel.payload", "payload content %q is not supported; use empty, id-only or full-resource", *e.ValueCode)
			}
		}
	}
	for _, e := range c.Extension {
		switch e.URL {
		case ExtHeartbeatPeriod:
			if e.ValueUnsignedInt == nil || *e.ValueUnsignedInt < 1 {
				return refuse(fhirerr.CodeValue, "Subscription.channel", "backport-heartbeat-period needs a valueUnsignedInt of at least 1 (seconds)")
			}
			s.Heartbeat = time.Duration(*e.ValueUnsignedInt) * time.Second
		case ExtTimeout:
			if e.ValueUnsignedInt == nil || *e.ValueUnsignedInt < 1 {
				return refuse(fhirerr.CodeValue, "Subscription.channel", "backport-timeout needs a valueUnsignedInt of at least 1 (seconds)")
			}
			s.Timeout = time.Duration(*e.ValueUnsignedInt) * time.Second
		case ExtMaxCount:
			if e.ValuePositiveInt == nil || *e.ValuePositiveInt != 1 {
				return refuse(fhirerr.CodeNotSupported, "Subscription.channel", "careslot sends one event per notification: backport-max-count must be 1 or absent")
			}
			s.MaxCount = 1
		}
	}
	return nil
}

func (s *Subscription) readTopic(topic *Topic, criteriaX *element, opts Options) error {
	s.Topic = topic
	if s.Content == "" {
		s.Content = ContentIDOnly
	}
	if s.Payload == "" {
		s.Payload = "application/fhir+json"
	}
	if criteriaX == nil {
		return nil
	}
	for i, e := range criteriaX.Extension {
		if e.URL != ExtFilterCriteria {
			continue
		}
		where := fmt.Sprintf("Subscription.criteria.extension[%d]", i)
		if e.ValueString == nil {
			return refuse(fhirerr.CodeValue, where, "backport-filter-criteria needs a valueString")
		}
		q, err := parseCriteria(*e.ValueString, opts, where)
		if err != nil {
			return err
		}
		if q.Type != topic.Resource {
			return refuse(fhirerr.CodeNotSupported, where, "topic %s is about %s; a filter on %s cannot apply", topic.URL, topic.Resource, q.Type)
		}
		for _, c := range q.Clauses {
			if !topic.CanFilterBy(c.Param.Code) {
				return refuse(fhirerr.CodeNotSupported, where, "topic %s cannot be filtered by %s; it can by %s", topic.URL, c.Param.Code, strings.Join(topic.FilterNames(), ", "))
			}
		}
		s.Filters = append(s.Filters, q)
	}
	return nil
}

// parseCriteria reads Type?params with the search engine, strictly: an unknown parameter
// is refused, not ignored, lest a subscription match far more than asked.
func parseCriteria(criteria string, opts Options, where string) (*search.Query, error) {
	typ, query, _ := strings.Cut(criteria, "?")
	reg := search.Definitions()
	if typ == "" || !reg.Searchable(typ) {
		return nil, refuse(fhirerr.CodeNotSupported, where, "criteria %q must start with a searchable resource type, as in Appointment?status=booked", criteria)
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, refuse(fhirerr.CodeValue, where, "criteria %q is not a query string: %v", criteria, err)
	}
	q, err := reg.Parse(typ, params, search.ParseOptions{Strict: true, BaseURL: opts.BaseURL, DefaultCount: 1, MaxCount: 1})
	if err != nil {
		if fe, ok := err.(*fhirerr.Error); ok {
			return nil, fhirerr.Unprocessable(fe.Code, "criteria: "+fe.Diagnostics, where)
		}
		return nil, err
	}
	if err := q.Matchable(); err != nil {
		if fe, ok := err.(*fhirerr.Error); ok {
			fe.Expression = []string{where}
		}
		return nil, err
	}
	return q, nil
}

// parseInstant reads a FHIR instant or dateTime to the second.
func parseInstant(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not an instant")
}
