-- The search index: one table per search parameter type, one row per value, keyed by the
-- resource's rid. sp is the parameter as "Type.code" (e.g. Patient.family), so one index
-- serves each type's parameter separately. Rows belong to the current version of a live
-- resource; storage rewrites them in the transaction of every write and drops them on
-- delete. Text columns use the C collation so that btree indexes serve LIKE 'prefix%'.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- string: value is lower-cased and stripped of accents (default and :contains), exact as written.
CREATE TABLE search_string (
    rid   bigint NOT NULL,
    sp    text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    exact text NOT NULL
);
CREATE INDEX search_string_value ON search_string (sp, value, rid);
CREATE INDEX search_string_rid ON search_string (rid, sp);

-- token: system '' when the value has none; text is the normalised display for :text.
CREATE TABLE search_token (
    rid    bigint NOT NULL,
    sp     text COLLATE "C" NOT NULL,
    system text COLLATE "C" NOT NULL,
    code   text COLLATE "C" NOT NULL,
    text   text COLLATE "C" NOT NULL
);
CREATE INDEX search_token_code ON search_token (sp, code, system, rid);
CREATE INDEX search_token_rid ON search_token (rid, sp, code);

-- reference: a local target (target_type, target_id) and/or a url (absolute or canonical).
CREATE TABLE search_reference (
    rid         bigint NOT NULL,
    sp          text COLLATE "C" NOT NULL,
    target_type text COLLATE "C" NOT NULL,
    target_id   text COLLATE "C" NOT NULL,
    url         text COLLATE "C" NOT NULL
);
CREATE INDEX search_reference_target ON search_reference (sp, target_id, target_type, rid);
CREATE INDEX search_reference_url ON search_reference (sp, url) WHERE url <> '';
CREATE INDEX search_reference_rid ON search_reference (rid, sp);

-- date: the inclusive range [low, high] of instants a value covers. A GiST index on the
-- range answers every prefix (ge, lt, sa, eb, ...) of a date window without scanning
-- from the beginning or the end of time; multi marks resources with several values.
CREATE TABLE search_date (
    rid   bigint NOT NULL,
    sp    text COLLATE "C" NOT NULL,
    low   timestamptz NOT NULL,
    high  timestamptz NOT NULL,
    multi boolean NOT NULL
);
CREATE INDEX search_date_range ON search_date USING gist (sp, tstzrange(low, high, '[]'));
CREATE INDEX search_date_rid ON search_date (rid, sp, low, high);
CREATE INDEX search_date_multi ON search_date (sp, rid) WHERE multi;

CREATE TABLE search_number (
    rid   bigint NOT NULL,
    sp    text COLLATE "C" NOT NULL,
    value numeric NOT NULL
);
CREATE INDEX search_number_value ON search_number (sp, value, rid);
CREATE INDEX search_number_rid ON search_number (rid, sp);

-- quantity: [low, high] is one value for a Quantity, the bounds of a Range (infinite when open).
CREATE TABLE search_quantity (
    rid    bigint NOT NULL,
    sp     text COLLATE "C" NOT NULL,
    system text COLLATE "C" NOT NULL,
    code   text COLLATE "C" NOT NULL,
    unit   text COLLATE "C" NOT NULL,
    low    numeric NOT NULL,
    high   numeric NOT NULL
);
CREATE INDEX search_quantity_value ON search_quantity (sp, low, rid);
CREATE INDEX search_quantity_rid ON search_quantity (rid, sp);

CREATE TABLE search_uri (
    rid   bigint NOT NULL,
    sp    text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL
);
CREATE INDEX search_uri_value ON search_uri (sp, value, rid);
CREATE INDEX search_uri_rid ON search_uri (rid, sp);

-- composite: one row per tuple; the first component is a token (or a reference as
-- "Type/id" in c1_code), the second a token, quantity, date or string.
CREATE TABLE search_composite (
    rid       bigint NOT NULL,
    sp        text COLLATE "C" NOT NULL,
    c1_system text COLLATE "C" NOT NULL,
    c1_code   text COLLATE "C" NOT NULL,
    c2_system text COLLATE "C" NOT NULL,
    c2_code   text COLLATE "C" NOT NULL,
    c2_low    numeric,
    c2_high   numeric,
    c2_from   timestamptz,
    c2_to     timestamptz,
    c2_text   text COLLATE "C"
);
CREATE INDEX search_composite_code ON search_composite (sp, c1_code, rid);
CREATE INDEX search_composite_rid ON search_composite (rid, sp);

-- _lastUpdated and the default order (rid) of a type's live resources.
CREATE INDEX resources_type_last_updated ON resources (type, last_updated) WHERE NOT deleted;
CREATE INDEX resources_type_live ON resources (type, rid) WHERE NOT deleted;
