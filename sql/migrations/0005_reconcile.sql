-- Reconciliation: rate cards, provider invoices, runs, findings with a lifecycle, and the
-- functions that say what a message looked like at a cut-off (`as_of`) and which are stuck.

-- The provider took the message and it is on its way (neither refused nor known to be final).
CREATE FUNCTION dlrecon_status_accepted(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('accepted', 'sent')
$$;

-- The provider does not know the outcome (worth polling; a downstream failure when passed through).
CREATE FUNCTION dlrecon_status_uncertain(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status = 'unknown'
$$;

-- Two amounts of one currency differ beyond a tolerance: by more than `absolute` and by more
-- than `relative` times the larger of the two. NULL amounts never differ.
CREATE FUNCTION dlrecon_money_differs(a numeric, b numeric, absolute numeric, relative numeric)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL OR b IS NULL OR a = b THEN false  -- the usual case, cheaply
                ELSE abs(a - b) > absolute AND abs(a - b) > relative * greatest(abs(a), abs(b))
           END
$$;

-- When each event was written (processing a callback can lag its receipt; a replay rewrites
-- nothing). NULL for events written before this migration: they count as always there.
ALTER TABLE events ADD COLUMN created_at timestamptz;
ALTER TABLE events ALTER COLUMN created_at SET DEFAULT now();

-- When an event became visible for its message: received, written and (if matched) matched.
-- A reconciliation with cut-off T sees an event for its message when this is <= T.
CREATE FUNCTION dlrecon_event_seen_at(received_at timestamptz, created_at timestamptz,
                                      matched_at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(received_at, created_at, matched_at)
$$;

-- Finds what changed after a cut-off: events are written (and matched) in about this order,
-- so a BRIN index stays small and precise, and costs the ingest path next to nothing.
CREATE INDEX events_seen_at ON events
    USING brin (dlrecon_event_seen_at(received_at, created_at, matched_at));
-- Pass-through statuses (Velip status_code 0 with an upstream status): few rows.
CREATE INDEX events_downstream ON events (message_id) WHERE details ? 'downstream';
-- (Messages registered without a submission time are windowed by their registration time,
-- over the partial index `messages_unsubmitted` of migration 0006.)

-- Files imported: rate cards and provider invoices (an invoice is identified by provider key
-- and invoice id, the file's SHA-256 unless given).
CREATE TABLE import_files (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('ratecard', 'invoice')),
    provider_key text,
    invoice_id text,
    file_name text NOT NULL,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- when its lines became visible to reconciliation (set just before the import commits)
    imported_at timestamptz NOT NULL,
    lines_read int NOT NULL,
    lines_imported int NOT NULL,
    lines_refused int NOT NULL,
    lines_present int NOT NULL,
    CHECK ((kind = 'invoice') = (provider_key IS NOT NULL AND invoice_id IS NOT NULL))
);
CREATE UNIQUE INDEX import_files_invoice ON import_files (provider_key, invoice_id)
    WHERE kind = 'invoice';

-- Every refused line of an import, with its reason (the good lines are kept).
CREATE TABLE import_refusals (
    file_id bigint NOT NULL REFERENCES import_files (id),
    line_no int NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (file_id, line_no)
);

-- ---- reading imported files, set-based -------------------------------------------------------

-- A timestamp read with a date pattern (`reconcile/dates.py`: the regular expression and the
-- group of each of year, month, day, hour, minute, second, fraction, offset, two-digit year).
-- Strict: an impossible date (31 April, hour 24) is not ok. A date without offset is in `zone`.
-- ISO 8601 (groups 1..8) takes a faster path: one match without captures, then a cast.
CREATE FUNCTION dlrecon_parse_timestamp(raw text, pattern text, groups int[], zone text)
RETURNS TABLE (ok boolean, value timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE WHEN k.iso THEN i.ok ELSE v.valid END,
       CASE WHEN k.iso THEN i.value
            WHEN v.valid AND c.tz IS NULL
                THEN make_timestamp(c.y, c.mo, c.d, c.h, c.mi, c.sec) AT TIME ZONE zone
            WHEN v.valid
                THEN (make_timestamp(c.y, c.mo, c.d, c.h, c.mi, c.sec)
                      - make_interval(mins => c.tz)) AT TIME ZONE 'UTC'
       END
-- OFFSET 0: each step is computed once per row (pulled up, the match would be re-run for
-- every reference to it)
FROM (SELECT groups = '{1,2,3,4,5,6,7,8,0}'::int[] AS iso, btrim(raw) AS t OFFSET 0) k
CROSS JOIN LATERAL (
    SELECT CASE WHEN NOT k.iso THEN regexp_match(k.t, pattern) END AS g OFFSET 0
) m
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN NOT k.iso THEN NULL
               WHEN k.t !~ ('^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])'
                            || '(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,6})?)?'
                            || ' *(?:Z|z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?$') THEN false
               WHEN substr(k.t, 1, 4)::int = 0 THEN false
               WHEN substr(k.t, 9, 2)::int <= 28 THEN true
               ELSE substr(k.t, 9, 2)::int
                        <= extract(day FROM make_date(substr(k.t, 1, 4)::int,
                                                      substr(k.t, 6, 2)::int, 1)
                                            + interval '1 month - 1 day')
           END AS ok
    OFFSET 0
) iso_ok
CROSS JOIN LATERAL (
    SELECT iso_ok.ok,
           CASE WHEN iso_ok.ok IS NOT TRUE THEN NULL
                WHEN k.t ~ '[Zz]$|:\d\d(?:[.,]\d+)? *[+-]\d\d(?::?\d\d)?$|T\d\d:\d\d *[+-]\d\d(?::?\d\d)?$'
                    THEN replace(k.t, ',', '.')::timestamptz
                ELSE replace(k.t, ',', '.')::timestamp AT TIME ZONE zone
           END AS value
    OFFSET 0
) i
CROSS JOIN LATERAL (
    SELECT CASE WHEN groups[9] > 0 THEN 2000 + (m.g[groups[9]])::int
                ELSE (m.g[groups[1]])::int END AS y,
           (m.g[groups[2]])::int AS mo,
           (m.g[groups[3]])::int AS d,
           coalesce((m.g[groups[4]])::int, 0) AS h,
           coalesce((m.g[groups[5]])::int, 0) AS mi,
           coalesce((m.g[groups[6]])::int, 0)
               + coalesce(('0.' || m.g[groups[7]])::float8, 0) AS sec,
           CASE WHEN m.g[groups[8]] IS NULL THEN NULL
                WHEN upper(m.g[groups[8]]) = 'Z' THEN 0
                ELSE CASE WHEN left(m.g[groups[8]], 1) = '-' THEN -1 ELSE 1 END
                     * (substr(m.g[groups[8]], 2, 2)::int * 60
                        + coalesce(nullif(substr(replace(m.g[groups[8]], ':', ''), 4, 2), '')::int,
                                   0))
           END AS tz,
           nullif(substr(replace(m.g[groups[8]], ':', ''), 4, 2), '')::int AS tz_minutes
    OFFSET 0
) c
CROSS JOIN LATERAL (
    SELECT coalesce(m.g IS NOT NULL AND c.y BETWEEN 1 AND 9999 AND c.mo BETWEEN 1 AND 12
                    AND c.d >= 1
                    AND CASE WHEN c.y BETWEEN 1 AND 9999 AND c.mo BETWEEN 1 AND 12
                             THEN c.d <= extract(day FROM make_date(c.y, c.mo, 1)
                                                          + interval '1 month - 1 day')
                             ELSE false END
                    AND c.h < 24 AND c.mi < 60 AND c.sec < 60
                    AND (c.tz IS NULL OR (abs(c.tz) <= 14 * 60 AND coalesce(c.tz_minutes, 0) < 60)),
                    false) AS valid
) v
$$;

-- A decimal number written with `separator` ('.' or ','): digits, optionally a sign and a
-- fraction; no thousands separators, no exponent.
CREATE FUNCTION dlrecon_parse_decimal(raw text, separator text)
RETURNS TABLE (ok boolean, value numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT coalesce(x.t ~ x.pattern, false),
       CASE WHEN x.t ~ x.pattern THEN replace(x.t, separator, '.')::numeric END
FROM (SELECT btrim(raw) AS t,
             '^[+-]?[0-9]{1,20}(' || CASE separator WHEN ',' THEN ',' ELSE '\.' END
                 || '[0-9]{1,12})?$' AS pattern
      OFFSET 0) x
$$;

-- Prices per segment by destination prefix, valid over [valid_from, valid_to). Ranges of one
-- provider key, channel and prefix never overlap: the import checks it under a lock (the only
-- writer), naming both lines.
CREATE TABLE rate_cards (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_key text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'voice')),
    prefix text NOT NULL CHECK (prefix ~ '^[0-9]{1,15}$'),
    prefix_given text NOT NULL,
    price_per_segment numeric NOT NULL CHECK (price_per_segment >= 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    valid_from timestamptz NOT NULL,
    valid_to timestamptz CHECK (valid_to > valid_from),
    file_id bigint NOT NULL REFERENCES import_files (id),
    line_no int NOT NULL
);
CREATE INDEX rate_cards_lookup ON rate_cards (provider_key, channel, prefix, valid_from);

-- Lines of provider invoices and CDR exports.
CREATE TABLE invoice_lines (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id bigint NOT NULL REFERENCES import_files (id),
    line_no int NOT NULL,
    provider_key text NOT NULL,
    provider_message_id text,  -- canonical form (the provider's adapter), for matching
    raw_message_id text,       -- as in the file
    client_ref text,
    billed_at timestamptz NOT NULL,
    destination text,
    segments int CHECK (segments > 0),
    amount numeric NOT NULL CHECK (amount >= 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    CHECK (provider_message_id IS NOT NULL OR client_ref IS NOT NULL),
    UNIQUE (file_id, line_no)
);
CREATE INDEX invoice_lines_billed ON invoice_lines (billed_at);

-- A run: its window, its cut-off and the configuration it used, so that it can be repeated.
CREATE TABLE reconcile_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    window_from timestamptz NOT NULL,
    window_to timestamptz NOT NULL CHECK (window_to >= window_from),
    as_of timestamptz NOT NULL,
    config jsonb NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('api', 'cli', 'schedule')),
    requested_by text,
    -- scheduled runs: the slot of the schedule they belong to (one run per slot)
    schedule_slot timestamptz,
    requested_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    error text
);
CREATE UNIQUE INDEX reconcile_runs_slot ON reconcile_runs (schedule_slot)
    WHERE schedule_slot IS NOT NULL;
CREATE INDEX reconcile_runs_queued ON reconcile_runs (id) WHERE state = 'queued';

-- Per run and rule: how many findings, and how long the rule took.
CREATE TABLE reconcile_run_rules (
    run_id bigint NOT NULL REFERENCES reconcile_runs (id),
    rule text NOT NULL,
    findings int NOT NULL,
    duration_ms int NOT NULL,
    PRIMARY KEY (run_id, rule)
);

-- Per run, rule and currency: the amount at stake (amounts of one currency only).
CREATE TABLE reconcile_run_amounts (
    run_id bigint NOT NULL REFERENCES reconcile_runs (id),
    rule text NOT NULL,
    currency text NOT NULL,
    amount numeric NOT NULL,
    PRIMARY KEY (run_id, rule, currency)
);

-- Per run, provider key and currency: registered = delivered + read + failed + expired +
-- rejected + pending (messages), invoiced = matched + unmatched (invoice lines).
CREATE TABLE reconcile_ledger (
    run_id bigint NOT NULL REFERENCES reconcile_runs (id),
    provider_key text NOT NULL,
    currency text,  -- NULL: messages registered without money
    registered int NOT NULL,
    delivered int NOT NULL,
    read int NOT NULL,
    failed int NOT NULL,
    expired int NOT NULL,
    rejected int NOT NULL,
    pending int NOT NULL,
    registered_value numeric NOT NULL,
    invoiced_lines int NOT NULL,
    invoiced_amount numeric NOT NULL,
    matched_lines int NOT NULL,
    matched_amount numeric NOT NULL,
    unmatched_lines int NOT NULL,
    unmatched_amount numeric NOT NULL,
    balanced boolean NOT NULL
);
CREATE UNIQUE INDEX reconcile_ledger_key ON reconcile_ledger (run_id, provider_key, currency)
    NULLS NOT DISTINCT;

-- A problem, identified by its rule and subject: the same problem found by many runs is one
-- finding. open -> acknowledged -> resolved, or accepted (with a note).
CREATE TABLE findings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule text NOT NULL,
    subject text NOT NULL,
    provider_key text,
    message_id bigint,
    invoice_line_id bigint,
    event_id bigint,
    state text NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'acknowledged', 'resolved', 'accepted')),
    note text,
    state_by text,
    state_at timestamptz,
    first_seen_run bigint NOT NULL REFERENCES reconcile_runs (id),
    last_seen_run bigint NOT NULL REFERENCES reconcile_runs (id),
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- as the last run that saw it found it
    amount numeric,
    currency text,
    explanation text NOT NULL,
    evidence jsonb NOT NULL,
    UNIQUE (rule, subject),
    CHECK (amount IS NULL OR currency IS NOT NULL)
);
CREATE INDEX findings_state ON findings (state, rule);
CREATE INDEX findings_provider ON findings (provider_key, rule);

-- The runs that saw each finding, with what each saw.
CREATE TABLE finding_observations (
    run_id bigint NOT NULL REFERENCES reconcile_runs (id),
    finding_id bigint NOT NULL REFERENCES findings (id),
    amount numeric,
    currency text,
    explanation text NOT NULL,
    evidence jsonb NOT NULL,
    reopened boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, finding_id)
);
CREATE INDEX finding_observations_finding ON finding_observations (finding_id);

-- Every change of a finding's state: by whom (a token's name, a CLI user, or a run), when, why.
CREATE TABLE finding_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id bigint NOT NULL REFERENCES findings (id),
    at timestamptz NOT NULL,
    by text NOT NULL,
    from_state text,
    to_state text NOT NULL,
    note text,
    run_id bigint REFERENCES reconcile_runs (id)
);
CREATE INDEX finding_changes_finding ON finding_changes (finding_id, id);

-- ---- status as of a cut-off -----------------------------------------------------------------

-- The status of these messages as their events seen by `as_of` make it: the roll-up of
-- `refresh_message_status` (sql/queries/events.sql) over those events only. Per part the
-- highest rank wins (ties: later provider time, then later receive time, then later event);
-- failed if any part failed, delivered (or read) only when every part is, else the least
-- advanced part. Events without a part count for every part. Parts are those known now.
CREATE FUNCTION dlrecon_status_as_of(message_ids bigint[], as_of timestamptz)
RETURNS TABLE (message_id bigint, status text, final boolean, status_at timestamptz,
               error_code text, error_class text, conflict boolean, provider_cost numeric,
               provider_currency text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH targets AS (
    SELECT DISTINCT t.id AS message_id FROM unnest(message_ids) AS t(id)
),
parts AS (
    SELECT p.message_id, p.part_no FROM message_parts p WHERE p.message_id = ANY(message_ids)
    UNION
    SELECT t.message_id, 0 FROM targets t
    WHERE NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = t.message_id)
),
seen AS MATERIALIZED (
    SELECT e.id, e.message_id, e.part_no, e.status, e.error_code, e.error_class,
           e.provider_time, e.received_at, e.cost, e.currency
    FROM events e
    WHERE e.message_id = ANY(message_ids)
      AND dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) <= as_of
),
candidates AS (
    SELECT pa.message_id, pa.part_no, e.id, e.status, e.error_code, e.error_class,
           e.provider_time, e.received_at
    FROM parts pa
    JOIN seen e ON e.message_id = pa.message_id AND (e.part_no = pa.part_no OR e.part_no IS NULL)
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
    SELECT per_part.message_id, bool_or(succeeded AND failed) AS conflict
    FROM (SELECT c.message_id, c.part_no,
                 bool_or(dlrecon_status_success(c.status)) AS succeeded,
                 bool_or(dlrecon_status_failure(c.status)) AS failed
          FROM candidates c GROUP BY c.message_id, c.part_no) per_part
    GROUP BY per_part.message_id
),
costs AS (
    SELECT latest.message_id,
           CASE WHEN count(DISTINCT latest.currency) = 1 THEN sum(latest.cost) END AS cost,
           CASE WHEN count(DISTINCT latest.currency) = 1 THEN min(latest.currency) END AS currency
    FROM (SELECT DISTINCT ON (e.message_id, coalesce(e.part_no, 0))
                 e.message_id, e.cost, e.currency
          FROM seen e
          WHERE e.cost IS NOT NULL
          ORDER BY e.message_id, coalesce(e.part_no, 0), e.received_at DESC, e.id DESC) latest
    GROUP BY latest.message_id
),
rolled AS (
    SELECT ps.message_id,
           CASE
               WHEN bool_or(dlrecon_status_failure(ps.status)) THEN
                   (array_agg(ps.status ORDER BY ps.status_at DESC NULLS LAST, ps.part_no)
                        FILTER (WHERE dlrecon_status_failure(ps.status)))[1]
               WHEN bool_and(ps.status = 'read') THEN 'read'
               WHEN bool_and(dlrecon_status_success(ps.status)) THEN 'delivered'
               ELSE (array_agg(ps.status ORDER BY dlrecon_status_rank(ps.status), ps.part_no))[1]
           END AS status,
           max(ps.status_at) AS status_at,
           (array_agg(ROW(ps.error_code, ps.error_class)::dlrecon_error
                      ORDER BY dlrecon_status_failure(ps.status) DESC,
                               ps.status_at DESC NULLS LAST, ps.part_no)
                FILTER (WHERE ps.error_code IS NOT NULL OR ps.error_class IS NOT NULL))[1] AS error
    FROM part_status ps
    GROUP BY ps.message_id
)
SELECT r.message_id, r.status, dlrecon_status_final(r.status), r.status_at, (r.error).code,
       (r.error).class, coalesce(c.conflict, false), k.cost, k.currency
FROM rolled r
LEFT JOIN conflicts c ON c.message_id = r.message_id
LEFT JOIN costs k ON k.message_id = r.message_id
$$;

-- Messages whose stored status may differ from their status at `as_of`: those with an event
-- seen after it. Every other message's row already is its status at `as_of` (its status was
-- last derived from events all seen by then).
CREATE FUNCTION dlrecon_changed_after(as_of timestamptz)
RETURNS TABLE (message_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT e.message_id
    FROM events e
    WHERE dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) > as_of
      AND e.message_id IS NOT NULL
$$;

-- ---- stuck: one definition for reconciliation, on-call and the poller ----------------------

-- Threshold per (provider key, channel) of the given pairs: configured
-- (`configured->key->channel`, else `configured->key->'*'`, in seconds), else learned (the
-- 99th percentile of submit-to-final time of the messages submitted in the 7 days before
-- `as_of` and final at `as_of`, when there are at least `min_samples`; a message without a
-- submit time counts as sent when it was registered), else `default_after`.
CREATE FUNCTION dlrecon_stuck_thresholds_of(
    provider_keys text[], channels text[], as_of timestamptz, configured jsonb,
    default_after interval, min_samples int)
RETURNS TABLE (provider_key text, channel text, threshold interval, threshold_source text,
               samples int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH pairs AS (
    SELECT DISTINCT u.provider_key, u.channel
    FROM unnest(provider_keys, channels) AS u(provider_key, channel)
),
given AS (
    SELECT p.provider_key, p.channel,
           coalesce(configured -> p.provider_key ->> p.channel,
                    configured -> p.provider_key ->> '*')::float8 AS seconds
    FROM pairs p
),
finals AS (
    -- the stored row is the status at as_of unless an event was seen after it
    SELECT m.provider_key, m.channel, greatest(m.status_at - m.submitted_at, interval '0') AS took
    FROM messages m
    WHERE m.submitted_at >= as_of - interval '7 days' AND m.submitted_at < as_of
      AND m.registered_at <= as_of AND m.final
      AND (m.provider_key, m.channel) IN (SELECT g.provider_key, g.channel FROM given g
                                          WHERE g.seconds IS NULL)
      AND NOT EXISTS (SELECT 1 FROM dlrecon_changed_after(as_of) c WHERE c.message_id = m.id)
    UNION ALL
    SELECT m.provider_key, m.channel, greatest(m.status_at - m.registered_at, interval '0')
    FROM messages m
    WHERE m.submitted_at IS NULL AND m.registered_at >= as_of - interval '7 days'
      AND m.registered_at < as_of AND m.final
      AND (m.provider_key, m.channel) IN (SELECT g.provider_key, g.channel FROM given g
                                          WHERE g.seconds IS NULL)
      AND NOT EXISTS (SELECT 1 FROM dlrecon_changed_after(as_of) c WHERE c.message_id = m.id)
    UNION ALL
    SELECT m.provider_key, m.channel,
           greatest(d.status_at - coalesce(m.submitted_at, m.registered_at), interval '0')
    FROM dlrecon_status_as_of(ARRAY(SELECT message_id FROM dlrecon_changed_after(as_of)), as_of) d
    JOIN messages m ON m.id = d.message_id
    WHERE d.final AND coalesce(m.submitted_at, m.registered_at) >= as_of - interval '7 days'
      AND coalesce(m.submitted_at, m.registered_at) < as_of
      AND m.registered_at <= as_of
      AND (m.provider_key, m.channel) IN (SELECT g.provider_key, g.channel FROM given g
                                          WHERE g.seconds IS NULL)
),
learned AS (
    SELECT f.provider_key, f.channel, count(*)::int AS samples,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY f.took) AS p99
    FROM finals f
    GROUP BY f.provider_key, f.channel
)
SELECT g.provider_key, g.channel,
       CASE WHEN g.seconds IS NOT NULL THEN make_interval(secs => g.seconds)
            WHEN l.samples >= min_samples THEN l.p99
            ELSE default_after END,
       CASE WHEN g.seconds IS NOT NULL THEN 'configured'
            WHEN l.samples >= min_samples THEN 'learned'
            ELSE 'default' END,
       CASE WHEN g.seconds IS NOT NULL THEN NULL ELSE coalesce(l.samples, 0) END
FROM given g
LEFT JOIN learned l ON l.provider_key = g.provider_key AND l.channel = g.channel
$$;

-- The threshold used for every (provider key, channel) that is configured, has messages
-- submitted in the 7 days before `as_of`, or has messages open now, and why.
CREATE FUNCTION dlrecon_stuck_thresholds(
    as_of timestamptz, configured jsonb, default_after interval, min_samples int)
RETURNS TABLE (provider_key text, channel text, threshold interval, threshold_source text,
               samples int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH pairs AS (
    SELECT DISTINCT m.provider_key, m.channel FROM messages m
    WHERE m.submitted_at >= as_of - interval '7 days' AND m.submitted_at < as_of
    UNION
    SELECT DISTINCT m.provider_key, m.channel FROM messages m
    WHERE m.submitted_at IS NULL AND m.registered_at >= as_of - interval '7 days'
      AND m.registered_at < as_of
    UNION
    SELECT DISTINCT m.provider_key, m.channel FROM messages m WHERE NOT m.final
    UNION
    SELECT k.key, c.key
    FROM jsonb_each(coalesce(configured, '{}')) AS k
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(k.value) = 'object' THEN k.value
                                       ELSE '{}' END) AS c
    WHERE c.key <> '*'
)
SELECT t.* FROM dlrecon_stuck_thresholds_of(
    ARRAY(SELECT p.provider_key FROM pairs p ORDER BY 1, p.channel),
    ARRAY(SELECT p.channel FROM pairs p ORDER BY p.provider_key, 1),
    as_of, configured, default_after, min_samples) t
ORDER BY t.provider_key, t.channel
$$;

-- One row per message that is not final at `as_of` and has been open for longer than its
-- provider key's and channel's threshold (`dlrecon_stuck_thresholds_of`). `since` is when it
-- was submitted (registered, when the sending system gave no time). Starts from the messages
-- open now (the `messages_open` index) plus those with an event seen after `as_of`.
CREATE FUNCTION dlrecon_stuck(
    as_of timestamptz, configured jsonb, default_after interval, min_samples int)
RETURNS TABLE (message_id bigint, provider_key text, channel text, status text,
               since timestamptz, threshold interval, threshold_source text, samples int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH changed AS MATERIALIZED (
    SELECT c.message_id FROM dlrecon_changed_after(as_of) c
),
open_at AS MATERIALIZED (
    SELECT m.id, m.provider_key, m.channel, m.status,
           coalesce(m.submitted_at, m.registered_at) AS since
    FROM messages m
    WHERE NOT m.final AND m.registered_at <= as_of
      AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.message_id = m.id)
    UNION ALL
    SELECT m.id, m.provider_key, m.channel, d.status,
           coalesce(m.submitted_at, m.registered_at)
    FROM dlrecon_status_as_of(ARRAY(SELECT message_id FROM changed), as_of) d
    JOIN messages m ON m.id = d.message_id
    WHERE NOT d.final AND m.registered_at <= as_of
),
thresholds AS MATERIALIZED (
    SELECT * FROM dlrecon_stuck_thresholds_of(
        ARRAY(SELECT o.provider_key FROM open_at o),
        ARRAY(SELECT o.channel FROM open_at o),
        as_of, configured, default_after, min_samples)
)
SELECT o.id, o.provider_key, o.channel, o.status, o.since, t.threshold, t.threshold_source,
       t.samples
FROM open_at o
JOIN thresholds t ON t.provider_key = o.provider_key AND t.channel = o.channel
WHERE o.since < as_of - t.threshold
ORDER BY o.id
$$;

-- ---- segments --------------------------------------------------------------------------------

-- SMS parts needed for a text (GSM 03.38 default alphabet with its extension table: 160
-- septets in one part, 153 per part of a concatenated message, an extension character taking
-- two and never split; otherwise UCS-2: 70 code units, 67 per part, a surrogate pair never
-- split). NULL text: NULL; empty text: 1. `reconcile/segments.py` holds the same rules over
-- the gsm0338 codec, and tests compare the two.
-- The parts of a text whose characters take 2 units when they match `double` (GSM escapes,
-- astral characters) and 1 otherwise: walked character by character, only for the few long
-- texts where a 2-unit character can straddle a part boundary.
CREATE FUNCTION dlrecon_sms_walk(body text, double text, single int, per_part int) RETURNS int
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    total int := 0;
    parts int := 1;
    used int := 0;
    size int;
    c text;
BEGIN
    FOREACH c IN ARRAY regexp_split_to_array(body, '') LOOP
        total := total + CASE WHEN c ~ double THEN 2 ELSE 1 END;
    END LOOP;
    IF total <= single THEN
        RETURN 1;
    END IF;
    FOREACH c IN ARRAY regexp_split_to_array(body, '') LOOP
        size := CASE WHEN c ~ double THEN 2 ELSE 1 END;
        IF used + size > per_part THEN
            parts := parts + 1;
            used := 0;
        END IF;
        used := used + size;
    END LOOP;
    RETURN parts;
END
$$;

CREATE FUNCTION dlrecon_sms_encoding(body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN body IS NULL THEN NULL
        WHEN body ~ '^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&''()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà\f^{}\\[~\]|€]*$'
            THEN 'gsm7'
        ELSE 'ucs2'
    END
$$;

-- One expression (inlined into the query that calls it): the walk only for long texts with
-- 2-unit characters.
CREATE FUNCTION dlrecon_sms_segments(body text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN body IS NULL THEN NULL
        WHEN dlrecon_sms_encoding(body) = 'gsm7' THEN
            CASE
                WHEN body !~ '[\f^{}\\[~\]|€]' THEN
                    CASE WHEN length(body) <= 160 THEN 1 ELSE (length(body) + 152) / 153 END
                WHEN length(body) * 2 <= 160 THEN 1
                ELSE dlrecon_sms_walk(body, '[\f^{}\\[~\]|€]', 160, 153)
            END
        WHEN body !~ '[\U00010000-\U0010FFFF]' THEN
            CASE WHEN length(body) <= 70 THEN 1 ELSE (length(body) + 66) / 67 END
        WHEN length(body) * 2 <= 70 THEN 1
        ELSE dlrecon_sms_walk(body, '[\U00010000-\U0010FFFF]', 70, 67)
    END
$$;
