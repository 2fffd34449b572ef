package fhir_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/subscriptions/subscription"
)

// topicCanonicals are the topics the CapabilityStatement lists on Subscription.
func topicCanonicals(t *testing.T) []string {
	t.Helper()
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type      string `json:"type"`
				Extension []struct {
					URL            string `json:"url"`
					ValueCanonical string `json:"valueCanonical"`
				} `json:"extension"`
				SearchParam []struct {
					Name string `json:"name"`
				} `json:"searchParam"`
				Interaction []struct {
					Code string `json:"code"`
				} `json:"interaction"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(srv.Must(t, http.StatusOK, "GET", "metadata", nil).Body, &cs); err != nil {
		t.Fatal(err)
	}
	var urls []string
	basic := false
	for _, r := range cs.Rest[0].Resource {
		switch r.Type {
		case "Subscription":
			for _, e := range r.Extension {
				if e.URL == "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical" {
					urls = append(urls, e.ValueCanonical)
				}
			}
		case "Basic":
			basic = true
			var params, interactions []string
			for _, p := range r.SearchParam {
				params = append(params, p.Name)
			}
			for _, i := range r.Interaction {
				interactions = append(interactions, i.Code)
			}
			if !slices.Contains(params, "url") || !slices.Equal(interactions, []string{"read", "search-type"}) {
				t.Errorf("the CapabilityStatement's Basic: params %v, interactions %v", params, interactions)
			}
		}
	}
	if !basic {
		t.Error("the CapabilityStatement does not list Basic, where the topics are")
	}
	return urls
}

// topicBasic is the part of a topic's Basic that a client reads.
type topicBasic struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Code         struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"code"`
	Extension []struct {
		URL         string `json:"url"`
		ValueURI    string `json:"valueUri"`
		ValueString string `json:"valueString"`
		Extension   []struct {
			URL         string `json:"url"`
			ValueURI    string `json:"valueUri"`
			ValueString string `json:"valueString"`
			ValueCode   string `json:"valueCode"`
		} `json:"extension"`
	} `json:"extension"`
	ModifierExtension []struct {
		URL       string `json:"url"`
		ValueCode string `json:"valueCode"`
	} `json:"modifierExtension"`
}

func (b topicBasic) url() string {
	for _, e := range b.Extension {
		if e.URL == "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url" {
			return e.ValueURI
		}
	}
	return ""
}

// filters are the canFilterBy parameters, and resources the resourceTrigger's resource.
func (b topicBasic) filtersAndResource() (filters []string, resource string) {
	for _, e := range b.Extension {
		for _, sub := range e.Extension {
			switch {
			case e.URL == "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.canFilterBy" && sub.URL == "filterParameter":
				filters = append(filters, sub.ValueString)
			case e.URL == "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.resourceTrigger" && sub.URL == "resource":
				resource = sub.ValueURI
			}
		}
	}
	return filters, resource
}

func searchTopics(t *testing.T, query string, header ...string) []topicBasic {
	t.Helper()
	var b struct {
		Type  string `json:"type"`
		Total int    `json:"total"`
		Entry []struct {
			FullURL  string     `json:"fullUrl"`
			Resource topicBasic `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(srv.Must(t, http.StatusOK, "GET", "Basic"+query, nil, header...).Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "searchset" || b.Total != len(b.Entry) {
		t.Errorf("Basic%s: a %s of total %d with %d entries", query, b.Type, b.Total, len(b.Entry))
	}
	var out []topicBasic
	for _, e := range b.Entry {
		if e.FullURL != srv.URL+"/Basic/"+e.Resource.ID {
			t.Errorf("fullUrl %s of Basic/%s", e.FullURL, e.Resource.ID)
		}
		out = append(out, e.Resource)
	}
	return out
}

func TestSubscriptionTopicsAreServedAsBasic(t *testing.T) {
	v, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	canonicals := topicCanonicals(t)
	if len(canonicals) != 4 {
		t.Fatalf("the CapabilityStatement lists %d topics: %v", len(canonicals), canonicals)
	}
	patient := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "topic-reader", "patient/*.rs")))
	for _, u := range canonicals {
		// Discovered by its canonical URL, as any signed-in caller, a patient too.
		found := searchTopics(t, "?url="+url.QueryEscape(u), patient...)
		if len(found) != 1 || found[0].url() != u || found[0].ResourceType != "Basic" {
			t.Fatalf("Basic?url=%s found %+v", u, found)
		}
		b := found[0]
		if len(b.Code.Coding) != 1 || b.Code.Coding[0].System != "http://hl7.org/fhir/fhir-types" || b.Code.Coding[0].Code != "SubscriptionTopic" {
			t.Errorf("%s: code %+v", u, b.Code)
		}
		if len(b.ModifierExtension) != 1 || b.ModifierExtension[0].ValueCode != "active" {
			t.Errorf("%s: status %+v", u, b.ModifierExtension)
		}
		topic := subscription.TopicByURL(u)
		filters, resource := b.filtersAndResource()
		if !slices.Equal(filters, topic.FilterNames()) || resource != "http://hl7.org/fhir/StructureDefinition/"+topic.Resource {
			t.Errorf("%s: canFilterBy %v, resource %s; the topic filters by %v on %s", u, filters, resource, topic.FilterNames(), topic.Resource)
		}

		// Read by id: the same resource, valid R4.
		r := srv.Must(t, http.StatusOK, "GET", "Basic/"+b.ID, nil, patient...)
		if typ, err := v.Validate(r.Body); err != nil || typ != "Basic" {
			t.Errorf("Basic/%s is not a valid R4 Basic: %v", b.ID, err)
		}
		var read topicBasic
		json.Unmarshal(r.Body, &read)
		if read.url() != u || r.Header.Get("ETag") != `W/"1"` {
			t.Errorf("Basic/%s: url %s, ETag %q", b.ID, read.url(), r.Header.Get("ETag"))
		}

		// It is the server's: nobody writes it, an admin neither.
		body, _ := json.Marshal(map[string]any{"resourceType": "Basic", "id": b.ID,
			"code": map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}}}})
		if r := srv.Do(t, "PUT", "Basic/"+b.ID, body); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("PUT Basic/%s: %d %s", b.ID, r.Status, r.Body)
		}
	}

	ids := func(found []topicBasic) []string {
		var out []string
		for _, b := range found {
			out = append(out, b.ID)
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"appointment-cancelled", "appointment-created", "appointment-status-changed", "slot-availability"}},
		{"?code=SubscriptionTopic", []string{"appointment-cancelled", "appointment-created", "appointment-status-changed", "slot-availability"}},
		{"?code=" + url.QueryEscape("http://hl7.org/fhir/fhir-types|SubscriptionTopic") + "&resource=Slot", []string{"slot-availability"}},
		{"?resource=http://hl7.org/fhir/StructureDefinition/Appointment&_id=appointment-created,slot-availability", []string{"appointment-created"}},
		{"?url=" + url.QueryEscape(subscription.TopicBase+"appointment-cancelled,"+subscription.TopicBase+"slot-availability"), []string{"appointment-cancelled", "slot-availability"}},
		{"?url=" + url.QueryEscape(subscription.TopicBase+"appointment-created|1.0.0"), []string{"appointment-created"}},
		{"?url=https://example.org/SubscriptionTopic/unknown", nil},
		{"?code=Observation", nil},
	} {
		if got := ids(searchTopics(t, c.query)); !slices.Equal(got, c.want) {
			t.Errorf("Basic%s: %v, want %v", c.query, got, c.want)
		}
	}

	// _count pages nothing away silently: total still counts them all.
	if b := srv.Must(t, http.StatusOK, "GET", "Basic?_count=1", nil).JSON(t); b["total"] != float64(4) || len(b["entry"].([]any)) != 1 {
		t.Errorf("Basic?_count=1: total %v, %d entries", b["total"], len(b["entry"].([]any)))
	}
	// A client revalidates its copy.
	srv.Must(t, http.StatusNotModified, "GET", "Basic/slot-availability", nil, "If-None-Match", `W/"1"`)
	srv.Must(t, http.StatusOK, "GET", "Basic/slot-availability", nil, "If-None-Match", `W/"2"`)

	// A parameter the topics are not searched by is refused, not ignored; an unknown id
	// is a missing Basic; a caller without a token is refused.
	if r := srv.Do(t, "GET", "Basic?subject=Patient/1", nil); r.Status != http.StatusBadRequest || r.JSON(t)["resourceType"] != "OperationOutcome" {
		t.Errorf("Basic?subject=: %d %s", r.Status, r.Body)
	}
	if r := srv.Do(t, "GET", "Basic/no-such-topic", nil); r.Status != http.StatusNotFound {
		t.Errorf("Basic/no-such-topic: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"Basic", "Basic/slot-availability"} {
		if r := srv.Do(t, "GET", path, nil, "Authorization", ""); r.Status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, r.Status)
		}
	}
}
