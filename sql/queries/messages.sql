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
    same_as int  -- an earlier item of the batch with one of its provider ids: that message
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
      CROSS JOIN LATERAL unnest(st.provider_message_ids) AS u(pid)
      JOIN message_parts p ON p.provider_key = st.provider_key AND p.provider_message_id = u.pid
      JOIN messages m ON m.id = p.message_id
      WHERE st.message_id IS NULL
      ORDER BY st.item_no) found
WHERE s.item_no = found.item_no;

-- name: link_staged_to_earlier_items
-- An unresolved item sharing a provider id with an earlier item of the same batch is that
-- item's message (see resolve_staged_by_earlier_item), as it would be had the earlier item
-- been registered first. Hash aggregates over the ids: nothing to do when none is shared.
WITH ids AS (
    SELECT s.item_no, s.provider_key, u.pid
    FROM message_staging s, unnest(s.provider_message_ids) AS u(pid)
    WHERE s.conflict_with IS NULL
),
shared AS (
    SELECT provider_key, pid, min(item_no) AS first
    FROM ids
    GROUP BY provider_key, pid
    HAVING count(*) > 1
)
UPDATE message_staging s
SET same_as = found.first
FROM (SELECT i.item_no, min(sh.first) AS first
      FROM ids i
      JOIN shared sh USING (provider_key, pid)
      WHERE sh.first < i.item_no
      GROUP BY i.item_no) found
WHERE s.item_no = found.item_no AND s.message_id IS NULL;

-- name: collapse_staged_links
-- A link to an item that is itself linked goes to that item's own target.
UPDATE message_staging s
SET same_as = t.same_as
FROM message_staging t
WHERE s.same_as = t.item_no AND t.same_as IS NOT NULL;

-- name: resolve_staged_by_earlier_item
-- Linked items take their earlier item's message, unless both carry client refs that differ:
-- then a conflict, as resolve_staged_by_provider_id decides for registered messages.
UPDATE message_staging b
SET message_id = CASE WHEN x.clash THEN NULL ELSE x.message_id END,
    conflict_with = CASE WHEN x.clash THEN x.message_id END
FROM (SELECT bb.item_no, m.id AS message_id,
             (bb.client_ref IS NOT NULL AND m.client_ref IS NOT NULL
              AND bb.client_ref <> m.client_ref) AS clash
      FROM message_staging bb
      JOIN message_staging a ON a.item_no = bb.same_as
      JOIN messages m ON m.id = a.message_id
      WHERE bb.message_id IS NULL AND bb.conflict_with IS NULL) x
WHERE b.item_no = x.item_no;

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

-- name: insert_staged_parts
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT s.provider_key, u.pid, s.message_id, (u.ord - 1)::int
FROM message_staging s, unnest(s.provider_message_ids) WITH ORDINALITY AS u(pid, ord)
WHERE s.message_id IS NOT NULL
  -- a message inserted by this batch has no parts yet: no lookup for its items
  AND (NOT s.existed
       OR NOT EXISTS (SELECT 1 FROM message_parts p
                      WHERE p.message_id = s.message_id AND p.part_no = (u.ord - 1)::int))
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
