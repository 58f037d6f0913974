-- name: insert_inbox_batch
-- One group-commit batch of raw callbacks (parallel arrays, one element per request): each
-- request stored once, a pending one queued for the processor, a held one among the
-- exceptions. The new ids in order.
WITH rows AS (
    INSERT INTO inbox_requests (provider_key, method, path, query, headers, body, remote_addr,
                                verification, verification_reason, received_at)
    SELECT provider_key, method, path, query, headers, body, remote_addr, verification,
           verification_reason, received_at
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[],
                $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::text[])
         WITH ORDINALITY AS u(provider_key, method, path, query, headers, body, remote_addr,
                              verification, verification_reason, received_at, state, n)
    ORDER BY n
    RETURNING id, provider_key, received_at
),
numbered AS (
    SELECT id, provider_key, received_at, row_number() OVER (ORDER BY id) AS n FROM rows
),
states AS (
    SELECT d.id, d.provider_key, d.received_at, s.state
    FROM numbered d
    JOIN unnest($11::text[]) WITH ORDINALITY AS s(state, n) USING (n)
),
queued AS (
    INSERT INTO inbox_queue (id, received_at)
    SELECT id, received_at FROM states WHERE state = 'pending'
),
held AS (
    INSERT INTO inbox_exceptions (id, provider_key, received_at, state)
    SELECT id, provider_key, received_at, state FROM states WHERE state = 'held'
)
SELECT id FROM numbered ORDER BY n;

-- name: processor_commit_async
-- The processor's transaction need not wait for its WAL flush (see inbox.claim_pending).
SET LOCAL synchronous_commit = off;

-- name: claim_pending_inbox
-- Oldest pending rows, their queue entries locked for this transaction; other processors skip
-- them. The processor deletes the entries it claimed (`dequeue_inbox`) in the same transaction.
WITH claimed AS (
    SELECT id, received_at
    FROM inbox_queue
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
SELECT r.id, r.provider_key, r.method, r.path, r.query, r.headers, r.body, r.remote_addr,
       r.received_at, r.source, r.poll_request, r.response_status
FROM claimed c
-- with received_at, each row is looked up in its month's partition only
JOIN inbox_requests r ON r.id = c.id AND r.received_at = c.received_at
ORDER BY r.id;

-- name: dequeue_inbox
-- The outcome of claimed rows: out of the queue; the quarantined ones ($2, $3: their ids and
-- reasons) among the exceptions.
WITH done AS (
    DELETE FROM inbox_queue WHERE id = ANY($1::bigint[])
)
INSERT INTO inbox_exceptions (id, provider_key, received_at, state, reason, processed_at)
SELECT r.id, r.provider_key, r.received_at, 'quarantined', u.reason, now()
FROM unnest($2::bigint[], $3::text[]) AS u(id, reason)
JOIN inbox_requests r ON r.id = u.id
ON CONFLICT (id) DO UPDATE
SET state = excluded.state, reason = excluded.reason, processed_at = excluded.processed_at;

-- name: inbox_lag_seconds
SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8
FROM inbox_queue;

-- name: release_inbox
-- Put stored rows back in the queue: quarantined/held ones, or all of them (replay); each
-- with the state it had.
WITH chosen AS (
    SELECT r.id, r.received_at, coalesce(x.state, 'processed') AS state
    FROM inbox_requests r
    LEFT JOIN inbox_exceptions x ON x.id = r.id
    WHERE coalesce(x.state, 'processed') = ANY($1::text[])
      AND NOT EXISTS (SELECT 1 FROM inbox_queue q WHERE q.id = r.id)
      AND ($2::text IS NULL OR r.provider_key = $2)
      AND ($3::timestamptz IS NULL OR r.received_at >= $3)
),
queued AS (
    INSERT INTO inbox_queue (id, received_at)
    SELECT id, received_at FROM chosen
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
cleared AS (
    DELETE FROM inbox_exceptions x USING queued WHERE x.id = queued.id
)
SELECT queued.id, chosen.state AS was
FROM queued JOIN chosen USING (id);

-- name: last_event_id
SELECT coalesce(max(id), 0) FROM events;

-- name: replayed_outcome
-- What became of replayed rows: their states now, and the events made from them after
-- event $2 (the last one before the replay).
SELECT i.state, count(*) AS rows,
       coalesce(sum((SELECT count(*) FROM events e WHERE e.inbox_id = i.id AND e.id > $2)), 0)
           AS new_events
FROM inbox i
WHERE i.id = ANY($1::bigint[])
GROUP BY i.state
ORDER BY i.state;

-- name: add_callback_refusals
-- Refused callbacks counted per key and minute (parallel arrays), added to what is stored.
INSERT INTO callback_refusals AS r (provider_key, minute, refused)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[])
ON CONFLICT (provider_key, minute) DO UPDATE SET refused = r.refused + excluded.refused;

-- name: inbox_requests_of_message
-- The stored requests the events of a message came from, in arrival order.
SELECT id, provider_key, source, method, path, query, headers, body, remote_addr,
       verification, verification_reason, received_at, state, state_reason, processed_at,
       event_count, response_status
FROM inbox
WHERE id IN (SELECT inbox_id FROM events WHERE message_id = $1 AND inbox_id IS NOT NULL)
ORDER BY received_at, id;

-- name: get_inbox_row
SELECT id, provider_key, source, method, path, query, headers, body, remote_addr,
       verification, verification_reason, received_at, state, state_reason, processed_at,
       event_count, response_status
FROM inbox
WHERE id = $1;

-- name: inbox_attention
-- Quarantined and held rows (those of `states`, of one key when $2 is given), newest first,
-- after the cursor ($3, $4: the received_at and id of the last row of the previous page).
SELECT id, provider_key, source, method, path, query, headers, body, remote_addr,
       verification, verification_reason, received_at, state, state_reason, processed_at,
       event_count, response_status
FROM inbox
WHERE id IN (
    SELECT x.id
    FROM inbox_exceptions x
    WHERE x.state = ANY($1::text[])
      AND ($2::text IS NULL OR x.provider_key = $2)
      AND ($3::timestamptz IS NULL OR (x.received_at, x.id) < ($3, $4::bigint))
    ORDER BY x.received_at DESC, x.id DESC
    LIMIT $5
)
ORDER BY received_at DESC, id DESC;

-- name: inbox_attention_counts
-- How many rows are quarantined and held, per key.
SELECT provider_key, state, count(*)::int AS n
FROM inbox_exceptions
GROUP BY provider_key, state
ORDER BY provider_key, state;

-- name: release_inbox_rows
-- Put these quarantined or held rows back in the queue; the ids released.
WITH released AS (
    DELETE FROM inbox_exceptions WHERE id = ANY($1::bigint[])
    RETURNING id, received_at
)
INSERT INTO inbox_queue (id, received_at)
SELECT id, received_at FROM released
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- name: partitions_lock_timeout
SET LOCAL lock_timeout = '2s';

-- name: ensure_inbox_partitions
-- The inbox's monthly partitions from the oldest row still to process (or now) to $1 months
-- ahead, created when missing (migration 0012).
SELECT count(*)::int
FROM dlrecon_inbox_partitions(
    least(coalesce((SELECT min(received_at) FROM inbox_queue), now()),
          coalesce((SELECT min(received_at) FROM inbox_exceptions), now())),
    $1) AS p(name)
WHERE p.name IS NOT NULL;
