-- The inbox (raw callbacks), messages with their parts, and canonical events.

CREATE FUNCTION dlrecon_status_rank(status text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'submitted' THEN 0
        WHEN 'accepted' THEN 1
        WHEN 'sent' THEN 2
        WHEN 'unknown' THEN 3
        WHEN 'delivered' THEN 4
        WHEN 'failed' THEN 4
        WHEN 'expired' THEN 4
        WHEN 'rejected' THEN 4
        WHEN 'read' THEN 5
    END
$$;

CREATE FUNCTION dlrecon_status_final(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('delivered', 'read', 'failed', 'expired', 'rejected')
$$;

-- Every accepted callback, verbatim, written before it is acknowledged.
CREATE TABLE inbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_key text NOT NULL,
    method text NOT NULL,
    path text NOT NULL,
    query text NOT NULL DEFAULT '',
    headers jsonb NOT NULL,
    body bytea NOT NULL,
    remote_addr text,
    -- verified | unverified (verify = off) | failed (verify = quarantine)
    verification text NOT NULL CHECK (verification IN ('verified', 'unverified', 'failed')),
    verification_reason text,
    received_at timestamptz NOT NULL,
    -- pending → processed | quarantined; held = failed verification, waits for release
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'processed', 'quarantined', 'held')),
    state_reason text,
    processed_at timestamptz,
    event_count int
);
CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending';
CREATE INDEX inbox_provider_received ON inbox (provider_key, received_at);
CREATE INDEX inbox_not_processed ON inbox (state, id) WHERE state IN ('quarantined', 'held');

-- What the sending system registered.
CREATE TABLE messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_key text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'voice')),
    client_ref text,
    destination text,
    submitted_at timestamptz,
    registered_at timestamptz NOT NULL DEFAULT now(),
    body_text text,
    segments int,
    value numeric,
    cost numeric,
    currency text,
    submit_response jsonb,
    submit_http_status int,
    -- derived from events (never written by hand)
    status text NOT NULL DEFAULT 'submitted',
    final boolean NOT NULL DEFAULT false,
    status_at timestamptz,
    error_code text,
    error_class text,
    conflict boolean NOT NULL DEFAULT false,
    provider_cost numeric,
    provider_currency text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX messages_client_ref ON messages (provider_key, client_ref)
    WHERE client_ref IS NOT NULL;
CREATE INDEX messages_open ON messages (provider_key, submitted_at) WHERE NOT final;
CREATE INDEX messages_submitted ON messages (submitted_at);

-- One row per provider id: a message has one per SMS part, or none.
CREATE TABLE message_parts (
    provider_key text NOT NULL,
    provider_message_id text NOT NULL,
    message_id bigint NOT NULL REFERENCES messages (id),
    part_no int NOT NULL,
    PRIMARY KEY (provider_key, provider_message_id)
);
CREATE INDEX message_parts_message ON message_parts (message_id, part_no);

-- Canonical events: append-only. Status is derived from them.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_key text NOT NULL,
    source text NOT NULL CHECK (source IN ('submit', 'callback', 'poll')),
    inbox_id bigint REFERENCES inbox (id),
    dedupe_key text NOT NULL,
    provider_message_id text,
    raw_message_id text,
    client_ref text,
    raw_status text NOT NULL,
    status text NOT NULL CHECK (dlrecon_status_rank(status) IS NOT NULL),
    error_code text,
    error_class text,
    retryable boolean,
    description text,
    provider_time timestamptz,
    received_at timestamptz NOT NULL,
    cost numeric,
    currency text,
    channel text,
    recipient text,
    details jsonb NOT NULL DEFAULT '{}',
    message_id bigint REFERENCES messages (id),
    part_no int,
    matched_at timestamptz,
    UNIQUE (provider_key, dedupe_key)
);
CREATE INDEX events_message ON events (message_id, part_no);
CREATE INDEX events_orphan_id ON events (provider_key, provider_message_id) WHERE message_id IS NULL;
CREATE INDEX events_orphan_ref ON events (provider_key, client_ref) WHERE message_id IS NULL;
CREATE INDEX events_inbox ON events (inbox_id);
