package subscription

import (
	"strings"
	"time"
)

// R4 has no SubscriptionTopic resource. The Backport IG (1.1.0, R4) names topics by
// canonical URL, and shows them to R4 clients as a Basic resource (code
// SubscriptionTopic) carrying the R5 elements as cross-version extensions, which is how
// careslot serves its own (GET [base]/Basic/[id], GET [base]/Basic?url=…).
const (
	xverR5  = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
	xverR4B = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
	// TopicCodeSystem and TopicCode are Basic.code of a topic.
	TopicCodeSystem = "http://hl7.org/fhir/fhir-types"
	TopicCode       = "SubscriptionTopic"
	// TopicVersion is the version of careslot's topics; it changes when one does.
	TopicVersion = "1.0.0"
	topicDate    = "2026-11-01"
)

// TopicDate is when careslot's topics last changed: their Basic's lastUpdated.
var TopicDate = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// ID is the topic's id as a Basic resource: the last segment of its canonical URL.
func (t *Topic) ID() string { return strings.TrimPrefix(t.URL, TopicBase) }

// TopicByID returns the topic whose Basic id is id, or nil.
func TopicByID(id string) *Topic {
	for _, t := range topics {
		if t.ID() == id {
			return t
		}
	}
	return nil
}

// Basic is the topic as the Backport IG's R4 representation: a Basic resource with the
// SubscriptionTopic extensions (url, version, name, title, date, description, status,
// one resourceTrigger, and a canFilterBy per filter).
func (t *Topic) Basic() map[string]any {
	trigger := []any{
		map[string]any{"url": "description", "valueMarkdown": t.Description},
		map[string]any{"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/" + t.Resource},
	}
	for _, i := range t.Interactions {
		trigger = append(trigger, map[string]any{"url": "supportedInteraction", "valueCode": i})
	}
	ext := []any{
		map[string]any{"url": xverR5 + "url", "valueUri": t.URL},
		map[string]any{"url": xverR5 + "version", "valueString": TopicVersion},
		map[string]any{"url": xverR5 + "name", "valueString": t.Name},
		map[string]any{"url": xverR5 + "title", "valueString": t.Title},
		map[string]any{"url": xverR5 + "date", "valueDateTime": topicDate},
		map[string]any{"url": xverR5 + "description", "valueMarkdown": t.Description},
		map[string]any{"url": xverR4B + "resourceTrigger", "extension": trigger},
	}
	for _, f := range t.Filters {
		ext = append(ext, map[string]any{"url": xverR4B + "canFilterBy", "extension": []any{
			map[string]any{"url": "description", "valueMarkdown": f.Description},
			map[string]any{"url": "resource", "valueUri": t.Resource},
			map[string]any{"url": "filterParameter", "valueString": f.Param},
		}})
	}
	return map[string]any{
		"resourceType": "Basic",
		"id":           t.ID(),
		"meta":         map[string]any{"versionId": "1", "lastUpdated": topicDate + "T00:00:00Z"},
		"extension":    ext,
		"modifierExtension": []any{
			map[string]any{"url": xverR5 + "status", "valueCode": "active"},
		},
		"code": map[string]any{"coding": []any{map[string]any{"system": TopicCodeSystem, "code": TopicCode}}},
	}
}
