// Package audit records every access to patient data and medical records as an R4
// AuditEvent: who (the caller's fhirUser or subject, and the client app), from which
// address, did what (read, search, create, update, delete, operation) to which resources
// and patients, when, and with which outcome, denials included.
//
// Reads, searches and refusals are buffered and stored in batches by one writer
// goroutine, off the request's path; writes are audited inside their own transaction
// (storage.WriteAudit), so a stored write always has its AuditEvent. The package decides
// nothing about access: the policy does, and tells it denials through Denied.
package audit

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage/search"
)

// Types are the resource types whose every access is audited: patients and what is
// recorded about them (their insurance, appointments, messages and medical records).
// The directory (practitioners, organisations, locations, schedules, slots) and the
// server's own resources (Subscription, AuditEvent itself) are not patient data.
var Types = []string{
	"Patient", "Coverage", "Appointment", "AppointmentResponse", "Encounter", "Condition", "Observation",
	"MedicationRequest", "Procedure", "DiagnosticReport", "AllergyIntolerance", "DocumentReference", "Communication", "Binary",
}

// Covers tells whether accesses to typ are audited.
func Covers(typ string) bool { return slices.Contains(Types, typ) }

// Actions of R4 AuditEvent.action.
const (
	ActionCreate  = "C"
	ActionRead    = "R"
	ActionUpdate  = "U"
	ActionDelete  = "D"
	ActionExecute = "E" // an operation, or a search (R4: "perform a query/search operation")
)

// Outcomes of R4 AuditEvent.outcome.
const (
	OutcomeSuccess = "0"
	OutcomeMinor   = "4" // refused: a denial or the client's mistake
	OutcomeSerious = "8" // failed: the server's fault
)

// Event is one audited access.
type Event struct {
	Action string
	// Interaction is the http://hl7.org/fhir/restful-interaction code: read, vread,
	// search-type, history-instance, create, update, delete, operation…
	Interaction string
	Outcome     string
	OutcomeDesc string
	Recorded    time.Time
	Caller      *caller.Caller // nil when anonymous
	Address     string         // the client's network address
	What        []string       // "Type/id" of each resource acted on
	Query       string         // the search or request, for searches, histories and operations
	// Touched are the resources the answer carried; the patients they belong to are
	// added as entities when the event is stored, off the request's path.
	Touched []Touched
}

// Touched is a resource an answer carried.
type Touched struct {
	Type, ID string
	Content  []byte
}

const (
	systemEventType      = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemInteraction    = "http://hl7.org/fhir/restful-interaction"
	systemEntityType     = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole     = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSecurityRole   = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
	systemDICOM          = "http://dicom.nema.org/resources/ontology/DCM"
	systemSourceType     = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemOAuthSubject   = "urn:careslot:oauth:subject"
	systemOAuthClient    = "urn:careslot:oauth:client"
	networkIPAddress     = "2"
	maxPatientsPerRecord = 200 // a page of results names at most this many patients
)

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type codeable struct {
	Coding []coding `json:"coding"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type network struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type agent struct {
	Type      *codeable  `json:"type,omitempty"`
	Who       *reference `json:"who,omitempty"`
	AltID     string     `json:"altId,omitempty"`
	Name      string     `json:"name,omitempty"`
	Requestor bool       `json:"requestor"`
	Policy    []string   `json:"policy,omitempty"`
	Network   *network   `json:"network,omitempty"`
}

type source struct {
	Site     string    `json:"site"`
	Observer reference `json:"observer"`
	Type     []coding  `json:"type"`
}

type entity struct {
	What        *reference `json:"what,omitempty"`
	Type        *coding    `json:"type,omitempty"`
	Role        *coding    `json:"role,omitempty"`
	Description string     `json:"description,omitempty"`
	Query       string     `json:"query,omitempty"`
}

type document struct {
	ResourceType string   `json:"resourceType"`
	Type         coding   `json:"type"`
	Subtype      []coding `json:"subtype,omitempty"`
	Action       string   `json:"action"`
	Recorded     string   `json:"recorded"`
	Outcome      string   `json:"outcome"`
	OutcomeDesc  string   `json:"outcomeDesc,omitempty"`
	Agent        []agent  `json:"agent"`
	Source       source   `json:"source"`
	Entity       []entity `json:"entity,omitempty"`
}

var (
	entityPerson   = &coding{System: systemEntityType, Code: "1", Display: "Person"}
	entityObject   = &coding{System: systemEntityType, Code: "2", Display: "System Object"}
	rolePatient    = &coding{System: systemObjectRole, Code: "1", Display: "Patient"}
	roleResource   = &coding{System: systemObjectRole, Code: "4", Display: "Domain Resource"}
	roleQuery      = &coding{System: systemObjectRole, Code: "24", Display: "Query"}
	typeHuman      = &codeable{Coding: []coding{{System: systemSecurityRole, Code: "humanuser", Display: "human user"}}}
	typeApp        = &codeable{Coding: []coding{{System: systemDICOM, Code: "110150", Display: "Application"}}}
	sourceCareslot = source{Site: "careslot", Observer: reference{Display: "careslot"},
		Type: []coding{{System: systemSourceType, Code: "4", Display: "Application Server"}}}
)

// JSON is the event as an R4 AuditEvent without id and meta.
func (e Event) JSON() []byte {
	doc := document{
		ResourceType: "AuditEvent",
		Type:         coding{System: systemEventType, Code: "rest", Display: "RESTful Operation"},
		Action:       e.Action,
		Recorded:     e.Recorded.UTC().Format(time.RFC3339Nano),
		Outcome:      e.Outcome,
		OutcomeDesc:  e.OutcomeDesc,
		Agent:        e.agents(),
		Source:       sourceCareslot,
	}
	if e.Interaction != "" {
		doc.Subtype = []coding{{System: systemInteraction, Code: e.Interaction, Display: e.Interaction}}
	}
	patients := map[string]bool{}
	for _, what := range e.What {
		if typ, id, _ := strings.Cut(what, "/"); typ == "Patient" {
			patients[id] = true
			continue
		}
		doc.Entity = append(doc.Entity, entity{What: &reference{Reference: what}, Type: entityObject, Role: roleResource})
	}
	if e.Query != "" {
		doc.Entity = append(doc.Entity, entity{Type: entityObject, Role: roleQuery, Description: e.Query,
			Query: base64.StdEncoding.EncodeToString([]byte(e.Query))})
	}
	for _, t := range e.Touched {
		for _, id := range PatientsOf(t.Type, t.ID, t.Content) {
			if len(patients) < maxPatientsPerRecord {
				patients[id] = true
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(patients)) {
		doc.Entity = append(doc.Entity, entity{What: &reference{Reference: "Patient/" + id}, Type: entityPerson, Role: rolePatient})
	}
	b, _ := json.Marshal(doc) // plain structs of strings: never fails
	return b
}

// agents are the caller (the requestor) and the client app it acts through.
func (e Event) agents() []agent {
	var net *network
	if e.Address != "" {
		net = &network{Address: e.Address, Type: networkIPAddress}
	}
	c := e.Caller
	if c == nil {
		return []agent{{Who: &reference{Display: "anonymous"}, Name: "anonymous", Requestor: true, Network: net}}
	}
	who := agent{Requestor: true, Network: net, AltID: c.Subject, Type: typeHuman}
	switch {
	case c.FHIRUser != "":
		who.Who = &reference{Reference: c.FHIRUser}
	case c.Subject != "":
		who.Who = &reference{Identifier: &identifier{System: systemOAuthSubject, Value: c.Subject}}
	default:
		who.Who = &reference{Display: "careslot"} // the server's own work, e.g. a reminder
	}
	if c.Role == caller.RoleSystem {
		who.Type = typeApp
	}
	if c.TokenID != "" {
		// As IHE BALP does: the access token that authorized the access, by its jti.
		who.Policy = []string{"urn:careslot:token:" + c.TokenID}
	}
	agents := []agent{who}
	if c.ClientID != "" {
		agents = append(agents, agent{Type: typeApp, Who: &reference{Identifier: &identifier{System: systemOAuthClient, Value: c.ClientID}},
			Name: c.ClientID, Requestor: false})
	}
	return agents
}

// PatientsOf are the ids of the patients whose compartment holds typ/id with content.
func PatientsOf(typ, id string, content []byte) []string {
	return search.Definitions().PatientsOf(typ, id, content)
}
