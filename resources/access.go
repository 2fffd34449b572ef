package resources

import (
	"context"

	"github.com/careslot/careslot/storage"
)

// CanRead decides whether the caller in ctx may see res. Until SMART authorisation
// arrives every caller may; this is the one place that decision will be made.
func (r *Rules) CanRead(ctx context.Context, res *storage.Resource) error {
	return nil
}
