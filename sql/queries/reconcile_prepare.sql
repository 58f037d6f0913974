-- name: prepare_run_params
-- What every rule reads about its run (window, cut-off, configuration), typed once. The run's
-- working tables are temporary: they live on the run's connection until it is done.
CREATE TEMP TABLE run_params (
    run_id bigint NOT NULL,
    window_from timestamptz NOT NULL,
    window_to timestamptz NOT NULL,
    as_of timestamptz NOT NULL,
    config jsonb NOT NULL,
    orphan_grace interval NOT NULL,
    unpriced_grace interval NOT NULL,
    invoice_lag interval NOT NULL,
    duplicate_window interval NOT NULL,
    stuck_configured jsonb NOT NULL,
    stuck_default interval NOT NULL,
    stuck_min_samples int NOT NULL
);

-- name: fill_run_params
INSERT INTO run_params
SELECT r.id, r.window_from, r.window_to, r.as_of, r.config,
       make_interval(secs => (r.config ->> 'orphan_grace_seconds')::float8),
       make_interval(secs => (r.config ->> 'unpriced_grace_seconds')::float8),
       make_interval(secs => (r.config ->> 'invoice_lag_seconds')::float8),
       make_interval(secs => (r.config ->> 'duplicate_window_seconds')::float8),
       coalesce(r.config #> '{stuck,configured}', '{}'),
       make_interval(secs => (r.config #>> '{stuck,default_after_seconds}')::float8),
       (r.config #>> '{stuck,min_samples}')::int
FROM reconcile_runs r
WHERE r.id = $1;

-- name: prepare_run_messages
-- The messages of the window registered by the cut-off, as stored (the status of those with an
-- event seen after the cut-off is derived again by prepare_run_statuses), with the SMS parts
-- their text needs and a hash of the text (the text itself stays in `messages`).
CREATE TEMP TABLE run_messages AS
SELECT m.id AS message_id, m.provider_key, m.channel, m.client_ref, m.destination,
       ltrim(m.destination, '+') AS dest_digits,
       coalesce(m.submitted_at, m.registered_at) AS sent_at, hashtext(m.body_text) AS text_hash,
       m.segments,
       CASE WHEN m.channel = 'sms' THEN dlrecon_sms_segments(m.body_text) END AS text_segments,
       m.value, m.cost, m.currency, m.status, m.final, m.status_at, m.error_code, m.error_class,
       m.conflict, m.provider_cost, m.provider_currency
FROM run_params p
JOIN messages m
  ON m.submitted_at >= p.window_from AND m.submitted_at < p.window_to
 AND m.registered_at <= p.as_of
UNION ALL
SELECT m.id, m.provider_key, m.channel, m.client_ref, m.destination, ltrim(m.destination, '+'),
       m.registered_at, hashtext(m.body_text), m.segments,
       CASE WHEN m.channel = 'sms' THEN dlrecon_sms_segments(m.body_text) END,
       m.value, m.cost, m.currency, m.status, m.final, m.status_at, m.error_code, m.error_class,
       m.conflict, m.provider_cost, m.provider_currency
FROM run_params p
JOIN messages m
  ON m.submitted_at IS NULL AND m.registered_at >= p.window_from
 AND m.registered_at < p.window_to AND m.registered_at <= p.as_of;

-- name: index_run_messages
CREATE UNIQUE INDEX ON run_messages (message_id);

-- name: prepare_run_statuses
-- Messages with an event seen after the cut-off: their status at the cut-off, from events.
UPDATE run_messages rm
SET status = d.status, final = d.final, status_at = d.status_at, error_code = d.error_code,
    error_class = d.error_class, conflict = d.conflict, provider_cost = d.provider_cost,
    provider_currency = d.provider_currency
FROM run_params p
CROSS JOIN LATERAL dlrecon_status_as_of(
    ARRAY(SELECT c.message_id
          FROM dlrecon_changed_after(p.as_of) c
          JOIN run_messages x ON x.message_id = c.message_id),
    p.as_of) d
WHERE rm.message_id = d.message_id;

-- name: analyze_run_messages
-- A fresh temporary table has no statistics; the columns the joins use are enough.
ANALYZE run_messages (message_id, provider_key, channel, dest_digits, status);

-- name: prepare_run_prices
-- The rate card row of each message: its provider key and channel, the longest prefix of its
-- destination, valid when it was sent, imported by the cut-off. Only the prefix lengths the
-- rate cards use are tried.
CREATE TEMP TABLE run_prices AS
WITH cards AS MATERIALIZED (
    SELECT rc.*
    FROM run_params p
    JOIN import_files f ON f.imported_at <= p.as_of AND f.kind = 'ratecard'
    JOIN rate_cards rc ON rc.file_id = f.id
),
lengths AS (
    SELECT DISTINCT length(prefix) AS len FROM cards
)
SELECT DISTINCT ON (rm.message_id)
       rm.message_id, rc.id AS rate_card_id, rc.prefix, rc.price_per_segment, rc.currency
FROM run_messages rm
CROSS JOIN lengths l
JOIN cards rc
  ON rc.provider_key = rm.provider_key AND rc.channel = rm.channel
 AND rc.prefix = left(rm.dest_digits, l.len)
 AND rc.valid_from <= rm.sent_at AND (rc.valid_to IS NULL OR rm.sent_at < rc.valid_to)
ORDER BY rm.message_id, l.len DESC;

-- name: prepare_run_lines
-- The invoice lines of the run: those matched (by canonical provider id, else client ref) to
-- a message of the window, and those matched to no message registered by the cut-off that
-- were billed in the window. Lines billed up to `invoice_lag` around the window are tried:
-- against the window's messages (a hash join), the rest one by one (few).
-- A line repeating an earlier line's message part (same provider id, or client ref when it
-- has none) is a duplicate (found by grouping, no sort of every line).
CREATE TEMP TABLE run_lines AS
WITH candidates AS (
    SELECT l.*
    FROM run_params p
    JOIN import_files f ON f.imported_at <= p.as_of AND f.kind = 'invoice'
    JOIN invoice_lines l
      ON l.file_id = f.id
     AND l.billed_at >= p.window_from - p.invoice_lag AND l.billed_at < p.window_to + p.invoice_lag
),
matched AS MATERIALIZED (
    SELECT c.*, rm.message_id AS window_id, mp.message_id AS part_message_id
    FROM candidates c
    LEFT JOIN message_parts mp
      ON mp.provider_key = c.provider_key AND mp.provider_message_id = c.provider_message_id
    LEFT JOIN run_messages rm ON rm.message_id = mp.message_id
),
-- the rest (few): by provider id to any message registered by the cut-off, else by client ref
rest AS (
    SELECT m.*,
           coalesce(
               (SELECT x.id FROM messages x, run_params p
                WHERE x.id = m.part_message_id AND x.registered_at <= p.as_of),
               (SELECT x.id FROM messages x, run_params p
                WHERE x.provider_key = m.provider_key AND x.client_ref = m.client_ref
                  AND x.registered_at <= p.as_of
                  AND NOT EXISTS (SELECT 1 FROM messages y
                                  WHERE y.id = m.part_message_id
                                    AND y.registered_at <= p.as_of))) AS message_id
    FROM matched m
    WHERE m.window_id IS NULL
),
in_scope AS (
    SELECT m.id, m.file_id, m.line_no, m.provider_key, m.provider_message_id, m.raw_message_id,
           m.client_ref, m.billed_at, m.destination, m.segments, m.amount, m.currency,
           m.window_id AS message_id
    FROM matched m
    WHERE m.window_id IS NOT NULL
    UNION ALL
    SELECT r.id, r.file_id, r.line_no, r.provider_key, r.provider_message_id, r.raw_message_id,
           r.client_ref, r.billed_at, r.destination, r.segments, r.amount, r.currency,
           r.message_id
    FROM rest r
    CROSS JOIN run_params p
    WHERE (r.message_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM run_messages x WHERE x.message_id = r.message_id))
       OR (r.message_id IS NULL AND r.billed_at >= p.window_from AND r.billed_at < p.window_to)
),
repeated AS (
    SELECT s.message_id, s.provider_message_id, s.client_ref, min(s.id) AS first_id
    FROM in_scope s
    WHERE s.message_id IS NOT NULL
    GROUP BY s.message_id, s.provider_message_id, s.client_ref
    HAVING count(*) > 1
)
SELECT s.id AS line_id, s.file_id, s.line_no, s.provider_key, s.provider_message_id,
       s.raw_message_id, s.client_ref, s.billed_at, s.destination, s.segments, s.amount,
       s.currency, s.message_id,
       coalesce('id:' || s.provider_message_id, 'ref:' || s.client_ref) AS part_key,
       coalesce(s.id <> r.first_id, false) AS duplicate
FROM in_scope s
LEFT JOIN repeated r
  ON r.message_id = s.message_id
 AND r.provider_message_id IS NOT DISTINCT FROM s.provider_message_id
 AND (s.provider_message_id IS NOT NULL OR r.client_ref IS NOT DISTINCT FROM s.client_ref);

-- name: index_run_lines
CREATE INDEX ON run_lines (message_id);

-- name: analyze_run_lines
ANALYZE run_lines (message_id, provider_key, currency);

-- name: prepare_run_facts
-- One row per message of the window with everything the rules compare: its status at the
-- cut-off, the expected cost (rate card x segments), what the provider reported, what it
-- invoiced (lines that are not duplicates, one currency only) and the cost basis (the first
-- known of invoiced, reported, rate card, registered, preferring the message's currency).
CREATE TEMP TABLE run_facts AS
WITH billing AS (
    SELECT l.message_id,
           count(*)::int AS lines,
           CASE WHEN min(l.currency) FILTER (WHERE NOT l.duplicate)
                     = max(l.currency) FILTER (WHERE NOT l.duplicate)
                THEN sum(l.amount) FILTER (WHERE NOT l.duplicate) END AS amount,
           CASE WHEN min(l.currency) FILTER (WHERE NOT l.duplicate)
                     = max(l.currency) FILTER (WHERE NOT l.duplicate)
                THEN min(l.currency) FILTER (WHERE NOT l.duplicate) END AS currency,
           CASE WHEN bool_and(l.segments IS NOT NULL) FILTER (WHERE NOT l.duplicate)
                THEN sum(l.segments) FILTER (WHERE NOT l.duplicate) END AS segments,
           min(l.currency) AS lowest_currency, max(l.currency) AS highest_currency
    FROM run_lines l
    WHERE l.message_id IS NOT NULL
    GROUP BY l.message_id
),
costed AS (
    SELECT rm.*, pr.rate_card_id, pr.prefix AS rate_prefix, pr.price_per_segment AS rate_price,
           pr.currency AS rate_currency,
           CASE WHEN rm.channel = 'sms' THEN coalesce(rm.text_segments, rm.segments, 1) ELSE 1 END
               AS segments_basis,
           pr.price_per_segment
               * CASE WHEN rm.channel = 'sms' THEN coalesce(rm.text_segments, rm.segments, 1)
                      ELSE 1 END AS expected_cost,
           coalesce(b.lines, 0) AS billed_lines, b.amount AS billed_amount,
           b.currency AS billed_currency, b.segments AS billed_segments,
           b.lowest_currency AS billed_lowest_currency,
           b.highest_currency AS billed_highest_currency
    FROM run_messages rm
    LEFT JOIN run_prices pr ON pr.message_id = rm.message_id
    LEFT JOIN billing b ON b.message_id = rm.message_id
),
based AS (
    SELECT c.*,
           CASE
               WHEN c.billed_amount IS NOT NULL AND c.billed_currency = c.currency THEN 'invoice'
               WHEN c.provider_cost IS NOT NULL AND c.provider_currency = c.currency THEN 'reported'
               WHEN c.expected_cost IS NOT NULL AND c.rate_currency = c.currency THEN 'rate_card'
               WHEN c.cost IS NOT NULL THEN 'registered'
               WHEN c.billed_amount IS NOT NULL THEN 'invoice'
               WHEN c.provider_cost IS NOT NULL THEN 'reported'
               WHEN c.expected_cost IS NOT NULL THEN 'rate_card'
           END AS cost_basis_source
    FROM costed c
)
SELECT b.*,
       CASE b.cost_basis_source
           WHEN 'invoice' THEN b.billed_amount WHEN 'reported' THEN b.provider_cost
           WHEN 'rate_card' THEN b.expected_cost WHEN 'registered' THEN b.cost
       END AS cost_basis,
       CASE b.cost_basis_source
           WHEN 'invoice' THEN b.billed_currency WHEN 'reported' THEN b.provider_currency
           WHEN 'rate_card' THEN b.rate_currency WHEN 'registered' THEN b.currency
       END AS cost_basis_currency
FROM based b;

-- name: analyze_run_facts
ANALYZE run_facts (message_id, provider_key, channel, status, currency);

-- name: prepare_run_findings
-- What the rules add: one row per finding of this run.
CREATE TEMP TABLE run_findings (
    rule text NOT NULL,
    subject text NOT NULL,
    provider_key text,
    message_id bigint,
    invoice_line_id bigint,
    event_id bigint,
    amount numeric,
    currency text,
    explanation text NOT NULL,
    evidence jsonb NOT NULL,
    PRIMARY KEY (rule, subject),
    CHECK (amount IS NULL OR currency IS NOT NULL)
);
