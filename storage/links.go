package storage

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/buger/jsonparser"
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

// ExtractLinks finds every literal relative reference in a resource's JSON, with its
// FHIRPath. It runs on every write, so it scans the bytes (jsonparser) instead of
// decoding them into maps.
func ExtractLinks(typ string, content []byte) ([]Link, error) {
	var links []Link
	var walkObject func(path string, obj []byte) error
	var walkValue func(path string, v []byte, t jsonparser.ValueType) error
	walkValue = func(path string, v []byte, t jsonparser.ValueType) error {
		switch t {
		case jsonparser.Object:
			return walkObject(path, v)
		case jsonparser.Array:
			i := 0
			var err error
			_, aerr := jsonparser.ArrayEach(v, func(el []byte, et jsonparser.ValueType, _ int, _ error) {
				if err == nil {
					err = walkValue(path+"["+strconv.Itoa(i)+"]", el, et)
				}
				i++
			})
			if aerr != nil {
				return aerr
			}
			return err
		}
		return nil
	}
	walkObject = func(path string, obj []byte) error {
		return jsonparser.ObjectEach(obj, func(k, v []byte, t jsonparser.ValueType, _ int) error {
			switch {
			case t == jsonparser.String && string(k) == "reference":
				ref, err := jsonparser.ParseString(v)
				if err != nil {
					return err
				}
				if rt, id, ok := ParseReference(ref); ok {
					links = append(links, Link{Path: path, TargetType: rt, TargetID: id})
				}
			case t == jsonparser.Object || t == jsonparser.Array:
				// References inside contained resources count like the container's own.
				return walkValue(path+"."+string(k), v, t)
			}
			return nil
		})
	}
	if err := walkObject(typ, content); err != nil {
		return nil, fhirerr.Invalid("resource is not JSON: " + err.Error())
	}
	return links, nil
}

// checkLinks runs at commit: every reference written in this transaction must name a live
// resource, and nothing live may still reference a resource deleted in it. Targets are
// locked FOR KEY SHARE so that a concurrent delete (FOR UPDATE) waits for this transaction
// (and then sees its references) instead of both passing their checks.
func (t *Tx) checkLinks(ctx context.Context) error {
	if len(t.written) > 0 {
		// One probe of resources' (type, id) key per reference: no join the planner could
		// turn into a scan of resources while the table's statistics are still young.
		var rid int64
		var path, tt, tid string
		err := t.pg.QueryRow(ctx, `
			SELECT l.rid, l.path, l.target_type, l.target_id
			FROM resource_links l
			LEFT JOIN LATERAL (SELECT true AS live FROM resources r
			                   WHERE r.type = l.target_type AND r.id = l.target_id AND NOT r.deleted
			                   FOR KEY SHARE) target ON true
			WHERE l.rid = ANY($1) AND target.live IS NULL
			LIMIT 1`, ridList(t.written)).Scan(&rid, &path, &tt, &tid)
		if err == nil {
			source := t.written[rid]
			fe := fhirerr.Unprocessable(fhirerr.CodeNotFound,
				fmt.Sprintf("%s refers to %s/%s, which does not exist on this server", source, tt, tid), path)
			fe.Resource = source
			return fe
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("storage: check references: %w", mapPgError(err))
		}
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
			return &fhirerr.Error{Kind: fhirerr.ErrConflict, Code: fhirerr.CodeConflict, Resource: dt + "/" + did,
				Diagnostics: fmt.Sprintf("%s/%s is still referenced by %s/%s at %s; delete or change that first, or delete with _cascade=delete", dt, did, st, sid, path)}
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("storage: check deletions: %w", mapPgError(err))
		}
	}
	return nil
}

// ridList returns the keys of written.
func ridList(written map[int64]string) []int64 {
	rids := make([]int64, 0, len(written))
	for rid := range written {
		rids = append(rids, rid)
	}
	return rids
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
