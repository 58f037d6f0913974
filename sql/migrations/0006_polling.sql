-- Polling provider status APIs: poll responses in the inbox, a schedule per message that
-- survives restarts, and every request made, for the trace.

-- Where an inbox row came from: a provider's callback, or the response to a request we made.
-- For a poll row, method/path/query are the request made, headers and body the response's,
-- `poll_request` the whole request (credentials never reach it: they are applied when sending)
-- and `response_status` the HTTP status answered.
ALTER TABLE inbox
    ADD COLUMN source text NOT NULL DEFAULT 'callback' CHECK (source IN ('callback', 'poll')),
    ADD COLUMN poll_request jsonb,
    ADD COLUMN response_status int;

-- One row per message that is (or was) worth polling: not final past the key's poll_after, or
-- final without a provider price where the provider's API gives one. `attempts` counts the
-- polls that got an answer (it picks the step of the back-off schedule), `failures` the ones in
-- a row that did not (5xx, timeouts...). A claim is a lease (`lease_until`), taken with
-- FOR UPDATE SKIP LOCKED: two pollers never poll one message at the same time, and a poller
-- that dies leaves the message to be claimed again once the lease runs out.
CREATE TABLE poll_schedule (
    message_id bigint PRIMARY KEY REFERENCES messages (id),
    provider_key text NOT NULL,
    attempts int NOT NULL DEFAULT 0,
    failures int NOT NULL DEFAULT 0,
    next_poll_at timestamptz NOT NULL,
    lease_until timestamptz,
    last_polled_at timestamptz,
    last_outcome text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- final (and priced, or the API gives no price), priced, horizon (gave up), unpollable
    done_at timestamptz,
    done_reason text
);
CREATE INDEX poll_schedule_due ON poll_schedule (provider_key, next_poll_at)
    WHERE done_at IS NULL;

-- Every request the poller made (one row per attempt), without credentials. `message_id` is
-- set for a look-up of one message; list and drain pages name none (their events do).
CREATE TABLE polls (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_key text NOT NULL,
    message_id bigint REFERENCES messages (id),
    kind text NOT NULL CHECK (kind IN ('lookup', 'list', 'drain')),
    requested_at timestamptz NOT NULL,
    duration_ms int,
    request jsonb NOT NULL,
    -- ok | not_found | rate_limited | server_error | timeout | network | client_error | auth
    outcome text NOT NULL,
    http_status int,
    error text,
    inbox_id bigint REFERENCES inbox (id)
);
CREATE INDEX polls_message ON polls (message_id, requested_at) WHERE message_id IS NOT NULL;
CREATE INDEX polls_inbox ON polls (inbox_id) WHERE inbox_id IS NOT NULL;
CREATE INDEX polls_provider_time ON polls (provider_key, requested_at);

-- Final messages still waiting for a provider price (Twilio fills it in later).
CREATE INDEX messages_unpriced ON messages (provider_key, submitted_at)
    WHERE final AND provider_cost IS NULL;
-- Messages registered without a submit time are scheduled by their registration time.
CREATE INDEX messages_unsubmitted ON messages (provider_key, registered_at)
    WHERE submitted_at IS NULL;
-- Provider health counts a message without a submit time as sent when it was registered, as
-- reconciliation and the finance report do: its windows read those by time, for every key.
CREATE INDEX messages_unsubmitted_registered ON messages (registered_at)
    WHERE submitted_at IS NULL;

-- The dedupe key of a callback or poll event now ends with the price it reports, so that a
-- poll which adds a price to a status already known is kept (it says something new), while a
-- poll and a callback saying the same thing, price included, stay one event. Written as
-- Python writes it (`receiver.model.amount_key`): trailing zeros trimmed, plain notation.
UPDATE events
SET dedupe_key = dedupe_key || '|price:' || trim_scale(cost)::text || ' ' || coalesce(currency, '')
WHERE source <> 'submit' AND cost IS NOT NULL;
