package fhir

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/gorilla/mux"
)

const (
	defaultCount = 50
	maxCount     = 1000
)

// parseCount reads _count: default 50, at most 1000.
func parseCount(q url.Values) (int, error) {
	v := q.Get("_count")
	if v == "" {
		return defaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("_count must be a non-negative integer, not %q", v), Expression: []string{"_count"}}
	}
	return min(n, maxCount), nil
}

// parseInstantParam reads an instant query parameter such as _since; a date alone means its start in UTC.
func parseInstantParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	// An unescaped + of a time zone decodes to a space, which an instant never has.
	v = strings.ReplaceAll(v, " ", "+")
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
		Diagnostics: fmt.Sprintf("%s must be an instant like 2024-01-31T09:00:00Z, not %q", name, v), Expression: []string{name}}
}

// parsePeriodParam reads a date(Time) parameter as the period it denotes: a year, month
// or day is all of it, a time without fractions its whole second, a time with fractions
// that instant. Both are zero when the parameter is absent.
func parsePeriodParam(q url.Values, name string) (from, to time.Time, err error) {
	from, err = parseInstantParam(q, name)
	if err != nil || from.IsZero() {
		return from, from, err
	}
	v := q.Get(name)
	switch {
	case len(v) == len("2006"):
		to = from.AddDate(1, 0, 0)
	case len(v) == len("2006-01"):
		to = from.AddDate(0, 1, 0)
	case len(v) == len("2006-01-02"):
		to = from.AddDate(0, 0, 1)
	case strings.Contains(v, "."):
		return from, from, nil
	default:
		to = from.Add(time.Second)
	}
	return from, to.Add(-time.Microsecond), nil
}

// encodeHistoryCursor makes the opaque _cursor of a history page.
func encodeHistoryCursor(c *storage.HistoryCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d.%d", c.LastUpdated.UnixMicro(), c.RID, c.VersionID)))
}

func decodeHistoryCursor(v string) (*storage.HistoryCursor, error) {
	bad := &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid, Diagnostics: "_cursor is not one this server made", Expression: []string{"_cursor"}}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 {
		return nil, bad
	}
	micros, err1 := strconv.ParseInt(parts[0], 10, 64)
	rid, err2 := strconv.ParseInt(parts[1], 10, 64)
	vid, err3 := strconv.ParseInt(parts[2], 10, 32) // version_id is a PostgreSQL integer
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, bad
	}
	return &storage.HistoryCursor{LastUpdated: time.UnixMicro(micros).UTC(), RID: rid, VersionID: int(vid)}, nil
}

// history answers system, type and instance history, newest first, paged by _count.
func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	hq := storage.HistoryQuery{ID: mux.Vars(r)["id"]}
	if mux.Vars(r)["type"] != "" {
		typ, err := s.resourceType(r)
		if err != nil {
			return err
		}
		hq.Type = typ
	}
	var err error
	if hq.Count, err = parseCount(q); err != nil {
		return err
	}
	if hq.Since, err = parseInstantParam(q, "_since"); err != nil {
		return err
	}
	if hq.AtFrom, hq.AtTo, err = parsePeriodParam(q, "_at"); err != nil {
		return err
	}
	if c := q.Get("_cursor"); c != "" {
		if hq.After, err = decodeHistoryCursor(c); err != nil {
			return err
		}
	}
	ctx := r.Context()
	switch {
	case hq.ID != "":
		// An instance history of a resource that never existed is 404, and so is one of
		// a resource the caller may not see.
		if err := s.authorize(ctx, scope.Read, hq.Type, nil); err != nil {
			return err
		}
		res, err := s.reader(ctx).Read(ctx, hq.Type, hq.ID)
		if res != nil {
			if err := s.authorize(ctx, scope.Read, hq.Type, res); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	case hq.Type != "":
		d := s.rules.Decide(ctx, scope.Search, hq.Type)
		if !d.Allowed {
			return fhirerr.Forbidden(d.Reason)
		}
		hq.Access = d.Access
	default:
		// The system history crosses every type: only for callers who see them all.
		if d := s.rules.Decide(ctx, scope.Search, "Patient"); !d.Allowed || d.Access != nil {
			return fhirerr.Forbidden("the history of the whole server is for callers who may see every resource")
		}
	}
	entries, next, err := s.reader(r.Context()).History(r.Context(), hq)
	if err != nil {
		return err
	}
	bundle := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "history",
		Meta: &BundleMeta{LastUpdated: time.Now().UTC().Format(storage.LastUpdatedFormat)}}
	self := s.cfg.BaseURL + strings.TrimPrefix(r.URL.Path, "/fhir")
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	bundle.Link = append(bundle.Link, BundleLink{Relation: "self", URL: self})
	if next != nil {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("_cursor", encodeHistoryCursor(next))
		path := s.cfg.BaseURL + strings.TrimPrefix(r.URL.Path, "/fhir")
		bundle.Link = append(bundle.Link, BundleLink{Relation: "next", URL: path + "?" + nq.Encode()})
	}
	for _, e := range entries {
		audit.Touch(r.Context(), e.Type, e.ID, e.Content)
		entry := BundleEntry{FullURL: s.cfg.BaseURL + "/" + e.Type + "/" + e.ID,
			Request:  &EntryRequest{Method: e.Method, URL: e.Type + "/" + e.ID},
			Response: &EntryResponse{Etag: versionTag(e.VersionID), LastModified: e.LastUpdated.UTC().Format(storage.LastUpdatedFormat)}}
		switch {
		case e.Method == http.MethodPost:
			entry.Request.URL = e.Type
			entry.Response.Status = statusLine(http.StatusCreated)
		case e.Method == http.MethodDelete:
			entry.Response.Status = statusLine(http.StatusNoContent)
		case e.Created:
			entry.Response.Status = statusLine(http.StatusCreated)
		default:
			entry.Response.Status = statusLine(http.StatusOK)
		}
		if !e.Deleted {
			entry.Resource = e.Content
		}
		bundle.Entry = append(bundle.Entry, entry)
	}
	writeJSON(w, r, http.StatusOK, marshal(bundle))
	return nil
}
