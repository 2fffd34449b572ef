package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/jackc/pgx/v5"
)

// The bytes of a Binary live in blobs (migration 0012), not in its JSON: a Binary's
// stored content has contentType, securityContext and meta, and each version names the
// blob of its bytes in binary_versions. Uploads and downloads are streamed in chunks.

// BlobChunkSize is the size of the chunks a blob is stored in.
const BlobChunkSize = 512 << 10

// Blob is the stored bytes of one Binary version, without the bytes themselves.
type Blob struct {
	ID     int64
	Size   int64
	SHA1   []byte
	Chunks int
	// UploadedBy is the OAuth2 subject of who sent the bytes, "" for the server itself.
	UploadedBy string
}

type uploaderKey struct{}

// WithUploader marks the Binary bytes written under ctx as sent by subject.
func WithUploader(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, uploaderKey{}, subject)
}

// Hash is the blob's SHA-1 in base64, as R4's Attachment.hash has it.
func (b *Blob) Hash() string { return base64.StdEncoding.EncodeToString(b.SHA1) }

// splitBinaryData takes the data element out of a Binary's JSON: the JSON without it,
// and the decoded bytes (nil when there is no data).
func splitBinaryData(body []byte) ([]byte, []byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fhirerr.Invalid("the Binary is not a JSON object")
	}
	raw, ok := doc["data"]
	if !ok {
		return body, nil, nil
	}
	var encoded string
	if err := json.Unmarshal(raw, &encoded); err != nil {
		return nil, nil, fhirerr.Unprocessable(fhirerr.CodeStructure, "Binary.data must be a base64 string", "Binary.data")
	}
	// R4's base64Binary allows whitespace between the groups (the spec's own
	// Binary-example has MIME-style spaces).
	data, err := base64.StdEncoding.DecodeString(stripSpace(encoded))
	if err != nil {
		return nil, nil, fhirerr.Unprocessable(fhirerr.CodeStructure, "Binary.data is not valid base64", "Binary.data")
	}
	delete(doc, "data")
	rest, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: binary: %w", err)
	}
	return rest, data, nil
}

// writeBinaryBytes gives the version r of a Binary its bytes: those of data when the
// written JSON had them, else those of the version before (prev), so that a change of
// the metadata alone (a PATCH, a securityContext set by a rule) keeps them.
func (t *Tx) writeBinaryBytes(ctx context.Context, r, prev *Resource, data []byte, hadData bool) error {
	if hadData {
		_, err := t.AttachBinary(ctx, r, bytes.NewReader(data))
		return err
	}
	if prev == nil || prev.Deleted {
		return nil
	}
	_, err := t.pg.Exec(ctx, `INSERT INTO binary_versions (rid, version_id, blob_id)
		SELECT rid, $3, blob_id FROM binary_versions WHERE rid = $1 AND version_id = $2`, r.RID, prev.VersionID, r.VersionID)
	if err != nil {
		return fmt.Errorf("storage: binary %s: %w", r.ID, mapPgError(err))
	}
	return nil
}

// AttachBinary stores the bytes read from data as those of the Binary version res (just
// written in t), replacing any it had, and returns their blob. data is read to its end
// in chunks, never whole; an error reading it (a body over its limit) is returned as it is.
func (t *Tx) AttachBinary(ctx context.Context, res *Resource, data io.Reader) (*Blob, error) {
	var blob Blob
	blob.UploadedBy, _ = ctx.Value(uploaderKey{}).(string)
	if err := t.pg.QueryRow(ctx, `INSERT INTO binary_blobs (size, sha1, chunks, uploaded_by) VALUES (0, '', 0, $1) RETURNING blob_id`,
		blob.UploadedBy).Scan(&blob.ID); err != nil {
		return nil, fmt.Errorf("storage: binary %s: %w", res.ID, mapPgError(err))
	}
	src := &chunkSource{blob: blob.ID, r: data, buf: make([]byte, BlobChunkSize), sum: sha1.New()}
	if _, err := t.pg.CopyFrom(ctx, pgx.Identifier{"binary_chunks"}, []string{"blob_id", "seq", "data"}, src); err != nil {
		if src.err != nil {
			return nil, src.err
		}
		return nil, fmt.Errorf("storage: binary %s: %w", res.ID, mapPgError(err))
	}
	blob.Size, blob.SHA1, blob.Chunks = src.size, src.sum.Sum(nil), src.seq
	_, err := t.pg.Exec(ctx, `WITH b AS (UPDATE binary_blobs SET size = $2, sha1 = $3, chunks = $4 WHERE blob_id = $1)
		INSERT INTO binary_versions (rid, version_id, blob_id) VALUES ($5, $6, $1)
		ON CONFLICT (rid, version_id) DO UPDATE SET blob_id = excluded.blob_id`,
		blob.ID, blob.Size, blob.SHA1, blob.Chunks, res.RID, res.VersionID)
	if err != nil {
		return nil, fmt.Errorf("storage: binary %s: %w", res.ID, mapPgError(err))
	}
	return &blob, nil
}

// chunkSource feeds COPY one chunk of the reader at a time, hashing and counting it;
// the buffer is reused, as COPY encodes a row before it asks for the next.
type chunkSource struct {
	blob int64
	r    io.Reader
	buf  []byte
	n    int
	seq  int
	size int64
	sum  hash.Hash
	err  error
}

func (c *chunkSource) Next() bool {
	n, err := io.ReadFull(c.r, c.buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		c.err = err
		return false
	}
	if n == 0 {
		return false
	}
	c.n = n
	c.sum.Write(c.buf[:n])
	c.size += int64(n)
	c.seq++
	return true
}

func (c *chunkSource) Values() ([]any, error) {
	return []any{c.blob, int32(c.seq - 1), c.buf[:c.n]}, nil
}

func (c *chunkSource) Err() error { return c.err }

// binaryBlob is the blob of version of the Binary rid, nil when it has no bytes.
func binaryBlob(ctx context.Context, q Querier, rid int64, version int) (*Blob, error) {
	var b Blob
	err := q.QueryRow(ctx, `SELECT b.blob_id, b.size, b.sha1, b.chunks, b.uploaded_by FROM binary_versions v
		JOIN binary_blobs b USING (blob_id) WHERE v.rid = $1 AND v.version_id = $2`, rid, version).
		Scan(&b.ID, &b.Size, &b.SHA1, &b.Chunks, &b.UploadedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: binary: %w", mapPgError(err))
	}
	return &b, nil
}

// BinaryBlob returns the blob of a version of the Binary rid, nil when it has no bytes.
func (s *Store) BinaryBlob(ctx context.Context, rid int64, version int) (*Blob, error) {
	return binaryBlob(ctx, s.pool, rid, version)
}

// BinaryBlob is Store.BinaryBlob inside the transaction.
func (t *Tx) BinaryBlob(ctx context.Context, rid int64, version int) (*Blob, error) {
	return binaryBlob(ctx, t.pg, rid, version)
}

// copyBlob writes the bytes of b to w, one chunk per query: blobs never change, so the
// chunks read apart are one file, and a slow client holds no connection between them.
func copyBlob(ctx context.Context, q Querier, b *Blob, w io.Writer) error {
	for seq := 0; seq < b.Chunks; seq++ {
		rows, err := q.Query(ctx, `SELECT data FROM binary_chunks WHERE blob_id = $1 AND seq = $2`, b.ID, seq)
		if err != nil {
			return fmt.Errorf("storage: binary: %w", mapPgError(err))
		}
		found := false
		for rows.Next() {
			found = true
			// The raw value is pgx's read buffer: written out without a copy.
			if _, err := w.Write(rows.RawValues()[0]); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: binary: %w", mapPgError(err))
		}
		if !found {
			return fmt.Errorf("storage: binary: blob %d has no chunk %d", b.ID, seq)
		}
	}
	return nil
}

// CopyBlob writes the bytes of b to w.
func (s *Store) CopyBlob(ctx context.Context, b *Blob, w io.Writer) error {
	return copyBlob(ctx, s.pool, b, w)
}

// CopyBlob is Store.CopyBlob inside the transaction.
func (t *Tx) CopyBlob(ctx context.Context, b *Blob, w io.Writer) error {
	return copyBlob(ctx, t.pg, b, w)
}

// stripSpace removes the whitespace of a base64 text.
func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), "")
}
