package fhir

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
	"github.com/gorilla/mux"
)

// careslot's SubscriptionTopics, as the Backport IG shows them to R4 clients: Basic
// resources (code SubscriptionTopic) built from subscription.Topics, read at
// [base]/Basic/[id] and found by canonical URL at [base]/Basic?url=…. They are part of
// the server, like its CapabilityStatement: every caller with a token may read them,
// nobody writes them (resources refuses writes to their ids).

// topicSearchParams are the parameters of a search of the topics.
var topicSearchParams = []CapabilitySearchParam{
	{Name: "url", Type: "uri", Documentation: "the topic's canonical URL (SubscriptionTopic.url); several, comma-separated, are any of them"},
	{Name: "code", Type: "token", Documentation: "SubscriptionTopic (system http://hl7.org/fhir/fhir-types): careslot's Basic resources are its topics"},
	{Name: "resource", Type: "uri", Documentation: "the resource type the topic is about, as a type name or its StructureDefinition URL"},
	{Name: "_id", Type: "token", Documentation: "the topic's id"},
}

// isTopicRead matches GET [base]/Basic/[id] of a topic; other Basic ids go on to the
// stored resources.
func isTopicRead(r *http.Request, _ *mux.RouteMatch) bool {
	id, ok := strings.CutPrefix(r.URL.Path, "/fhir/Basic/")
	return ok && subscription.TopicByID(id) != nil
}

// readTopic answers the read of a topic as Basic.
func (s *Server) readTopic(w http.ResponseWriter, r *http.Request) error {
	t := subscription.TopicByID(mux.Vars(r)["id"])
	if t == nil {
		return fhirerr.NotFound("Basic/" + mux.Vars(r)["id"] + " is not known")
	}
	res := &storage.Resource{Type: "Basic", ID: t.ID(), VersionID: 1, LastUpdated: subscription.TopicDate}
	setVersionHeaders(w, res)
	if notModified(r, res) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, r, http.StatusOK, marshal(t.Basic()))
	return nil
}

// searchTopics answers GET [base]/Basic with the topics that match every parameter.
func (s *Server) searchTopics(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var match []*subscription.Topic
	for _, t := range subscription.Topics() {
		ok, err := topicMatches(t, q)
		if err != nil {
			return err
		}
		if ok {
			match = append(match, t)
		}
	}
	total := len(match)
	if c := q.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			return errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "_count=%s is not a number of entries", c)
		}
		match = match[:min(n, len(match))]
	}
	entries := make([]any, 0, len(match))
	for _, t := range match {
		entries = append(entries, map[string]any{
			"fullUrl":  s.cfg.BaseURL + "/Basic/" + t.ID(),
			"resource": t.Basic(),
			"search":   map[string]any{"mode": "match"},
		})
	}
	self := s.cfg.BaseURL + "/Basic"
	if len(q) > 0 {
		self += "?" + q.Encode()
	}
	writeJSON(w, r, http.StatusOK, marshal(map[string]any{
		"resourceType": "Bundle",
		"id":           storage.NewID(),
		"meta":         map[string]any{"lastUpdated": time.Now().UTC().Format(time.RFC3339Nano)},
		"type":         "searchset",
		"total":        total,
		"link":         []any{map[string]any{"relation": "self", "url": self}},
		"entry":        entries,
	}))
	return nil
}

// topicMatches tells whether t passes every parameter of q; a parameter careslot does
// not search topics by is refused, so that a client never mistakes an unfiltered answer
// for a filtered one.
func topicMatches(t *subscription.Topic, q url.Values) (bool, error) {
	for name, values := range q {
		for _, v := range values {
			alts := strings.Split(v, ",")
			var ok bool
			switch name {
			case "url":
				ok = slices.ContainsFunc(alts, func(u string) bool { return subscription.TopicByURL(u) == t })
			case "code":
				ok = slices.ContainsFunc(alts, func(c string) bool {
					return c == subscription.TopicCode || c == subscription.TopicCodeSystem+"|"+subscription.TopicCode
				})
			case "resource":
				ok = slices.ContainsFunc(alts, func(rt string) bool {
					return rt == t.Resource || rt == "http://hl7.org/fhir/StructureDefinition/"+t.Resource
				})
			case "_id":
				ok = slices.Contains(alts, t.ID())
			case "_format", "_pretty", "_count":
				ok = true
			default:
				return false, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeNotSupported,
					Diagnostics: "careslot's Basic resources are its SubscriptionTopics, searched by url, code, resource and _id; not by " + name}
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}
