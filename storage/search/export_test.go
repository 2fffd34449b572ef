package search

// ExtractWithEngine lets the external tests compare Extract with the engine-only path.
func (r *Registry) ExtractWithEngine(typ string, content []byte) *Rows {
	return r.extractWithEngine(typ, content)
}
