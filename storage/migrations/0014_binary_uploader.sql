-- Who uploaded a blob's bytes (the caller's OAuth2 subject; '' for the server itself):
-- a Binary that belongs to nothing yet may be attached to a document only by its
-- uploader, an admin or a backend service (resources/documents.go).
ALTER TABLE binary_blobs ADD COLUMN uploaded_by text NOT NULL DEFAULT '';
