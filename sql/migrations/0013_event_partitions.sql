-- Events in monthly partitions (by received_at, always set and never changed by the service),
-- like the inbox (0012). Events are kept forever: retention never drops an event partition;
-- the partitions keep each table, index and vacuum a month in size.
--
-- The dedupe key must stay unique across every event, whatever its month, and a unique index
-- of a partitioned table must contain the partition key: the keys move to `event_keys`
-- (unpartitioned, primary key (provider_key, dedupe_key), with the event's id and month).
-- A trigger on events inserts each new event's key first (ON CONFLICT DO NOTHING) and stores
-- the event only when its key was new, in the same statement: every writer (the processor,
-- imports, registration, polls, tools) is deduplicated as before, and `INSERT ... RETURNING`
-- still returns the new events only. Deleting an event frees its key; changing its key
-- moves it; a row moved to another month (an UPDATE of received_at) keeps its key.
--
-- The primary key becomes (id, received_at); a look-up by id alone reads each partition's
-- primary-key index (a few dozen months: fine). No foreign key references events (0011).
-- `dlrecon_inbox_partitions` (migrate, serve's start, the processor once a day) now creates
-- the events' month with the inbox's. An event outside every month (a clock far off, an
-- import of old history after this migration) lands in the default partition.

DROP VIEW inbox;
ALTER TABLE events RENAME TO events_0013;
-- the indexes go with the old table (their names are taken again below); the copy is faster
ALTER TABLE events_0013 DROP CONSTRAINT events_pkey;
ALTER TABLE events_0013 DROP CONSTRAINT events_provider_key_dedupe_key_key;
DROP INDEX events_message, events_orphan_id, events_orphan_ref, events_inbox, events_seen_at,
           events_downstream, events_orphans_received;
ALTER TABLE events_0013 RENAME CONSTRAINT events_source_check TO events_0013_source_check;
ALTER TABLE events_0013 RENAME CONSTRAINT events_status_check TO events_0013_status_check;
ALTER TABLE events_0013 ALTER COLUMN id DROP IDENTITY;  -- and its sequence, events_id_seq

CREATE SEQUENCE events_id_seq AS bigint;
SELECT setval('events_id_seq', greatest(coalesce(max(id), 0), 1), max(id) IS NOT NULL)
FROM events_0013;

-- the columns in the order they had
CREATE TABLE events (
    id bigint NOT NULL DEFAULT nextval('events_id_seq'),
    provider_key text NOT NULL,
    source text NOT NULL CONSTRAINT events_source_check
        CHECK (source IN ('submit', 'callback', 'poll')),
    inbox_id bigint,
    dedupe_key text NOT NULL,
    provider_message_id text,
    raw_message_id text,
    client_ref text,
    raw_status text NOT NULL,
    status text NOT NULL CONSTRAINT events_status_check
        CHECK (dlrecon_status_rank(status) IS NOT NULL),
    error_code text,
    error_class text,
    retryable boolean,
    description text,
    provider_time timestamptz,
    received_at timestamptz NOT NULL,
    cost numeric,
    currency text,
    channel text,
    recipient text,
    details jsonb NOT NULL DEFAULT '{}',
    message_id bigint,
    part_no int,
    matched_at timestamptz,
    aliases text[] NOT NULL DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE events_id_seq OWNED BY events.id;
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- The dedupe key of every event (invariant 5: a repeated report is one event), whatever its
-- month; `received_at` is the event's partition.
CREATE TABLE event_keys (
    provider_key text NOT NULL,
    dedupe_key text NOT NULL,
    event_id bigint NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider_key, dedupe_key)
);

-- The events' partition of the month (in UTC) of `at`, created when missing; its name (NULL
-- when events of that month are in the default partition: creating it would fail).
CREATE FUNCTION dlrecon_event_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    first timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    lower timestamptz := first AT TIME ZONE 'UTC';
    upper timestamptz := (first + interval '1 month') AT TIME ZONE 'UTC';
    name text := 'events_' || to_char(first, 'YYYYMM');
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('dlrecon_event_partition'));
    IF to_regclass(name) IS NULL THEN
        IF EXISTS (SELECT 1 FROM events_default
                   WHERE received_at >= lower AND received_at < upper) THEN
            RAISE WARNING 'events: rows of % are in the default partition; % not created',
                to_char(first, 'YYYY-MM'), name;
            RETURN NULL;
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                       name, lower, upper);
    END IF;
    RETURN name;
END
$$;

-- The inbox's partitions of every month (UTC) from `since` to `ahead` months after now, and
-- the events' of the same months; the inbox's names (as in 0012).
CREATE OR REPLACE FUNCTION dlrecon_inbox_partitions(since timestamptz, ahead int)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    m timestamp;
BEGIN
    FOR m IN SELECT generate_series(
                 date_trunc('month', least(since, now()) AT TIME ZONE 'UTC'),
                 (now() AT TIME ZONE 'UTC') + make_interval(months => ahead),
                 interval '1 month') LOOP
        PERFORM dlrecon_event_partition(m AT TIME ZONE 'UTC');
        RETURN NEXT dlrecon_inbox_partition(m AT TIME ZONE 'UTC');
    END LOOP;
END
$$;

-- The months there are events of (only those: an import of old history is sparse), and this
-- month and three ahead.
SELECT dlrecon_event_partition(m)
FROM (SELECT DISTINCT date_trunc('month', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m
      FROM events_0013
      UNION
      SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => a))
             AT TIME ZONE 'UTC'
      FROM generate_series(0, 3) AS a) months
ORDER BY m;

-- copied before the triggers exist: the keys of the old table are unique already
INSERT INTO events (id, provider_key, source, inbox_id, dedupe_key, provider_message_id,
                    raw_message_id, client_ref, raw_status, status, error_code, error_class,
                    retryable, description, provider_time, received_at, cost, currency,
                    channel, recipient, details, message_id, part_no, matched_at, aliases,
                    created_at)
SELECT id, provider_key, source, inbox_id, dedupe_key, provider_message_id, raw_message_id,
       client_ref, raw_status, status, error_code, error_class, retryable, description,
       provider_time, received_at, cost, currency, channel, recipient, details, message_id,
       part_no, matched_at, aliases, created_at
FROM events_0013;
INSERT INTO event_keys (provider_key, dedupe_key, event_id, received_at)
SELECT provider_key, dedupe_key, id, received_at FROM events_0013;
DROP TABLE events_0013;

-- the indexes of 0001-0007, on every partition
CREATE INDEX events_message ON events (message_id, part_no);
CREATE INDEX events_orphan_id ON events (provider_key, provider_message_id) WHERE message_id IS NULL;
CREATE INDEX events_orphan_ref ON events (provider_key, client_ref) WHERE message_id IS NULL;
CREATE INDEX events_inbox ON events (inbox_id);
CREATE INDEX events_seen_at ON events
    USING brin (dlrecon_event_seen_at(received_at, created_at, matched_at));
CREATE INDEX events_downstream ON events (message_id) WHERE details ? 'downstream';
CREATE INDEX events_orphans_received ON events (provider_key, received_at)
    WHERE message_id IS NULL;

-- A new event's key first: the event is stored only when the key is new (a duplicate, even
-- of an event of another month, is skipped: no row, nothing returned). A row moved to
-- another partition by an UPDATE of received_at is inserted there again: its own key is
-- found and follows it.
CREATE FUNCTION dlrecon_event_key_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_keys AS k (provider_key, dedupe_key, event_id, received_at)
    VALUES (NEW.provider_key, NEW.dedupe_key, NEW.id, NEW.received_at)
    ON CONFLICT (provider_key, dedupe_key) DO UPDATE SET received_at = EXCLUDED.received_at
    WHERE k.event_id = EXCLUDED.event_id;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_key_insert BEFORE INSERT ON events
FOR EACH ROW EXECUTE FUNCTION dlrecon_event_key_insert();

-- A changed key (a migration such as 0006's) moves in event_keys with its event, and fails
-- as the unique key did when it is another event's.
CREATE FUNCTION dlrecon_event_key_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_keys
    SET provider_key = NEW.provider_key, dedupe_key = NEW.dedupe_key,
        received_at = NEW.received_at
    WHERE provider_key = OLD.provider_key AND dedupe_key = OLD.dedupe_key
      AND event_id = OLD.id;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_key_update BEFORE UPDATE OF provider_key, dedupe_key ON events
FOR EACH ROW
WHEN (OLD.provider_key IS DISTINCT FROM NEW.provider_key
      OR OLD.dedupe_key IS DISTINCT FROM NEW.dedupe_key)
EXECUTE FUNCTION dlrecon_event_key_update();

-- A deleted event frees its key (not a row moved to another month: it is still there).
CREATE FUNCTION dlrecon_event_key_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_keys
    WHERE provider_key = OLD.provider_key AND dedupe_key = OLD.dedupe_key
      AND event_id = OLD.id
      AND NOT EXISTS (SELECT 1 FROM events WHERE id = OLD.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER events_key_delete AFTER DELETE ON events
FOR EACH ROW EXECUTE FUNCTION dlrecon_event_key_delete();

-- The inbox as it reads, as in 0012.
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
       CASE WHEN x.state = 'quarantined' THEN 0
            WHEN x.id IS NULL AND q.id IS NULL
                THEN (SELECT count(*)::int FROM events e WHERE e.inbox_id = r.id)
       END AS event_count,
       r.source, r.poll_request, r.response_status
FROM inbox_requests r
LEFT JOIN inbox_queue q ON q.id = r.id
LEFT JOIN inbox_exceptions x ON x.id = r.id;

CREATE TRIGGER inbox_insert INSTEAD OF INSERT ON inbox
FOR EACH ROW EXECUTE FUNCTION dlrecon_inbox_insert();
