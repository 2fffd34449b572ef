package fhir

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage"
	"github.com/gorilla/mux"
)

// Binary content (R4 http.html#binary): POST or PUT of a body of any other content type
// than FHIR JSON stores those bytes as the Binary's data, streamed into storage's blobs
// (never whole in memory); a read answers the bytes with their content type unless the
// client asks for FHIR JSON. A Binary sent as FHIR JSON is stored alike (storage.Tx.Write
// takes its data out).

// DefaultBinaryMaxBytes is the largest Binary careslot stores when Config does not say.
const DefaultBinaryMaxBytes = 32 << 20

// securityContextHeader carries Binary.securityContext on raw uploads and downloads.
const securityContextHeader = "X-Security-Context"

// isFHIRJSONType tells whether a media type is one of FHIR JSON's.
func isFHIRJSONType(mt string) bool {
	return mt == fhirJSON || mt == "application/json" || mt == "application/json+fhir"
}

// isRawBinary tells whether r writes a Binary's bytes as its body: a Binary whose
// Content-Type is set and is not FHIR JSON (one that does not parse is left to readBody's 415).
func isRawBinary(typ string, r *http.Request) bool {
	if typ != "Binary" {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && !isFHIRJSONType(mt)
}

// rawBinaryResource is the Binary JSON of a raw upload: its contentType from the
// Content-Type header, its securityContext from X-Security-Context, validated as any
// resource is.
func (s *Server) rawBinaryResource(r *http.Request, id string) ([]byte, error) {
	doc := map[string]any{"resourceType": "Binary", "contentType": strings.TrimSpace(r.Header.Get("Content-Type"))}
	if id != "" {
		doc["id"] = id
	}
	if sc := strings.TrimSpace(r.Header.Get(securityContextHeader)); sc != "" {
		doc["securityContext"] = map[string]any{"reference": sc}
	}
	body := marshal(doc)
	if _, err := s.validator.Validate(body); err != nil {
		return nil, err
	}
	return s.localizeReferences(body), nil
}

// binaryBody is the raw body of an upload, decoded per its Content-Encoding; reading
// more than BinaryMaxBytes of it fails with 413.
func (s *Server) binaryBody(w http.ResponseWriter, r *http.Request) (io.Reader, func(), error) {
	limit := s.cfg.BinaryMaxBytes
	if r.ContentLength > limit {
		return nil, nil, tooLarge(limit)
	}
	// The raw limit is generous for gzip; what counts is what it decodes to.
	raw := http.MaxBytesReader(w, r.Body, limit+limit/2+1<<20)
	var body io.Reader = raw
	done := func() {}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, nil, bodyError(err, limit, "the body is not valid gzip")
		}
		body, done = zr, func() { zr.Close() }
	default:
		return nil, nil, errorf(fhirerr.ErrUnsupportedMediaType, fhirerr.CodeNotSupported,
			"Content-Encoding %q is not supported; send gzip or no encoding", r.Header.Get("Content-Encoding"))
	}
	return &limitedBody{r: body, left: limit, limit: limit}, done, nil
}

func tooLarge(limit int64) error {
	return errorf(fhirerr.ErrTooLarge, fhirerr.CodeTooLong, "the Binary is larger than %d bytes (CARESLOT_BINARY_MAX_BYTES)", limit)
}

// limitedBody reads at most limit bytes; one more is a 413. Any other read error is a
// 400 (a gzip body that is not, a client that went away), and a read begun is noted, as
// a transaction must not run again over a body already consumed.
type limitedBody struct {
	r      io.Reader
	left   int64
	limit  int64
	reads  int
	failed error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	b.reads++
	if b.failed != nil {
		return 0, b.failed
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		b.failed = tooLarge(b.limit)
		return 0, b.failed
	}
	b.left -= int64(n)
	if err != nil && err != io.EOF {
		b.failed = bodyError(err, b.limit, "the body could not be read")
		return n, b.failed
	}
	return n, err
}

// writeRawBinary answers a raw POST [base]/Binary (prev nil, id new) or PUT
// [base]/Binary/[id]: the Binary is written as any resource is (access, rules, history),
// then its bytes streamed into its blob in the same transaction.
func (s *Server) writeRawBinary(w http.ResponseWriter, r *http.Request, id string, update bool) error {
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	meta, err := s.rawBinaryResource(r, id)
	if err != nil {
		return err
	}
	body, done, err := s.binaryBody(w, r)
	if err != nil {
		return err
	}
	defer done()
	ctx := r.Context()
	var res *storage.Resource
	created := true
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		if body.(*limitedBody).reads > 0 {
			// A retry after a deadlock: the body is gone.
			return fhirerr.Conflict("the Binary could not be stored for a concurrent change; send it again")
		}
		var prev *storage.Resource
		method := http.MethodPost
		if update {
			method = http.MethodPut
			if prev, err = tx.Lock(ctx, "Binary", id); err != nil {
				return err
			}
			if err := checkVersion(want, prev); err != nil {
				return err
			}
			created = prev == nil || prev.Deleted
		}
		if res, err = s.write(ctx, tx, prev, "Binary", id, meta, method); err != nil {
			return err
		}
		_, err := tx.AttachBinary(withUploader(ctx), res, body)
		return err
	})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	s.writeResult(w, r, status, res, fmt.Sprintf("Binary/%s written as version %d", res.ID, res.VersionID))
	return nil
}

// binaryJSONLimit is the body limit of a Binary sent as FHIR JSON: its data is base64,
// a third larger than the bytes.
func (s *Server) binaryJSONLimit() int64 {
	return max(s.cfg.MaxBodyBytes, s.cfg.BinaryMaxBytes/3*4+64<<10)
}

// wantsResourceJSON tells whether the client asked for a Binary as a FHIR resource
// rather than its bytes: _format, or an Accept of FHIR JSON (or of application/json for
// a Binary that is not JSON itself). Inside a Bundle an entry is always a resource.
func wantsResourceJSON(r *http.Request, contentType string) bool {
	if r.Context().Value(inBundleKey{}) != nil || r.URL.Query().Get("_format") != "" {
		return true
	}
	own, _, _ := mime.ParseMediaType(contentType)
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == fhirJSON || mt == "application/json+fhir" || mt == "application/json" && own != "application/json" {
			return true
		}
	}
	return false
}

// answerBinary answers a read or vread of a Binary: its bytes with their content type,
// or the resource with its data in base64 when FHIR JSON is asked for.
func (s *Server) answerBinary(w http.ResponseWriter, r *http.Request, res *storage.Resource) error {
	var doc struct {
		ContentType     string `json:"contentType"`
		SecurityContext struct {
			Reference string `json:"reference"`
		} `json:"securityContext"`
	}
	if err := json.Unmarshal(res.Content, &doc); err != nil {
		return fmt.Errorf("fhir: stored Binary/%s: %w", res.ID, err)
	}
	ctx := r.Context()
	blob, err := s.reader(ctx).BinaryBlob(ctx, res.RID, res.VersionID)
	if err != nil {
		return err
	}
	if wantsResourceJSON(r, doc.ContentType) {
		content := res.Content
		if blob != nil {
			var data bytes.Buffer
			data.Grow(int(blob.Size))
			if err := s.reader(ctx).CopyBlob(ctx, blob, &data); err != nil {
				return err
			}
			content = withData(content, data.Bytes())
		}
		body, err := summarize(r, content)
		if err != nil {
			return err
		}
		writeJSON(w, r, http.StatusOK, body)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", doc.ContentType)
	if doc.SecurityContext.Reference != "" {
		h.Set(securityContextHeader, doc.SecurityContext.Reference)
	}
	// What a Binary holds is the uploader's: a browser must neither sniff it into
	// something else nor run it as a page of careslot's origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	size := int64(0)
	if blob != nil {
		size = blob.Size
	}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead || blob == nil {
		return nil
	}
	if err := s.reader(ctx).CopyBlob(ctx, blob, w); err != nil {
		// The status is sent: all that is left is to cut the answer short.
		s.log.Warn("binary download cut short", "id", res.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// withData is a stored Binary's JSON with data, the bytes in base64, added.
func withData(content, data []byte) []byte {
	content = bytes.TrimRight(content, " \n\t\r")
	out := make([]byte, 0, len(content)+base64.StdEncoding.EncodedLen(len(data))+10)
	out = append(out, content[:len(content)-1]...)
	out = append(out, `,"data":"`...)
	out = base64.StdEncoding.AppendEncode(out, data)
	return append(out, `"}`...)
}

// rawBinaryCreate, rawBinaryUpdate route the raw uploads of create and update.
func (s *Server) rawBinaryCreate(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get("If-None-Exist") != "" {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "If-None-Exist is not supported on a raw Binary upload; send the Binary as FHIR JSON")
	}
	id, _ := r.Context().Value(assignedIDKey{}).(string)
	if id == "" {
		id = storage.NewID()
	}
	return s.writeRawBinary(w, r, id, false)
}

func (s *Server) rawBinaryUpdate(w http.ResponseWriter, r *http.Request) error {
	return s.writeRawBinary(w, r, mux.Vars(r)["id"], true)
}

// checkBinaryDataSize refuses a Binary in FHIR JSON whose data, decoded, is over
// BinaryMaxBytes: 413, as for a raw upload.
func (s *Server) checkBinaryDataSize(body []byte) error {
	var doc struct {
		Data string `json:"data"`
	}
	json.Unmarshal(body, &doc) // the body is validated: data is a string if present
	n := int64(base64.StdEncoding.DecodedLen(len(doc.Data))) - int64(strings.Count(doc.Data[max(0, len(doc.Data)-2):], "="))
	if n > s.cfg.BinaryMaxBytes {
		return tooLarge(s.cfg.BinaryMaxBytes)
	}
	return nil
}

// withUploader records the caller as the sender of the Binary bytes written under ctx.
func withUploader(ctx context.Context) context.Context {
	if c, ok := caller.From(ctx); ok {
		return storage.WithUploader(ctx, c.Subject)
	}
	return ctx
}
