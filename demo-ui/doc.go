// Package demoui will serve the small booking UI (HTML, Bootstrap, vanilla JS) over the
// FHIR API. It arrives with its own issue.
package demoui
