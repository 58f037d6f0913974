-- name: insert_inbox_batch
-- One group-commit batch of raw callbacks (parallel arrays, one element per request).
INSERT INTO inbox (provider_key, method, path, query, headers, body, remote_addr,
                   verification, verification_reason, received_at, state)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[],
                     $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::text[])
RETURNING id;

-- name: claim_pending_inbox
-- Oldest pending rows, locked for this transaction; other processors skip them.
SELECT id, provider_key, method, path, query, headers, body, remote_addr, received_at
FROM inbox
WHERE state = 'pending'
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: mark_inbox
UPDATE inbox
SET state = u.state, state_reason = u.reason, event_count = u.event_count, processed_at = now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[]) AS u(id, state, reason, event_count)
WHERE inbox.id = u.id;

-- name: inbox_lag_seconds
SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8
FROM inbox
WHERE state = 'pending';

-- name: release_inbox
-- Put stored rows back in the queue: quarantined/held ones, or all of them (replay).
UPDATE inbox
SET state = 'pending', state_reason = NULL, processed_at = NULL
WHERE state = ANY($1::text[])
  AND ($2::text IS NULL OR provider_key = $2)
  AND ($3::timestamptz IS NULL OR received_at >= $3)
RETURNING id;
