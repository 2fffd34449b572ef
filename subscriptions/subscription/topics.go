package subscription

import (
	"sort"
	"strings"
)

// TopicBase is where careslot's topics have their canonical URLs; like the
// OperationDefinitions, they do not depend on CARESLOT_BASE_URL.
const TopicBase = "https://careslot.dev/fhir/SubscriptionTopic/"

// Topic is one of careslot's SubscriptionTopics: which changes of which resource type
// it reports, and which search parameters may narrow it.
type Topic struct {
	URL         string
	Name        string
	Title       string
	Description string
	Resource    string
	// Interactions are the changes it can fire on: create, update, delete.
	Interactions []string
	Filters      []Filter
	// Fires tells whether a change is an event of the topic; prev is the version before
	// (nil for a create), cur the new one (nil for a delete), both decoded.
	Fires func(action string, prev, cur map[string]any) bool
}

// Filter is a search parameter a topic can be filtered by (R5 canFilterBy).
type Filter struct {
	Param, Description string
}

// CanFilterBy reports whether param may narrow the topic.
func (t *Topic) CanFilterBy(param string) bool {
	for _, f := range t.Filters {
		if f.Param == param {
			return true
		}
	}
	return false
}

// FilterNames lists the parameters that may narrow the topic.
func (t *Topic) FilterNames() []string {
	out := make([]string, len(t.Filters))
	for i, f := range t.Filters {
		out[i] = f.Param
	}
	return out
}

func status(doc map[string]any) string {
	s, _ := doc["status"].(string)
	return s
}

var appointmentFilters = []Filter{
	{"patient", "the patient taking part, as Patient/[id]"},
	{"practitioner", "the practitioner taking part, as Practitioner/[id]"},
	{"status", "the appointment's status after the change"},
}

// slotBusy reads a Slot's status as free (false) or not (true).
func slotBusy(doc map[string]any) bool { return status(doc) != "free" }

var topics = []*Topic{
	{
		URL: TopicBase + "appointment-created", Name: "AppointmentCreated", Title: "Appointment created",
		Description: "An Appointment was created (booked, proposed or pending).", Resource: "Appointment",
		Interactions: []string{"create"}, Filters: appointmentFilters,
		Fires: func(action string, prev, cur map[string]any) bool { return action == "create" },
	},
	{
		URL: TopicBase + "appointment-status-changed", Name: "AppointmentStatusChanged", Title: "Appointment status changed",
		Description: "An Appointment's status changed (e.g. proposed to booked, booked to arrived or cancelled).", Resource: "Appointment",
		Interactions: []string{"update"}, Filters: appointmentFilters,
		Fires: func(action string, prev, cur map[string]any) bool {
			return action == "update" && prev != nil && cur != nil && status(prev) != status(cur)
		},
	},
	{
		URL: TopicBase + "appointment-cancelled", Name: "AppointmentCancelled", Title: "Appointment cancelled",
		Description: "An Appointment became cancelled (or was created cancelled).", Resource: "Appointment",
		Interactions: []string{"create", "update"}, Filters: appointmentFilters,
		Fires: func(action string, prev, cur map[string]any) bool {
			return cur != nil && status(cur) == "cancelled" && (prev == nil || status(prev) != "cancelled")
		},
	},
	{
		URL: TopicBase + "slot-availability", Name: "SlotAvailability", Title: "Slot availability",
		Description: "A Slot became free or busy: created, its status moved between free and busy, or it was deleted.", Resource: "Slot",
		Interactions: []string{"create", "update", "delete"},
		Filters: []Filter{
			{"schedule", "the Schedule the slot belongs to, as Schedule/[id]"},
			{"status", "the slot's status after the change (free, busy, ...)"},
		},
		Fires: func(action string, prev, cur map[string]any) bool {
			switch {
			case prev == nil || cur == nil:
				return true
			default:
				return slotBusy(prev) != slotBusy(cur)
			}
		},
	},
}

// Topics lists careslot's topics, in URL order.
func Topics() []*Topic {
	out := append([]*Topic(nil), topics...)
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

// TopicURLs lists the canonical URLs of the topics.
func TopicURLs() []string {
	var out []string
	for _, t := range Topics() {
		out = append(out, t.URL)
	}
	return out
}

// TopicByURL returns the topic with this canonical URL (a |version suffix is ignored), or nil.
func TopicByURL(u string) *Topic {
	u, _, _ = strings.Cut(u, "|")
	for _, t := range topics {
		if t.URL == u {
			return t
		}
	}
	return nil
}
