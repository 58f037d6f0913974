-- name: create_message_staging
-- Registration goes through a per-transaction staging table so that a batch (API or
-- import) is resolved, inserted and matched with set-based statements.
CREATE TEMP TABLE message_staging (
    item_no int NOT NULL,
    provider_key text NOT NULL,
    channel text NOT NULL,
    client_ref text,
    destination text,
    submitted_at timestamptz,
    body_text text,
    segments int,
    value numeric,
    cost numeric,
    currency text,
    submit_response text,  -- JSON text: COPY has no binary jsonb encoder in asyncpg
    submit_http_status int,
    provider_message_ids text[] NOT NULL,
    new_id bigint,
    message_id bigint,
    conflict_with bigint,  -- a provider id already belongs to a message with another client ref
    existed boolean NOT NULL DEFAULT true
) ON COMMIT DROP;

-- name: resolve_staged_by_client_ref
UPDATE message_staging s
SET message_id = m.id
FROM messages m
WHERE s.message_id IS NULL
  AND s.client_ref IS NOT NULL
  AND m.provider_key = s.provider_key
  AND m.client_ref = s.client_ref;

-- name: resolve_staged_by_provider_id
-- An item whose provider id is registered already is that message, unless both carry
-- client refs that differ: then it is a conflict, reported and not registered.
UPDATE message_staging s
SET message_id = CASE WHEN found.clash THEN NULL ELSE found.message_id END,
    conflict_with = CASE WHEN found.clash THEN found.message_id END
FROM (SELECT DISTINCT ON (st.item_no) st.item_no, p.message_id,
             (st.client_ref IS NOT NULL AND m.client_ref IS NOT NULL
              AND st.client_ref <> m.client_ref) AS clash
      FROM message_staging st
      CROSS JOIN LATERAL unnest(st.provider_message_ids) AS u(pid)
      JOIN message_parts p ON p.provider_key = st.provider_key AND p.provider_message_id = u.pid
      JOIN messages m ON m.id = p.message_id
      WHERE st.message_id IS NULL
      ORDER BY st.item_no) found
WHERE s.item_no = found.item_no;

-- name: analyze_message_staging
-- A fresh temp table has no statistics; without them the planner guesses badly.
ANALYZE message_staging;

-- name: allocate_staged_ids
-- New messages get ids up front (the first item of in-batch duplicates only).
UPDATE message_staging s
SET new_id = nextval(pg_get_serial_sequence('messages', 'id'))
FROM (SELECT DISTINCT ON (provider_key, coalesce(client_ref, '#' || item_no)) item_no
      FROM message_staging
      WHERE message_id IS NULL AND conflict_with IS NULL
      ORDER BY provider_key, coalesce(client_ref, '#' || item_no), item_no) first
WHERE s.item_no = first.item_no;

-- name: insert_staged_messages
WITH inserted AS (
    INSERT INTO messages (id, provider_key, channel, client_ref, destination, submitted_at,
                          body_text, segments, value, cost, currency, submit_response,
                          submit_http_status)
    OVERRIDING SYSTEM VALUE
    SELECT new_id, provider_key, channel, client_ref, destination, submitted_at, body_text,
           segments, value, cost, currency, submit_response::jsonb, submit_http_status
    FROM message_staging
    WHERE new_id IS NOT NULL
    ORDER BY new_id
    ON CONFLICT (provider_key, client_ref) WHERE client_ref IS NOT NULL DO NOTHING
    RETURNING id
)
UPDATE message_staging s
SET message_id = s.new_id, existed = false
FROM inserted
WHERE s.new_id = inserted.id;

-- name: insert_staged_parts
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT s.provider_key, u.pid, s.message_id, (u.ord - 1)::int
FROM message_staging s, unnest(s.provider_message_ids) WITH ORDINALITY AS u(pid, ord)
WHERE s.message_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM message_parts p
                  WHERE p.message_id = s.message_id AND p.part_no = (u.ord - 1)::int)
ON CONFLICT DO NOTHING;

-- name: staged_results
SELECT item_no, message_id, existed, conflict_with FROM message_staging ORDER BY item_no;

-- name: get_message
SELECT m.*,
       coalesce((SELECT array_agg(p.provider_message_id ORDER BY p.part_no)
                 FROM message_parts p WHERE p.message_id = m.id), '{}') AS provider_message_ids
FROM messages m
WHERE m.id = $1;

-- name: find_message_ids
SELECT DISTINCT m.id
FROM messages m
LEFT JOIN message_parts p ON p.message_id = m.id
WHERE ($1::text IS NULL OR m.provider_key = $1)
  AND ($2::text IS NULL OR p.provider_message_id = $2)
  AND ($3::text IS NULL OR m.client_ref = $3)
ORDER BY m.id
LIMIT $4;
