-- name: insert_events
-- Append events; a duplicate (same provider key and dedupe key, of any month) is dropped by
-- the trigger that keeps `event_keys` (migration 0013) and not returned. An event without
-- a message whose provider id names a registered part is stored matched (no second write of
-- the row to match it); the others are orphans, for `match_events_*`.
INSERT INTO events (provider_key, source, inbox_id, dedupe_key, provider_message_id,
                    raw_message_id, client_ref, raw_status, status, error_code, error_class,
                    retryable, description, provider_time, received_at, cost, currency,
                    channel, recipient, details, message_id, part_no, aliases, matched_at)
SELECT u.provider_key, u.source, u.inbox_id, u.dedupe_key, u.provider_message_id,
       u.raw_message_id, u.client_ref, u.raw_status, u.status, u.error_code, u.error_class,
       u.retryable, u.description, u.provider_time, u.received_at, u.cost, u.currency,
       u.channel, u.recipient, u.details, coalesce(u.message_id, p.message_id),
       CASE WHEN u.message_id IS NULL THEN p.part_no ELSE u.part_no END,
       -- aliases travel as one '\x1f'-separated string: unnest cannot take ragged arrays
       CASE WHEN u.aliases = '' THEN '{}'::text[] ELSE string_to_array(u.aliases, E'\x1f') END,
       CASE WHEN coalesce(u.message_id, p.message_id) IS NULL THEN NULL ELSE now() END
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[], $13::text[],
            $14::timestamptz[], $15::timestamptz[], $16::numeric[], $17::text[], $18::text[],
            $19::text[], $20::jsonb[], $21::bigint[], $22::int[], $23::text[])
     WITH ORDINALITY
     AS u(provider_key, source, inbox_id, dedupe_key, provider_message_id, raw_message_id,
          client_ref, raw_status, status, error_code, error_class, retryable, description,
          provider_time, received_at, cost, currency, channel, recipient, details, message_id,
          part_no, aliases, n)
LEFT JOIN message_parts p
  ON u.message_id IS NULL
 AND p.provider_key = u.provider_key
 AND p.provider_message_id = u.provider_message_id
ORDER BY u.n  -- the ids in the order given, whatever join the planner picks
RETURNING id, provider_key, dedupe_key, message_id;

-- name: match_events_by_id
-- Orphan events (all, or those in $1) whose provider id names a registered part.
UPDATE events e
SET message_id = p.message_id, part_no = p.part_no, matched_at = now()
FROM message_parts p
WHERE e.message_id IS NULL
  AND ($1::bigint[] IS NULL OR e.id = ANY($1))
  AND p.provider_key = e.provider_key
  AND p.provider_message_id = e.provider_message_id
RETURNING e.message_id;

-- name: messages_of_events
-- The messages these events are matched to (those stored matched by `insert_events`).
SELECT DISTINCT message_id FROM events WHERE id = ANY($1::bigint[]) AND message_id IS NOT NULL;

-- name: match_events_by_client_ref
-- Orphan events whose client reference names a registered message (message-level events).
UPDATE events e
SET message_id = m.id, matched_at = now()
FROM messages m
WHERE e.message_id IS NULL
  AND ($1::bigint[] IS NULL OR e.id = ANY($1))
  AND e.client_ref IS NOT NULL
  AND m.provider_key = e.provider_key
  AND m.client_ref = e.client_ref
RETURNING e.message_id;

-- name: match_events_by_learned_id
-- Orphan events carrying one of these just-learned ids.
UPDATE events e
SET message_id = p.message_id, part_no = p.part_no, matched_at = now()
FROM message_parts p
WHERE e.message_id IS NULL
  AND e.provider_message_id = ANY($1::text[])
  AND p.provider_key = e.provider_key
  AND p.provider_message_id = e.provider_message_id
RETURNING e.message_id;

-- name: learn_part_ids
-- A message registered without provider ids learns them from events matched by client ref.
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT DISTINCT ON (e.provider_key, e.provider_message_id)
       e.provider_key, e.provider_message_id, e.message_id, 0
FROM events e
WHERE e.message_id = ANY($1::bigint[])
  AND e.provider_message_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = e.message_id)
ORDER BY e.provider_key, e.provider_message_id, e.id
ON CONFLICT DO NOTHING;

-- name: learn_alias_ids
-- Matched events teach their message part the other ids they carry.
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT DISTINCT ON (e.provider_key, a.alias)
       e.provider_key, a.alias, e.message_id, coalesce(e.part_no, 0)
FROM events e
CROSS JOIN LATERAL unnest(e.aliases) AS a(alias)
WHERE e.message_id = ANY($1::bigint[])
  AND cardinality(e.aliases) > 0
ORDER BY e.provider_key, a.alias, e.id
ON CONFLICT DO NOTHING
RETURNING provider_message_id;

-- name: orphan_events_for_messages
-- Orphans that a batch of newly registered messages can claim (by provider id or client ref).
SELECT e.id
FROM events e
JOIN messages m ON m.provider_key = e.provider_key AND m.client_ref = e.client_ref
WHERE m.id = ANY($1::bigint[]) AND e.message_id IS NULL
UNION
SELECT e.id
FROM events e
JOIN message_parts p
  ON p.provider_key = e.provider_key AND p.provider_message_id = e.provider_message_id
WHERE p.message_id = ANY($1::bigint[]) AND e.message_id IS NULL;

-- name: lock_messages
SELECT id FROM messages WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE;

-- name: refresh_message_status
-- Derive each message's status from all its events: per part the highest rank wins
-- (ties: later provider time, then later receive time); the message is failed if any part
-- failed, delivered (or read) only if every part is, else its least advanced part.
-- Events without a part (matched by client ref) count for every part.
WITH targets AS (
    SELECT DISTINCT unnest($1::bigint[]) AS message_id
),
parts AS (
    SELECT p.message_id, p.part_no FROM message_parts p WHERE p.message_id = ANY($1::bigint[])
    UNION
    SELECT t.message_id, 0 FROM targets t
    WHERE NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = t.message_id)
),
target_events AS MATERIALIZED (
    SELECT e.id, e.message_id, e.part_no, e.status, e.error_code, e.error_class,
           e.provider_time, e.received_at, e.cost, e.currency
    FROM events e
    WHERE e.message_id = ANY($1::bigint[])
),
candidates AS (
    SELECT pa.message_id, pa.part_no, e.id, e.status, e.error_code, e.error_class,
           e.provider_time, e.received_at
    FROM parts pa
    JOIN target_events e
      ON e.message_id = pa.message_id AND (e.part_no = pa.part_no OR e.part_no IS NULL)
),
part_status AS (
    SELECT DISTINCT ON (pa.message_id, pa.part_no)
           pa.message_id, pa.part_no, coalesce(c.status, 'submitted') AS status,
           c.error_code, c.error_class, coalesce(c.provider_time, c.received_at) AS status_at
    FROM parts pa
    LEFT JOIN candidates c USING (message_id, part_no)
    ORDER BY pa.message_id, pa.part_no, dlrecon_status_rank(c.status) DESC NULLS LAST,
             c.provider_time DESC NULLS LAST, c.received_at DESC NULLS LAST, c.id DESC NULLS LAST
),
conflicts AS (
    SELECT message_id, bool_or(succeeded AND failed) AS conflict
    FROM (SELECT message_id, part_no,
                 bool_or(dlrecon_status_success(status)) AS succeeded,
                 bool_or(dlrecon_status_failure(status)) AS failed
          FROM candidates GROUP BY message_id, part_no) per_part
    GROUP BY message_id
),
costs AS (
    -- the latest reported cost per part (events matched by client ref count as part 0, the
    -- part their id is learned as); summed only when every part reports the same currency
    SELECT message_id,
           CASE WHEN count(DISTINCT currency) = 1 THEN sum(cost) END AS cost,
           CASE WHEN count(DISTINCT currency) = 1 THEN min(currency) END AS currency
    FROM (SELECT DISTINCT ON (e.message_id, coalesce(e.part_no, 0)) e.message_id, e.cost, e.currency
          FROM target_events e
          WHERE e.cost IS NOT NULL
          ORDER BY e.message_id, coalesce(e.part_no, 0), e.received_at DESC, e.id DESC) latest
    GROUP BY message_id
),
rolled AS (
    SELECT message_id,
           CASE
               WHEN bool_or(dlrecon_status_failure(status)) THEN
                   (array_agg(status ORDER BY status_at DESC NULLS LAST, part_no)
                        FILTER (WHERE dlrecon_status_failure(status)))[1]
               WHEN bool_and(status = 'read') THEN 'read'
               WHEN bool_and(dlrecon_status_success(status)) THEN 'delivered'
               ELSE (array_agg(status ORDER BY dlrecon_status_rank(status), part_no))[1]
           END AS status,
           max(status_at) AS status_at,
           -- code and class come together from one part: the latest failing one first
           (array_agg(ROW(error_code, error_class)::dlrecon_error
                      ORDER BY dlrecon_status_failure(status) DESC,
                               status_at DESC NULLS LAST, part_no)
                FILTER (WHERE error_code IS NOT NULL OR error_class IS NOT NULL))[1] AS error
    FROM part_status
    GROUP BY message_id
)
UPDATE messages m
SET status = r.status,
    final = dlrecon_status_final(r.status),
    status_at = r.status_at,
    error_code = (r.error).code,
    error_class = (r.error).class,
    conflict = coalesce(c.conflict, false),
    provider_cost = k.cost,
    provider_currency = k.currency,
    updated_at = now()
FROM rolled r
LEFT JOIN conflicts c USING (message_id)
LEFT JOIN costs k USING (message_id)
WHERE m.id = r.message_id
  -- a message whose status the events do not change is not written again
  AND (m.status, m.status_at, m.error_code, m.error_class, m.conflict, m.provider_cost,
       m.provider_currency)
      IS DISTINCT FROM
      (r.status, r.status_at, (r.error).code, (r.error).class, coalesce(c.conflict, false),
       k.cost, k.currency);

-- name: message_timeline
SELECT id, source, inbox_id, provider_message_id, raw_message_id, client_ref, raw_status,
       status, error_code, error_class, retryable, description, provider_time, received_at,
       cost, currency, part_no, details
FROM events
WHERE message_id = $1
ORDER BY coalesce(provider_time, received_at), id;
