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
    -- imports only: a plain row's submit events are the default ones ("registered"), written
    -- in SQL (`insert_import_events`), and status_at is their time: the status_at a refresh
    -- derives for a message such a row creates (its status is the default, submitted)
    plain boolean NOT NULL DEFAULT false,
    status_at timestamptz,
    message_id bigint,
    conflict_with bigint,  -- a provider id already belongs to a message with another client ref
    existed boolean NOT NULL DEFAULT true,
    -- in-batch links, worked out in Python (`messages.link`) as if the items were registered
    -- one after the other: the earlier item whose message this item is, or whose message it
    -- conflicts with (both NULL for an item that is its own new message), and the part
    -- numbers a same_as item adds to that message (its ids at those places)
    same_as int,
    clash_with int,
    same_as_parts int[]
) ON COMMIT DROP;

-- name: resolve_staged_by_client_ref
-- One index lookup per unresolved item (LIMIT 1: the index is unique), whatever the size of
-- messages: a join would let the planner scan all of them for a big batch.
UPDATE message_staging s
SET message_id = found.id
FROM (SELECT st.item_no, m.id
      FROM message_staging st
      CROSS JOIN LATERAL (SELECT m.id FROM messages m
                          WHERE m.provider_key = st.provider_key AND m.client_ref = st.client_ref
                          LIMIT 1) m
      WHERE st.message_id IS NULL AND st.client_ref IS NOT NULL) found
WHERE s.item_no = found.item_no;

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
      CROSS JOIN LATERAL unnest(st.provider_message_ids) WITH ORDINALITY AS u(pid, ord)
      JOIN message_parts p ON p.provider_key = st.provider_key AND p.provider_message_id = u.pid
      JOIN messages m ON m.id = p.message_id
      WHERE st.message_id IS NULL
      ORDER BY st.item_no, u.ord) found  -- the first of its ids that is registered
WHERE s.item_no = found.item_no;

-- name: analyze_message_staging
-- A fresh temp table has no statistics; without them the planner guesses badly.
ANALYZE message_staging;

-- name: insert_staged_messages
-- New messages (the first item of in-batch duplicates only) get ids up front, are inserted,
-- and their items resolve to them; an item that lost a race for its client ref is resolved
-- by the next resolve_staged_by_client_ref.
WITH firsts AS MATERIALIZED (
    -- the sequence is looked up once (a sub-select), not for every item
    SELECT item_no, nextval((SELECT pg_get_serial_sequence('messages', 'id'))::regclass) AS new_id
    FROM (SELECT DISTINCT ON (provider_key, coalesce(client_ref, '#' || item_no)) item_no
          FROM message_staging
          WHERE message_id IS NULL AND conflict_with IS NULL AND same_as IS NULL
            AND clash_with IS NULL
          ORDER BY provider_key, coalesce(client_ref, '#' || item_no), item_no) first
),
inserted AS (
    INSERT INTO messages (id, provider_key, channel, client_ref, destination, submitted_at,
                          body_text, segments, value, cost, currency, submit_response,
                          submit_http_status, status_at)
    OVERRIDING SYSTEM VALUE
    SELECT f.new_id, s.provider_key, s.channel, s.client_ref, s.destination, s.submitted_at,
           s.body_text, s.segments, s.value, s.cost, s.currency, s.submit_response::jsonb,
           s.submit_http_status, s.status_at
    FROM firsts f
    JOIN message_staging s USING (item_no)
    ORDER BY f.new_id
    ON CONFLICT (provider_key, client_ref) WHERE client_ref IS NOT NULL DO NOTHING
    RETURNING id
)
UPDATE message_staging s
SET message_id = f.new_id, existed = false
FROM firsts f
JOIN inserted ON inserted.id = f.new_id
WHERE s.item_no = f.item_no;

-- name: resolve_staged_roots_by_client_ref
-- After the insert: an item that lost a race for its client ref resolves to the winner. Items
-- linked to an earlier item of the batch are left to resolve_staged_by_earlier_item.
UPDATE message_staging s
SET message_id = found.id
FROM (SELECT st.item_no, m.id
      FROM message_staging st
      CROSS JOIN LATERAL (SELECT m.id FROM messages m
                          WHERE m.provider_key = st.provider_key AND m.client_ref = st.client_ref
                          LIMIT 1) m
      WHERE st.message_id IS NULL AND st.conflict_with IS NULL AND st.client_ref IS NOT NULL
        AND st.same_as IS NULL AND st.clash_with IS NULL) found
WHERE s.item_no = found.item_no;

-- name: resolve_staged_by_earlier_item
-- Items still unresolved that are linked to an earlier item: its message, or a conflict with
-- it (should that item be a conflict itself, the message it conflicts with).
UPDATE message_staging s
SET message_id = CASE WHEN s.same_as IS NOT NULL THEN r.message_id END,
    conflict_with = CASE WHEN s.clash_with IS NOT NULL OR r.message_id IS NULL
                         THEN coalesce(r.message_id, r.conflict_with) END
FROM message_staging r
WHERE r.item_no = coalesce(s.same_as, s.clash_with)
  AND s.message_id IS NULL AND s.conflict_with IS NULL;

-- name: insert_staged_parts
-- In item order, so that of two items of the batch with one provider id, the earlier gets it.
-- An item linked to an earlier one adds the parts `messages.link` found it adds.
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT s.provider_key, u.pid, s.message_id, (u.ord - 1)::int
FROM message_staging s, unnest(s.provider_message_ids) WITH ORDINALITY AS u(pid, ord)
WHERE s.message_id IS NOT NULL
  -- a message inserted by this batch has no parts yet: no lookup for its items
  AND (NOT s.existed
       OR NOT EXISTS (SELECT 1 FROM message_parts p
                      WHERE p.message_id = s.message_id AND p.part_no = (u.ord - 1)::int))
  AND (s.same_as IS NULL OR (u.ord - 1)::int = ANY (s.same_as_parts))
ORDER BY s.item_no, u.ord
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
