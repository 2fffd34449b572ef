package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/jackc/pgx/v5"
)

// Link is one literal reference from a resource to another on this server.
type Link struct {
	Path       string // FHIRPath of the Reference element, e.g. Appointment.participant[0].actor
	TargetType string
	TargetID   string
}

// relativeReference matches a literal relative reference: Type/id, optionally versioned.
var relativeReference = regexp.MustCompile(`^([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?$`)

// ParseReference splits a literal relative reference into type and id; ok is false for
// contained (#id), absolute, urn: and logical references.
func ParseReference(ref string) (typ, id string, ok bool) {
	m := relativeReference.FindStringSubmatch(ref)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// ExtractLinks finds every literal relative reference in a resource's JSON, with its FHIRPath.
func ExtractLinks(typ string, content []byte) ([]Link, error) {
	var doc any
	if err := json.Unmarshal(content, &doc); err != nil {
		return nil, fhirerr.Invalid("resource is not JSON: " + err.Error())
	}
	var links []Link
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["reference"].(string); ok {
				if t, id, ok := ParseReference(ref); ok {
					links = append(links, Link{Path: path, TargetType: t, TargetID: id})
				}
			}
			// References inside contained resources count like the container's own.
			for k, child := range v {
				walk(path+"."+k, child)
			}
		case []any:
			for i, child := range v {
				walk(path+"["+strconv.Itoa(i)+"]", child)
			}
		}
	}
	walk(typ, doc)
	return links, nil
}

// checkLinks runs at commit: every reference written in this transaction must name a live
// resource, and nothing live may still reference a resource deleted in it. Targets are
// locked FOR SHARE so that a concurrent delete waits for this transaction (and then sees
// its references) instead of both passing their checks.
func (t *Tx) checkLinks(ctx context.Context) error {
	if len(t.written) > 0 {
		rows, err := t.pg.Query(ctx, `
			WITH l AS (SELECT l.rid, l.path, l.target_type, l.target_id FROM resource_links l WHERE l.rid = ANY($1)),
			     live AS (SELECT r.type, r.id FROM resources r
			              WHERE (r.type, r.id) IN (SELECT target_type, target_id FROM l) AND NOT r.deleted
			              FOR SHARE)
			SELECT s.type, s.id, l.path, l.target_type, l.target_id
			FROM l JOIN resources s ON s.rid = l.rid
			WHERE NOT s.deleted AND NOT EXISTS (SELECT 1 FROM live WHERE live.type = l.target_type AND live.id = l.target_id)
			LIMIT 1`, t.written)
		if err != nil {
			return fmt.Errorf("storage: check references: %w", mapPgError(err))
		}
		defer rows.Close()
		if rows.Next() {
			var st, sid, path, tt, tid string
			if err := rows.Scan(&st, &sid, &path, &tt, &tid); err != nil {
				return err
			}
			fe := fhirerr.Unprocessable(fhirerr.CodeNotFound,
				fmt.Sprintf("%s/%s refers to %s/%s, which does not exist on this server", st, sid, tt, tid), path)
			fe.Resource = st + "/" + sid
			return fe
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: check references: %w", mapPgError(err))
		}
		rows.Close()
	}
	if len(t.deleted) > 0 {
		var dt, did, st, sid, path string
		err := t.pg.QueryRow(ctx, `
			SELECT d.type, d.id, s.type, s.id, l.path
			FROM resources d
			JOIN resource_links l ON l.target_type = d.type AND l.target_id = d.id
			JOIN resources s ON s.rid = l.rid
			WHERE d.rid = ANY($1) AND d.deleted AND NOT s.deleted
			LIMIT 1`, t.deleted).Scan(&dt, &did, &st, &sid, &path)
		if err == nil {
			return &fhirerr.Error{Status: http.StatusConflict, Code: fhirerr.CodeConflict, Resource: dt + "/" + did,
				Diagnostics: fmt.Sprintf("%s/%s is still referenced by %s/%s at %s; delete or change that first, or delete with _cascade=delete", dt, did, st, sid, path)}
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("storage: check deletions: %w", mapPgError(err))
		}
	}
	return nil
}

// Referrers returns the live resources that refer to typ/id.
func (t *Tx) Referrers(ctx context.Context, typ, id string) ([]Resource, error) {
	rows, err := t.pg.Query(ctx, `SELECT DISTINCT s.rid, s.type, s.id FROM resource_links l JOIN resources s ON s.rid = l.rid
		WHERE l.target_type = $1 AND l.target_id = $2 AND NOT s.deleted`, typ, id)
	if err != nil {
		return nil, fmt.Errorf("storage: referrers: %w", err)
	}
	defer rows.Close()
	var out []Resource
	for rows.Next() {
		var r Resource
		if err := rows.Scan(&r.RID, &r.Type, &r.ID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
