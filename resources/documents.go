package resources

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
)

// checkDocumentReference runs the rule of records tied to visits, then ties the
// document's attachments to the Binaries they name (attachment.url Binary/[id], relative
// or under the server's base): each must exist and be visible to the caller, its size
// and SHA-1 are filled in when absent and must match when present (R4: Attachment.hash
// is the base64 SHA-1 of the data), and a Binary that belongs to nothing yet gets this
// document as its securityContext, so that whoever may read the document may read it.
func (r *Rules) checkDocumentReference(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if err := r.checkRecordEncounter(ctx, tx, c, doc); err != nil || doc == nil {
		return err
	}
	changed := false
	for i, content := range objects(doc, "content") {
		att := object(content, "attachment")
		id, version, ok := r.binaryURL(str(att, "url"))
		if !ok {
			continue
		}
		at := fmt.Sprintf("DocumentReference.content[%d].attachment", i)
		bin, err := r.attachedBinary(ctx, tx, id, version)
		if err != nil {
			return err
		}
		if bin == nil {
			return fhirerr.Unprocessable(fhirerr.CodeNotFound,
				fmt.Sprintf("%s.url names Binary/%s, which does not exist on this server", at, id), at+".url")
		}
		blob, err := tx.BinaryBlob(ctx, bin.RID, bin.VersionID)
		if err != nil {
			return err
		}
		size, hash := int64(0), emptySHA1
		if blob != nil {
			size, hash = blob.Size, blob.Hash()
		}
		if v, present := att["size"]; present {
			if n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64); err != nil || n != size {
				return fhirerr.Unprocessable(fhirerr.CodeValue,
					fmt.Sprintf("%s.size is %v but Binary/%s has %d bytes", at, v, id, size), at+".size")
			}
		} else {
			att["size"], changed = size, true
		}
		if v, present := att["hash"]; present {
			if v != hash {
				return fhirerr.Unprocessable(fhirerr.CodeValue,
					fmt.Sprintf("%s.hash is %v but the SHA-1 of Binary/%s is %s (base64)", at, v, id, hash), at+".hash")
			}
		} else {
			att["hash"], changed = hash, true
		}
		bdoc, err := decode(bin.Content)
		if err != nil {
			return err
		}
		if _, present := att["contentType"]; !present && str(bdoc, "contentType") != "" {
			att["contentType"], changed = str(bdoc, "contentType"), true
		}
		if reference(bdoc, "securityContext") == "" && version == 0 {
			bdoc["securityContext"] = map[string]any{"reference": "DocumentReference/" + c.ID}
			if _, err := r.writeThrough(ctx, tx, bin, "Binary", id, encode(bdoc)); err != nil {
				return err
			}
		}
	}
	if changed {
		c.New = encode(doc)
	}
	return nil
}

// emptySHA1 is the hash of a Binary without data.
var emptySHA1 = func() string { h := sha1.Sum(nil); return base64.StdEncoding.EncodeToString(h[:]) }()

// binaryURL reads an attachment url that names a Binary of this server: Binary/[id],
// optionally /_history/[vid], relative or under the FHIR base. version is 0 without one.
func (r *Rules) binaryURL(url string) (id string, version int, ok bool) {
	if base := strings.TrimRight(r.cfg.BaseURL, "/"); base != "" {
		url = strings.TrimPrefix(url, base+"/")
	}
	rest, found := strings.CutPrefix(url, "Binary/")
	if !found {
		return "", 0, false
	}
	id, vid, versioned := strings.Cut(rest, "/_history/")
	if versioned {
		v, err := strconv.Atoi(vid)
		if err != nil || v < 1 {
			return id, -1, true // no such version: does not resolve
		}
		version = v
	}
	return id, version, id != "" && !strings.Contains(id, "/")
}

// attachedBinary is the Binary an attachment names, locked when current, or nil when
// it does not exist or the caller may not see it (told apart by no one): a Binary that
// belongs to nothing yet may be attached by whoever writes the document.
func (r *Rules) attachedBinary(ctx context.Context, tx *storage.Tx, id string, version int) (*storage.Resource, error) {
	var bin *storage.Resource
	var err error
	switch {
	case version < 0:
		return nil, nil
	case version > 0:
		bin, err = tx.VRead(ctx, "Binary", id, version)
		if bin == nil || bin.Deleted {
			return nil, ignoreMissing(err)
		}
	default:
		if bin, err = tx.Lock(ctx, "Binary", id); err != nil || bin == nil || bin.Deleted {
			return nil, err
		}
	}
	bdoc, err := decode(bin.Content)
	if err != nil {
		return nil, err
	}
	if reference(bdoc, "securityContext") == "" {
		return r.orphanFor(ctx, tx, bin)
	}
	if err := r.Authorize(ctx, tx, scope.Read, "Binary", bin); err != nil {
		return nil, ignoreMissing(err)
	}
	return bin, nil
}

// orphanFor is bin, a Binary that belongs to nothing yet, when the caller may attach it:
// its uploader, or a caller who sees every Binary (an admin, a backend service); nil
// (does not exist) for anyone else, who could otherwise claim another's upload.
func (r *Rules) orphanFor(ctx context.Context, tx *storage.Tx, bin *storage.Resource) (*storage.Resource, error) {
	c, ok := caller.From(ctx)
	if !ok {
		return bin, nil
	}
	if d := r.decide(ctx, scope.Read, "Binary", false); d.Allowed && d.Access.Unrestricted("Binary") {
		return bin, nil
	}
	blob, err := tx.BinaryBlob(ctx, bin.RID, bin.VersionID)
	if err != nil {
		return nil, err
	}
	if blob == nil || blob.UploadedBy != c.Subject {
		return nil, nil
	}
	return bin, nil
}

// ignoreMissing is nil for a 404 or 410, else err.
func ignoreMissing(err error) error {
	if fe, ok := fhirerr.As(err); ok && (fe.Status() == 404 || fe.Status() == 410) {
		return nil
	}
	return err
}
