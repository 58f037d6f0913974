-- The stored requests in monthly partitions (by received_at), so that months past the retention
-- window can be archived and dropped whole (`dlrecon retention`) instead of deleted row by row.
-- `dlrecon_inbox_partitions(since, ahead)` creates the partitions from the month of `since` to
-- `ahead` months after the current one; `migrate` (and so `serve`, which migrates on start)
-- and the processor (once a day) call it (`ensure_inbox_partitions`). A row outside every month (a clock far off) lands in the default
-- partition, which retention never drops.
--
-- Events are not partitioned: they are kept forever, and their dedupe key must stay unique
-- across all of them (a unique index of a partitioned table must contain the partition key).

DROP VIEW inbox;
ALTER TABLE inbox_requests RENAME TO inbox_requests_0011;
ALTER INDEX inbox_requests_pkey RENAME TO inbox_requests_0011_pkey;
ALTER INDEX inbox_requests_provider_received RENAME TO inbox_requests_0011_provider_received;

CREATE SEQUENCE inbox_requests_id_seq AS bigint;
SELECT setval('inbox_requests_id_seq', greatest(coalesce(max(id), 0), 1), max(id) IS NOT NULL)
FROM inbox_requests_0011;

CREATE TABLE inbox_requests (
    id bigint NOT NULL DEFAULT nextval('inbox_requests_id_seq'),
    provider_key text NOT NULL,
    method text NOT NULL,
    path text NOT NULL,
    query text NOT NULL DEFAULT '',
    headers jsonb NOT NULL,
    body bytea NOT NULL,
    remote_addr text,
    verification text NOT NULL CHECK (verification IN ('verified', 'unverified', 'failed')),
    verification_reason text,
    received_at timestamptz NOT NULL,
    source text NOT NULL DEFAULT 'callback' CHECK (source IN ('callback', 'poll')),
    poll_request jsonb,
    response_status int,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE inbox_requests_id_seq OWNED BY inbox_requests.id;
-- on-call's callbacks per key in a window (provider health)
CREATE INDEX inbox_requests_provider_received ON inbox_requests (provider_key, received_at);
CREATE TABLE inbox_requests_default PARTITION OF inbox_requests DEFAULT;

-- The partition of the month (in UTC) of `at`, created when missing; its name (NULL when rows
-- of that month wait in the default partition: creating it would fail).
CREATE FUNCTION dlrecon_inbox_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    first timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    lower timestamptz := first AT TIME ZONE 'UTC';
    upper timestamptz := (first + interval '1 month') AT TIME ZONE 'UTC';
    name text := 'inbox_requests_' || to_char(first, 'YYYYMM');
BEGIN
    -- two processes creating the same month wait for each other (the second finds it)
    PERFORM pg_advisory_xact_lock(hashtext('dlrecon_inbox_partition'));
    IF to_regclass(name) IS NULL THEN
        IF EXISTS (SELECT 1 FROM inbox_requests_default
                   WHERE received_at >= lower AND received_at < upper) THEN
            RAISE WARNING 'inbox: rows of % are in the default partition; % not created',
                to_char(first, 'YYYY-MM'), name;
            RETURN NULL;
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF inbox_requests FOR VALUES FROM (%L) TO (%L)',
                       name, lower, upper);
    END IF;
    RETURN name;
END
$$;

-- The partitions of every month (UTC) from `since` to `ahead` months after now; their names.
CREATE FUNCTION dlrecon_inbox_partitions(since timestamptz, ahead int) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT dlrecon_inbox_partition(m AT TIME ZONE 'UTC')
    FROM generate_series(
        date_trunc('month', least(since, now()) AT TIME ZONE 'UTC'),
        (now() AT TIME ZONE 'UTC') + make_interval(months => ahead),
        interval '1 month') AS m
$$;

-- The months of the rows there are, and three ahead
SELECT dlrecon_inbox_partitions(coalesce((SELECT min(received_at) FROM inbox_requests_0011),
                                         now()), 3);

INSERT INTO inbox_requests (id, provider_key, method, path, query, headers, body, remote_addr,
                            verification, verification_reason, received_at, source,
                            poll_request, response_status)
SELECT id, provider_key, method, path, query, headers, body, remote_addr, verification,
       verification_reason, received_at, source, poll_request, response_status
FROM inbox_requests_0011;
DROP TABLE inbox_requests_0011;

-- The inbox as it reads, as in 0010 (a held row, never processed, has no event count).
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

-- The inbox's monthly partitions and their months (the default partition is not one).
CREATE FUNCTION dlrecon_inbox_months()
RETURNS TABLE (name text, lower timestamptz, upper timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text, b[1]::timestamptz, b[2]::timestamptz
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                    'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS b
    WHERE i.inhparent = 'inbox_requests'::regclass AND b IS NOT NULL
    ORDER BY 2
$$;

-- Detach and drop one month of the inbox (`dlrecon retention`, once it is archived with
-- `archived` rows): refused when the month holds another number of rows, or a row still
-- pending, held or quarantined. The rows dropped.
CREATE FUNCTION dlrecon_drop_inbox_month(month_name text, archived bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    m record;
    n bigint;
BEGIN
    SELECT * INTO m FROM dlrecon_inbox_months() AS x WHERE x.name = month_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no inbox month %', month_name USING ERRCODE = 'undefined_table';
    END IF;
    -- no row of the month can be written while it is counted and dropped
    EXECUTE format('LOCK TABLE %I IN SHARE MODE', m.name);
    EXECUTE format('SELECT count(*) FROM %I', m.name) INTO n;
    IF n <> archived THEN
        RAISE EXCEPTION 'inbox month % has % rows, % archived', m.name, n, archived
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- from here on nothing reads or writes the inbox until this transaction ends (a few ms):
    -- a release of rows of this month waits, then finds them gone
    LOCK TABLE ONLY inbox_requests IN ACCESS EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM inbox_queue WHERE received_at >= m.lower AND received_at < m.upper)
       OR EXISTS (SELECT 1 FROM inbox_exceptions
                  WHERE received_at >= m.lower AND received_at < m.upper) THEN
        RAISE EXCEPTION 'inbox month % still has rows pending, held or quarantined', m.name
            USING ERRCODE = 'object_in_use';
    END IF;
    EXECUTE format('ALTER TABLE inbox_requests DETACH PARTITION %I', m.name);
    EXECUTE format('DROP TABLE %I', m.name);
    RETURN n;
END
$$;
