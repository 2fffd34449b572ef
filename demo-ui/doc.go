// Package demoui serves careslot's booking UI at /: static HTML, Bootstrap 5 and vanilla
// JavaScript embedded in the binary, no build step. The UI is a SMART app like any
// partner's: it signs in through careslot's authorization endpoints (authorization code
// with PKCE, as the public client ClientID) and then uses only the public FHIR API.
package demoui
