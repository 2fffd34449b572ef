package fhir

import (
	"context"

	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
)

// authorize asks the access policy (resources.Authorize) whether the caller may do i
// on res, or on typ at all when res is nil; rows are checked through the request's
// reader, so a transaction Bundle's entries see its own writes.
func (s *Server) authorize(ctx context.Context, i scope.Interaction, typ string, res *storage.Resource) error {
	return s.rules.Authorize(ctx, s.reader(ctx), i, typ, res)
}
