-- The bytes of Binary resources, kept out of their JSON (which holds contentType,
-- securityContext and meta): a blob is the bytes of one upload, in chunks, with their
-- size and SHA-1 (DocumentReference.content.attachment.size and hash), and each version
-- of a Binary names its blob. A version that changes only the metadata (a PATCH, the
-- securityContext set by a DocumentReference) names the blob of the version before, so
-- the bytes are stored once. Blobs are never changed once written.
CREATE TABLE binary_blobs (
    blob_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    size    bigint  NOT NULL,
    sha1    bytea   NOT NULL,
    chunks  integer NOT NULL
);

-- Chunks of at most 512 KiB, so that an upload is streamed into the database and a
-- download out of it without holding the whole file in memory.
CREATE TABLE binary_chunks (
    blob_id bigint  NOT NULL REFERENCES binary_blobs (blob_id),
    seq     integer NOT NULL,
    data    bytea   NOT NULL,
    PRIMARY KEY (blob_id, seq)
);
-- PDFs and images are compressed already: TOAST stores them as they are.
ALTER TABLE binary_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE binary_versions (
    rid        bigint  NOT NULL,
    version_id integer NOT NULL,
    blob_id    bigint  NOT NULL REFERENCES binary_blobs (blob_id),
    PRIMARY KEY (rid, version_id),
    FOREIGN KEY (rid, version_id) REFERENCES resource_versions (rid, version_id)
);
