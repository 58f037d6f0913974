-- The inbox is written once. Processing a row no longer updates it (an UPDATE that changed
-- `state`, a column of partial-index predicates, was never HOT: every processed row was written
-- again, with an entry in every index). What changes is kept beside it, in two small tables:
--
--   inbox_queue       the rows still to process (pending): the writer adds each row it stores,
--                     the processor deletes the rows it claims in the transaction that stores
--                     their events; replay and release add rows again
--   inbox_exceptions  the rows that are not processed: quarantined (a parse error, with the
--                     reason) and held (failed verification, waiting for a release)
--
-- A row in neither is processed. `inbox` stays readable as before (a view with `state`,
-- `state_reason`, `processed_at` and `event_count`); rows are stored in `inbox_requests`.
-- docs/benchmarks.md says why this design and not HOT updates with a fillfactor.

DROP INDEX inbox_pending;
DROP INDEX inbox_not_processed;
DROP INDEX inbox_attention;
ALTER TABLE inbox RENAME TO inbox_requests;
ALTER INDEX inbox_pkey RENAME TO inbox_requests_pkey;
ALTER INDEX inbox_provider_received RENAME TO inbox_requests_provider_received;

CREATE TABLE inbox_queue (
    id bigint PRIMARY KEY,
    received_at timestamptz NOT NULL
);

CREATE TABLE inbox_exceptions (
    id bigint PRIMARY KEY,
    provider_key text NOT NULL,
    received_at timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('quarantined', 'held')),
    reason text,
    processed_at timestamptz
);
-- `GET /v1/inbox?state=...&provider=...` newest first, and the counts of on-call
CREATE INDEX inbox_exceptions_provider_received ON inbox_exceptions (provider_key, received_at);

INSERT INTO inbox_queue (id, received_at)
SELECT id, received_at FROM inbox_requests WHERE state = 'pending';
INSERT INTO inbox_exceptions (id, provider_key, received_at, state, reason, processed_at)
SELECT id, provider_key, received_at, state, state_reason, processed_at
FROM inbox_requests WHERE state IN ('quarantined', 'held');

-- what a processed row said (processed_at, event_count) is now read from its events
ALTER TABLE inbox_requests
    DROP COLUMN state,
    DROP COLUMN state_reason,
    DROP COLUMN processed_at,
    DROP COLUMN event_count;

-- The inbox as it reads: each row with its state. `processed_at` and `event_count` of a
-- processed row are those of the events stored from it (when they were stored, how many;
-- a row that only repeated stored events counts 0 and has no time).
CREATE VIEW inbox AS
SELECT r.id, r.provider_key, r.method, r.path, r.query, r.headers, r.body, r.remote_addr,
       r.verification, r.verification_reason, r.received_at,
       CASE WHEN x.state IS NOT NULL THEN x.state
            WHEN q.id IS NOT NULL THEN 'pending'
            ELSE 'processed' END AS state,
       x.reason AS state_reason,
       CASE WHEN x.id IS NOT NULL THEN x.processed_at
            WHEN q.id IS NULL THEN (SELECT max(e.created_at) FROM events e WHERE e.inbox_id = r.id)
       END AS processed_at,
       CASE WHEN x.id IS NOT NULL THEN 0
            WHEN q.id IS NULL THEN (SELECT count(*)::int FROM events e WHERE e.inbox_id = r.id)
       END AS event_count,
       r.source, r.poll_request, r.response_status
FROM inbox_requests r
LEFT JOIN inbox_queue q ON q.id = r.id
LEFT JOIN inbox_exceptions x ON x.id = r.id;

-- Rows written into the view (tests, scripts, the old column list) land in the tables: the
-- request, and its state where it is kept. The service writes the tables directly.
CREATE FUNCTION dlrecon_inbox_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox_requests (provider_key, method, path, query, headers, body, remote_addr,
                                verification, verification_reason, received_at, source,
                                poll_request, response_status)
    VALUES (NEW.provider_key, NEW.method, NEW.path, coalesce(NEW.query, ''), NEW.headers,
            NEW.body, NEW.remote_addr, NEW.verification, NEW.verification_reason,
            NEW.received_at, coalesce(NEW.source, 'callback'), NEW.poll_request,
            NEW.response_status)
    RETURNING id INTO NEW.id;
    NEW.state := coalesce(NEW.state, 'pending');
    IF NEW.state = 'pending' THEN
        INSERT INTO inbox_queue (id, received_at) VALUES (NEW.id, NEW.received_at);
    ELSIF NEW.state IN ('quarantined', 'held') THEN
        INSERT INTO inbox_exceptions (id, provider_key, received_at, state, reason, processed_at)
        VALUES (NEW.id, NEW.provider_key, NEW.received_at, NEW.state, NEW.state_reason,
                NEW.processed_at);
    ELSIF NEW.state <> 'processed' THEN
        RAISE EXCEPTION 'inbox state must be pending, processed, quarantined or held, not %',
            NEW.state USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER inbox_insert INSTEAD OF INSERT ON inbox
FOR EACH ROW EXECUTE FUNCTION dlrecon_inbox_insert();
