-- On-call: what provider health needs that nothing stored before, and partial indexes over
-- the small sets it reads (orphans, quarantined and held callbacks), so that its windows cost
-- what is in them, not the size of the tables.

-- Callbacks refused because their verification failed (verify = "enforce"), per provider key
-- and minute. Only counted, never stored raw: an unauthenticated sender could otherwise fill
-- the database. (Callbacks held by verify = "quarantine" are in the inbox, verification
-- 'failed'.) Written by the receiver in small batches (receiver/inbox/refusals.py).
CREATE TABLE callback_refusals (
    provider_key text NOT NULL,
    minute timestamptz NOT NULL,
    refused int NOT NULL CHECK (refused > 0),
    PRIMARY KEY (provider_key, minute)
);

-- Events still unmatched, by key and arrival: the orphan rate of a window.
CREATE INDEX events_orphans_received ON events (provider_key, received_at)
    WHERE message_id IS NULL;

-- Quarantined and held callbacks, by key and arrival: the quarantine rate and verification
-- failures of a window, and `GET /v1/inbox?state=...&provider=...` newest first.
CREATE INDEX inbox_attention ON inbox (provider_key, received_at)
    WHERE state IN ('quarantined', 'held');
