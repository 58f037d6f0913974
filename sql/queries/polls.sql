-- name: retire_polls
-- Stop polling a key's messages that need it no more: final, and priced or on an API that
-- gives no price ($2 false); or past the horizon ($3 seconds after submit). Rows another
-- poller holds are left for its next round (SKIP LOCKED: pollers never wait on each other).
WITH ended AS (
    SELECT s.message_id,
           CASE WHEN m.final AND m.provider_cost IS NOT NULL THEN 'priced'
                WHEN m.final AND NOT $2::bool THEN 'final'
                ELSE 'horizon' END AS reason
    FROM poll_schedule s
    JOIN messages m ON m.id = s.message_id
    WHERE s.provider_key = $1 AND s.done_at IS NULL
      AND ((m.final AND (m.provider_cost IS NOT NULL OR NOT $2::bool))
           OR coalesce(m.submitted_at, m.registered_at) < now() - make_interval(secs => $3))
    FOR UPDATE OF s SKIP LOCKED
)
UPDATE poll_schedule s
SET done_at = now(), done_reason = ended.reason, lease_until = NULL
FROM ended
WHERE s.message_id = ended.message_id;

-- name: seed_polls
-- Messages of key $1 that became worth polling: not final $2 seconds after their submit, or
-- final without a provider price when the API gives one ($4); within the horizon ($3 s).
-- Never a message final and priced. With $6, only those whose submit (or registration, for
-- messages registered without a submit time) is at most $6 seconds older than the poll_after
-- threshold: a round's look at what just crossed it, through the indexes; without, the whole
-- horizon. Concurrent pollers insert each message once.
WITH bounds AS (
    SELECT now() - make_interval(secs => $2) AS newest,
           greatest(now() - make_interval(secs => $3),
                    coalesce(now() - make_interval(secs => $2 + $6::float8), '-infinity'))
               AS oldest
),
candidates AS (
    SELECT m.id
    FROM messages m, bounds b
    WHERE m.provider_key = $1 AND NOT m.final
      AND m.submitted_at <= b.newest AND m.submitted_at >= b.oldest
    UNION ALL
    SELECT m.id
    FROM messages m, bounds b
    WHERE $4::bool AND m.provider_key = $1 AND m.final AND m.provider_cost IS NULL
      AND m.submitted_at <= b.newest AND m.submitted_at >= b.oldest
    UNION ALL
    SELECT m.id
    FROM messages m, bounds b
    WHERE m.provider_key = $1 AND m.submitted_at IS NULL
      AND m.registered_at <= b.newest AND m.registered_at >= b.oldest
      AND (NOT m.final OR ($4::bool AND m.provider_cost IS NULL))
)
INSERT INTO poll_schedule (message_id, provider_key, next_poll_at)
SELECT c.id, $1, now()
FROM candidates c
WHERE NOT EXISTS (SELECT 1 FROM poll_schedule s WHERE s.message_id = c.id)
ORDER BY c.id
LIMIT $5
ON CONFLICT (message_id) DO NOTHING;

-- name: claim_polls
-- Up to $2 due messages of key $1, leased for $3 seconds: other pollers skip them (locked
-- now, leased afterwards) until this one finishes them or the lease runs out.
WITH due AS (
    SELECT s.message_id
    FROM poll_schedule s
    WHERE s.provider_key = $1 AND s.done_at IS NULL AND s.next_poll_at <= now()
      AND (s.lease_until IS NULL OR s.lease_until <= now())
    ORDER BY s.next_poll_at, s.message_id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE poll_schedule s
SET lease_until = now() + make_interval(secs => $3)
FROM due
JOIN messages m ON m.id = due.message_id
WHERE s.message_id = due.message_id
RETURNING s.message_id, s.attempts, s.failures, m.status, m.channel, m.client_ref, m.submitted_at,
          m.final, m.provider_cost IS NOT NULL AS priced, m.submit_response,
          coalesce((SELECT array_agg(p.provider_message_id ORDER BY p.part_no)
                    FROM message_parts p WHERE p.message_id = m.id), '{}') AS provider_message_ids;

-- name: finish_polls
-- Record each claimed message's poll: answered ones step through the back-off schedule
-- (attempts), failed ones count failures in a row; both get their next time; the lease ends.
UPDATE poll_schedule s
SET attempts = s.attempts + CASE WHEN u.answered THEN 1 ELSE 0 END,
    failures = CASE WHEN u.answered THEN 0 ELSE s.failures + 1 END,
    next_poll_at = u.next_at,
    last_outcome = u.outcome,
    last_polled_at = now(),
    lease_until = NULL,
    done_at = CASE WHEN u.unpollable THEN now() END,
    done_reason = CASE WHEN u.unpollable THEN 'unpollable' END
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::bool[], $5::bool[])
     AS u(message_id, next_at, outcome, answered, unpollable)
WHERE s.message_id = u.message_id;

-- name: release_polls
-- Give claimed messages back untouched (the breaker opened, the poller is stopping).
UPDATE poll_schedule SET lease_until = NULL WHERE message_id = ANY($1::bigint[]);

-- name: insert_poll_inbox
-- One poll response, stored raw before it is parsed (the request made, without credentials),
-- and queued for the processor.
WITH row AS (
    INSERT INTO inbox_requests (provider_key, source, method, path, query, headers, body,
                                remote_addr, verification, verification_reason, received_at,
                                poll_request, response_status)
    VALUES ($1, 'poll', $2, $3, $4, $5, $6, $7, 'verified', 'response to our request', $8,
            $9, $10)
    RETURNING id, received_at
),
queued AS (
    INSERT INTO inbox_queue (id, received_at) SELECT id, received_at FROM row
)
SELECT id FROM row;

-- name: insert_polls
-- The poll log: one row per request sent.
INSERT INTO polls (provider_key, message_id, kind, requested_at, duration_ms, request, outcome,
                   http_status, error, inbox_id)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::int[],
                     $6::jsonb[], $7::text[], $8::int[], $9::text[], $10::bigint[]);

-- name: poll_backlog
-- Messages waiting for a poll, per provider key: due now, and scheduled later.
SELECT provider_key,
       count(*) FILTER (WHERE next_poll_at <= now()) AS due,
       count(*) AS scheduled
FROM poll_schedule
WHERE done_at IS NULL
GROUP BY provider_key
ORDER BY provider_key;

-- name: message_polls
-- The polls that asked about a message: its look-ups, and the list or drain pages whose
-- responses gave one of its events.
SELECT p.id, p.kind, p.requested_at, p.duration_ms, p.outcome, p.http_status, p.error,
       p.inbox_id, p.request
FROM polls p
WHERE p.message_id = $1
UNION
SELECT p.id, p.kind, p.requested_at, p.duration_ms, p.outcome, p.http_status, p.error,
       p.inbox_id, p.request
FROM polls p
JOIN events e ON e.inbox_id = p.inbox_id
WHERE e.message_id = $1 AND p.message_id IS NULL
ORDER BY requested_at, id;

-- name: message_poll_schedule
SELECT attempts, failures, next_poll_at, last_polled_at, last_outcome, done_at, done_reason
FROM poll_schedule
WHERE message_id = $1;

-- name: message_states
SELECT id, status, provider_cost IS NOT NULL AS priced FROM messages WHERE id = ANY($1::bigint[]);
