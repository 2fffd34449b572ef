package fhir

import (
	"net/http"
	"slices"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/subscriptions/subscription"
)

// ProductTypes are the resource types careslot is about; the CapabilityStatement lists
// them with their interactions. Every other R4 type is accepted and validated too.
var ProductTypes = []string{
	"Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService",
	"Schedule", "Slot", "Appointment", "AppointmentResponse", "Coverage", "Encounter",
	"DocumentReference", "Condition", "Observation", "MedicationRequest", "Procedure",
	"DiagnosticReport", "AllergyIntolerance", "AuditEvent", "Subscription", "Communication", "Binary",
}

// Version is careslot's software version, shown in the CapabilityStatement.
var Version = "0.1.0"

type code struct {
	Code string `json:"code"`
}

// CapabilitySearchParam is CapabilityStatement.rest.resource.searchParam.
type CapabilitySearchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

type capabilityOperation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

type capabilityResource struct {
	Extension         []any                   `json:"extension,omitempty"`
	Type              string                  `json:"type"`
	Profile           string                  `json:"profile"`
	SupportedProfile  []string                `json:"supportedProfile,omitempty"`
	Interaction       []code                  `json:"interaction"`
	Versioning        string                  `json:"versioning"`
	ReadHistory       bool                    `json:"readHistory"`
	UpdateCreate      bool                    `json:"updateCreate"`
	ConditionalCreate bool                    `json:"conditionalCreate"`
	ConditionalRead   string                  `json:"conditionalRead"`
	ConditionalUpdate bool                    `json:"conditionalUpdate"`
	ConditionalDelete string                  `json:"conditionalDelete"`
	ReferencePolicy   []string                `json:"referencePolicy"`
	SearchInclude     []string                `json:"searchInclude,omitempty"`
	SearchRevInclude  []string                `json:"searchRevInclude,omitempty"`
	SearchParam       []CapabilitySearchParam `json:"searchParam,omitempty"`
	Operation         []capabilityOperation   `json:"operation,omitempty"`
	Documentation     string                  `json:"documentation,omitempty"`
}

// metadata answers GET /metadata with the CapabilityStatement.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	if mode := r.URL.Query().Get("mode"); mode != "" && mode != "full" {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "mode=%s is not supported; only the full CapabilityStatement", mode)
	}
	writeJSON(w, r, http.StatusOK, marshal(s.capabilityStatement()))
	return nil
}

// CapabilityStatement is what GET /metadata answers; package openapi describes the API from it.
func (s *Server) CapabilityStatement() map[string]any { return s.capabilityStatement() }

func (s *Server) capabilityStatement() map[string]any {
	interactions := []code{{"read"}, {"vread"}, {"update"}, {"patch"}, {"delete"}, {"history-instance"}, {"history-type"}, {"create"}}
	var res []capabilityResource
	for _, t := range ProductTypes {
		typeInteractions := interactions
		if search.Definitions().Searchable(t) {
			typeInteractions = append(slices.Clip(interactions), code{"search-type"})
		}
		cr := capabilityResource{Type: t, Profile: "http://hl7.org/fhir/StructureDefinition/" + t,
			Interaction: typeInteractions, Versioning: "versioned-update", ReadHistory: true, UpdateCreate: true,
			ConditionalCreate: true, ConditionalRead: "full-support", ConditionalUpdate: true, ConditionalDelete: "single",
			ReferencePolicy: []string{"literal", "logical", "enforced", "local"}}
		if t == storage.AuditType {
			// careslot records AuditEvents itself; admins read and search them (guardAuditEvents).
			cr.Interaction = slices.DeleteFunc(slices.Clone(typeInteractions), func(c code) bool {
				return c.Code == "create" || c.Code == "update" || c.Code == "patch" || c.Code == "delete"
			})
			cr.UpdateCreate, cr.ConditionalCreate, cr.ConditionalUpdate, cr.ConditionalDelete = false, false, false, "not-supported"
		}
		if t == "Subscription" {
			// The Backport IG: the profile careslot reads, and each topic it publishes.
			cr.SupportedProfile = []string{subscription.ProfileSubscription}
			for _, u := range subscription.TopicURLs() {
				cr.Extension = append(cr.Extension, map[string]any{
					"url":            "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical",
					"valueCanonical": u,
				})
			}
		}
		cr.SearchParam = s.searchParamsFor(t)
		cr.SearchInclude, cr.SearchRevInclude = s.includesFor(t)
		for _, op := range s.Operations() {
			for _, ot := range op.Types {
				if ot == t {
					cr.Operation = append(cr.Operation, capabilityOperation{Name: op.Name, Definition: operationDefinitionURL(op.Name)})
				}
			}
		}
		res = append(res, cr)
	}
	// The topics, as Basic (topics.go): read and found by url, never written.
	res = append(res, capabilityResource{Type: "Basic", Profile: "http://hl7.org/fhir/StructureDefinition/Basic",
		Interaction: []code{{"read"}, {"search-type"}}, Versioning: "no-version", ConditionalRead: "full-support",
		ConditionalDelete: "not-supported", ReferencePolicy: []string{"literal"}, SearchParam: topicSearchParams,
		Documentation: "careslot's SubscriptionTopics in the Backport IG's R4 representation (Basic, code SubscriptionTopic); their canonical URLs are listed on Subscription"})
	rest := map[string]any{
		"mode":          "server",
		"documentation": "careslot FHIR R4 API for appointment scheduling",
		"resource":      res,
		"interaction":   []code{{"transaction"}, {"batch"}, {"history-system"}},
	}
	if s.cfg.Security != nil {
		rest["security"] = s.cfg.Security
	}
	var sysOps []capabilityOperation
	for _, op := range s.Operations() {
		if len(op.Types) == 0 {
			sysOps = append(sysOps, capabilityOperation{Name: op.Name, Definition: operationDefinitionURL(op.Name)})
		}
	}
	if len(sysOps) > 0 {
		rest["operation"] = sysOps
	}
	if s.cfg.Websocket != nil {
		ws := subscription.WebsocketURL(s.cfg.BaseURL)
		rest["extension"] = []any{map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket", "valueUri": ws}}
	}
	return map[string]any{
		"resourceType":   "CapabilityStatement",
		"status":         "active",
		"date":           time.Now().UTC().Format("2006-01-02"),
		"publisher":      "careslot",
		"kind":           "instance",
		"software":       map[string]string{"name": "careslot", "version": Version},
		"implementation": map[string]string{"description": "careslot FHIR server", "url": s.cfg.BaseURL},
		"fhirVersion":    "4.0.1",
		"format":         []string{"application/fhir+json", "json"},
		"rest":           []any{rest},
	}
}

// operationDefinitionURL is the canonical URL of an operation's OperationDefinition. It
// does not depend on CARESLOT_BASE_URL, so servers reached by different names agree on
// it and do not rewrite the stored definitions; the definition itself is read at
// [base]/OperationDefinition/[name].
func operationDefinitionURL(name string) string {
	return "https://careslot.dev/fhir/OperationDefinition/" + name
}
