package search

import "slices"

// PatientsOf are the ids of the patients whose compartment holds the resource typ/id
// with content: itself for a Patient, else the patients its Patient compartment
// parameters name (R4 CompartmentDefinition patient).
func (r *Registry) PatientsOf(typ, id string, content []byte) []string {
	if typ == "Patient" {
		return []string{id}
	}
	params := r.CompartmentParams("Patient", typ)
	if len(params) == 0 || len(content) == 0 {
		return nil
	}
	// Only the compartment's parameters: a page of search results is read this way.
	rows := r.extract(typ, content, func(p *Param) bool { return slices.Contains(params, p.Code) })
	var out []string
	for _, ref := range rows.References {
		if ref.Type != "Patient" || ref.ID == "" || slices.Contains(out, ref.ID) {
			continue
		}
		for _, p := range params {
			if ref.SP == typ+"."+p {
				out = append(out, ref.ID)
				break
			}
		}
	}
	return out
}
