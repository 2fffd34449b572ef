package fhir

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/gorilla/mux"
)

// readLimited reads r's body, decoded per its Content-Encoding, within MaxBodyBytes of
// decoded content, so a small gzip bomb is refused like a large body. Encodings other
// than gzip (and identity) are refused with 415 rather than read as if plain.
func (s *Server) readLimited(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxBodyBytes
	if mux.Vars(r)["type"] == "Binary" && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		limit = s.binaryJSONLimit() // a Binary's data in base64
	}
	raw := http.MaxBytesReader(w, r.Body, limit)
	var body io.Reader = raw
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, bodyError(err, limit, "the body is not valid gzip")
		}
		defer zr.Close()
		body = zr
	default:
		return nil, errorf(fhirerr.ErrUnsupportedMediaType, fhirerr.CodeNotSupported,
			"Content-Encoding %q is not supported; send gzip or no encoding", r.Header.Get("Content-Encoding"))
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(body, limit+1))
	if err != nil {
		return nil, bodyError(err, limit, "the body could not be read")
	}
	if n > limit {
		return nil, errorf(fhirerr.ErrTooLarge, fhirerr.CodeTooLong, "the body is larger than %d bytes once decoded", limit)
	}
	return buf.Bytes(), nil
}

// bodyError is a 413 for a body over the limit, else a 400 saying what.
func bodyError(err error, limit int64, what string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(fhirerr.ErrTooLarge, fhirerr.CodeTooLong, "the body is larger than %d bytes", limit)
	}
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the body is not valid gzip: %v", err)
	}
	return errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "%s", what)
}
