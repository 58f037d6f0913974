-- name: insert_import_events
-- The submit events of an imported chunk, in file order (item, then event). Plain rows get
-- the default outcome of their adapter, built here as `registry.submit_events` and
-- `events.insert` would write it: one "registered" event per provider id (part = its place),
-- or one without id nor part, received at submitted_at (else the chunk's time, status_at).
-- The events of the other rows come as arrays, their dedupe keys made in Python.
INSERT INTO events (provider_key, source, inbox_id, dedupe_key, provider_message_id,
                    raw_message_id, client_ref, raw_status, status, error_code, error_class,
                    retryable, description, provider_time, received_at, cost, currency,
                    channel, recipient, details, message_id, part_no, aliases, matched_at)
SELECT e.provider_key, 'submit', NULL, e.dedupe_key, e.provider_message_id,
       e.raw_message_id, e.client_ref, e.raw_status, e.status, e.error_code, e.error_class,
       e.retryable, e.description, e.provider_time, e.received_at, e.cost, e.currency,
       e.channel, e.recipient, e.details, e.message_id, e.part_no, e.aliases, now()
FROM (
    SELECT s.item_no, u.ord::int AS seq, s.provider_key,
           'submit|msg:' || s.message_id || '|part:'
               || coalesce((u.ord - 1)::text, '') || '|registered||' AS dedupe_key,
           u.pid AS provider_message_id, u.pid AS raw_message_id, s.client_ref,
           'registered' AS raw_status, 'submitted' AS status, NULL::text AS error_code,
           NULL::text AS error_class, NULL::boolean AS retryable, NULL::text AS description,
           NULL::timestamptz AS provider_time, s.status_at AS received_at,
           NULL::numeric AS cost, NULL::text AS currency, s.channel, NULL::text AS recipient,
           '{}'::jsonb AS details, s.message_id, (u.ord - 1)::int AS part_no,
           '{}'::text[] AS aliases
    FROM message_staging s
    CROSS JOIN LATERAL (
        SELECT pid, ord FROM unnest(s.provider_message_ids) WITH ORDINALITY AS ids(pid, ord)
        UNION ALL
        SELECT NULL, NULL WHERE cardinality(s.provider_message_ids) = 0
    ) u
    WHERE s.plain AND s.message_id IS NOT NULL
    UNION ALL
    SELECT a.item_no, a.seq, a.provider_key, a.dedupe_key, a.provider_message_id,
           a.raw_message_id, a.client_ref, a.raw_status, a.status, a.error_code, a.error_class,
           a.retryable, a.description, a.provider_time, a.received_at, a.cost, a.currency,
           a.channel, a.recipient, a.details, a.message_id, a.part_no,
           -- aliases travel as one '\x1f'-separated string: unnest cannot take ragged arrays
           CASE WHEN a.aliases = '' THEN '{}'::text[] ELSE string_to_array(a.aliases, E'\x1f') END
    FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[],
                $13::text[], $14::timestamptz[], $15::timestamptz[], $16::numeric[],
                $17::text[], $18::text[], $19::text[], $20::jsonb[], $21::bigint[], $22::int[],
                $23::text[])
         AS a(item_no, seq, provider_key, dedupe_key, provider_message_id, raw_message_id,
              client_ref, raw_status, status, error_code, error_class, retryable, description,
              provider_time, received_at, cost, currency, channel, recipient, details,
              message_id, part_no, aliases)
) e
ORDER BY e.item_no, e.seq;  -- duplicates dropped by events' key trigger (migration 0013)

-- name: staged_prepared_messages
-- The message of each staged row that is not plain (its events are made in Python).
SELECT item_no, message_id FROM message_staging WHERE NOT plain AND message_id IS NOT NULL;

-- name: staged_orphans
-- Orphan events that the chunk's messages can claim (by client ref or provider id): the
-- `orphan_events_for_messages` of events.sql for the staged messages. Written as semi-joins
-- on the staging table so that the planner can start from the orphans (few, indexed) rather
-- than probe for every staged message.
SELECT e.id
FROM events e
JOIN messages m ON m.provider_key = e.provider_key AND m.client_ref = e.client_ref
WHERE e.message_id IS NULL
  AND m.id IN (SELECT message_id FROM message_staging)
UNION
SELECT e.id
FROM events e
JOIN message_parts p
  ON p.provider_key = e.provider_key AND p.provider_message_id = e.provider_message_id
WHERE e.message_id IS NULL
  AND p.message_id IN (SELECT message_id FROM message_staging);

-- name: staged_to_refresh
-- Messages whose status must be derived again: all but those a plain row just created,
-- whose status (submitted, at status_at) was written with them.
SELECT DISTINCT message_id
FROM message_staging
WHERE message_id IS NOT NULL AND (existed OR NOT plain);

-- name: staged_counts
SELECT count(*) FILTER (WHERE message_id IS NOT NULL AND NOT existed) AS created,
       count(*) FILTER (WHERE message_id IS NOT NULL AND existed) AS existing
FROM message_staging;

-- name: staged_conflicts
SELECT item_no, conflict_with FROM message_staging WHERE message_id IS NULL ORDER BY item_no;
