package fhir

// OrderResources is orderResources, for the tests of package fhir_test.
var OrderResources = orderResources
