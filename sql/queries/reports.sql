-- name: fill_report_params
-- A finance report builds a reconciliation run's working tables (`reconcile_prepare.sql`:
-- messages of the window with their status at the cut-off, rate card prices, invoice lines
-- matched, per-message facts) with the same queries, over its own window and cut-off: the
-- expected cost, segments, invoiced amounts are the rules' own. Run id 0: no run row.
-- $1 from, $2 to, $3 as_of, $4 the reconciliation configuration (as a run records it).
INSERT INTO run_params
SELECT 0, $1::timestamptz, $2::timestamptz, $3::timestamptz, $4::jsonb,
       make_interval(secs => ($4::jsonb ->> 'orphan_grace_seconds')::float8),
       make_interval(secs => ($4::jsonb ->> 'unpriced_grace_seconds')::float8),
       make_interval(secs => ($4::jsonb ->> 'invoice_lag_seconds')::float8),
       make_interval(secs => ($4::jsonb ->> 'duplicate_window_seconds')::float8),
       coalesce($4::jsonb #> '{stuck,configured}', '{}'),
       make_interval(secs => ($4::jsonb #>> '{stuck,default_after_seconds}')::float8),
       ($4::jsonb #>> '{stuck,min_samples}')::int;

-- name: report_figures
-- The additive figures of a report window, per day (UTC) and provider key, channel,
-- destination country and currency: from `run_facts` and `run_lines`. Every amount is counted
-- in the group of its own currency (an expected cost or reported price in another currency
-- than its message's goes to that currency's group: amounts are never converted or dropped);
-- invoice lines in the group of their message (day: when it was sent) and currency, or, when
-- they matched no message, under their provider key and billing day with no channel or
-- country. The margin is over the messages with a value and a cost known in their own
-- currency: value - the best known cost (invoiced, else reported, else rate card x segments).
-- The country is the longest of the calling-code prefixes $1 (with their countries $2) that
-- starts the destination: each part is first aggregated by the destination's first 7 digits
-- (hash aggregates of a million rows into tens of thousands), then those are mapped.
WITH sent AS (
    SELECT (f.sent_at AT TIME ZONE 'UTC')::date AS day, f.provider_key, f.channel,
           left(f.dest_digits, 7) AS dest, f.currency,
           count(*)::int AS messages,
           count(*) FILTER (WHERE f.status = 'delivered')::int AS delivered,
           count(*) FILTER (WHERE f.status = 'read')::int AS read,
           count(*) FILTER (WHERE f.status = 'failed')::int AS failed,
           count(*) FILTER (WHERE f.status = 'expired')::int AS expired,
           count(*) FILTER (WHERE f.status = 'rejected')::int AS rejected,
           count(*) FILTER (WHERE NOT dlrecon_status_final(f.status))::int AS pending,
           count(*) FILTER (WHERE dlrecon_status_final(f.status))::int AS final,
           sum(f.segments_basis)::bigint AS segments, coalesce(sum(f.value), 0) AS value,
           sum(f.expected_cost) FILTER (WHERE f.rate_currency = f.currency) AS expected_cost,
           sum(f.provider_cost) FILTER (WHERE f.provider_currency = f.currency)
               AS reported_cost,
           NULL::numeric AS invoiced,
           count(*) FILTER (WHERE f.provider_cost IS NOT NULL)::int AS priced,
           count(*) FILTER (WHERE f.billed_lines > 0)::int AS invoiced_messages,
           count(b.best)::int AS costed,
           count(*) FILTER (WHERE b.best = 'invoiced')::int AS basis_invoiced,
           count(*) FILTER (WHERE b.best = 'reported')::int AS basis_reported,
           count(*) FILTER (WHERE b.best = 'expected')::int AS basis_expected,
           sum(f.value - CASE b.best WHEN 'invoiced' THEN f.billed_amount
                                     WHEN 'reported' THEN f.provider_cost
                                     WHEN 'expected' THEN f.expected_cost END) AS margin,
           sum(CASE b.best WHEN 'invoiced' THEN f.billed_amount
                           WHEN 'reported' THEN f.provider_cost
                           WHEN 'expected' THEN f.expected_cost END) AS cost,
           0 AS lines, 0 AS matched_lines, 0 AS unmatched_lines,
           NULL::numeric AS matched_amount, NULL::numeric AS unmatched_amount
    FROM run_facts f
    CROSS JOIN LATERAL (
        SELECT CASE WHEN f.value IS NULL THEN NULL
                    WHEN f.billed_amount IS NOT NULL AND f.billed_currency = f.currency
                        THEN 'invoiced'
                    WHEN f.provider_cost IS NOT NULL AND f.provider_currency = f.currency
                        THEN 'reported'
                    WHEN f.expected_cost IS NOT NULL AND f.rate_currency = f.currency
                        THEN 'expected'
               END AS best
    ) b
    GROUP BY 1, f.provider_key, f.channel, 4, f.currency
),
-- rate card prices and reported prices in another currency than their message's
other_costs AS (
    SELECT (f.sent_at AT TIME ZONE 'UTC')::date, f.provider_key, f.channel,
           left(f.dest_digits, 7), x.currency,
           0, 0, 0, 0, 0, 0, 0, 0, 0::bigint, 0::numeric,
           sum(x.expected), sum(x.reported), NULL::numeric, 0, 0, 0, 0, 0, 0, NULL::numeric,
           NULL::numeric, 0, 0, 0, NULL::numeric, NULL::numeric
    FROM run_facts f
    CROSS JOIN LATERAL (
        SELECT f.rate_currency AS currency, f.expected_cost AS expected, NULL::numeric AS reported
        WHERE f.expected_cost IS NOT NULL AND f.rate_currency IS DISTINCT FROM f.currency
        UNION ALL
        SELECT f.provider_currency, NULL, f.provider_cost
        WHERE f.provider_cost IS NOT NULL AND f.provider_currency IS DISTINCT FROM f.currency
    ) x
    WHERE (f.expected_cost IS NOT NULL AND f.rate_currency IS DISTINCT FROM f.currency)
       OR (f.provider_cost IS NOT NULL AND f.provider_currency IS DISTINCT FROM f.currency)
    GROUP BY 1, f.provider_key, f.channel, 4, x.currency
),
-- invoice lines, each in its own currency (duplicates included: what the invoices say)
-- (every line with a message is matched to one of the window's: `prepare_run_lines`)
lines AS (
    SELECT (f.sent_at AT TIME ZONE 'UTC')::date AS day, l.provider_key, f.channel,
           left(f.dest_digits, 7) AS dest, l.currency, count(*)::int AS lines,
           count(*)::int AS matched_lines, sum(l.amount) AS amount,
           sum(l.amount) AS matched_amount
    FROM run_lines l
    JOIN run_facts f ON f.message_id = l.message_id
    GROUP BY 1, l.provider_key, f.channel, 4, l.currency
    UNION ALL
    SELECT (l.billed_at AT TIME ZONE 'UTC')::date, l.provider_key, NULL, NULL, l.currency,
           count(*)::int, 0, sum(l.amount), NULL
    FROM run_lines l
    WHERE l.message_id IS NULL
    GROUP BY 1, l.provider_key, l.currency
),
billed AS (
    SELECT b.day, b.provider_key, b.channel, b.dest, b.currency,
           0, 0, 0, 0, 0, 0, 0, 0, 0::bigint, 0::numeric, NULL::numeric, NULL::numeric,
           b.amount, 0, 0, 0, 0, 0, 0, NULL::numeric, NULL::numeric,
           b.lines, b.matched_lines, b.lines - b.matched_lines, b.matched_amount,
           b.amount - coalesce(b.matched_amount, 0)
    FROM lines b
),
coarse AS MATERIALIZED (
    SELECT * FROM sent
    UNION ALL SELECT * FROM other_costs
    UNION ALL SELECT * FROM billed
),
codes AS MATERIALIZED (
    SELECT u.prefix, u.country FROM unnest($1::text[], $2::text[]) AS u(prefix, country)
),
countries AS (
    SELECT DISTINCT ON (d.dest) d.dest, c.country
    FROM (SELECT DISTINCT dest FROM coarse WHERE dest IS NOT NULL) d
    CROSS JOIN generate_series(1, 7) AS n(len)
    JOIN codes c ON c.prefix = left(d.dest, n.len)
    ORDER BY d.dest, n.len DESC
)
SELECT c.day, c.provider_key AS provider, c.channel, k.country, c.currency,
       sum(c.messages)::int AS messages, sum(c.delivered)::int AS delivered,
       sum(c.read)::int AS read, sum(c.failed)::int AS failed, sum(c.expired)::int AS expired,
       sum(c.rejected)::int AS rejected, sum(c.pending)::int AS pending,
       sum(c.final)::int AS final, coalesce(sum(c.segments), 0)::bigint AS segments,
       coalesce(sum(c.value), 0) AS value, coalesce(sum(c.expected_cost), 0) AS expected_cost,
       coalesce(sum(c.reported_cost), 0) AS reported_cost, coalesce(sum(c.invoiced), 0) AS invoiced,
       sum(c.priced)::int AS priced, sum(c.invoiced_messages)::int AS invoiced_messages,
       sum(c.costed)::int AS costed, sum(c.basis_invoiced)::int AS basis_invoiced,
       sum(c.basis_reported)::int AS basis_reported, sum(c.basis_expected)::int AS basis_expected,
       coalesce(sum(c.margin), 0) AS margin, coalesce(sum(c.cost), 0) AS cost,
       sum(c.lines)::int AS lines,
       sum(c.matched_lines)::int AS matched_lines, sum(c.unmatched_lines)::int AS unmatched_lines,
       coalesce(sum(c.matched_amount), 0) AS matched_amount,
       coalesce(sum(c.unmatched_amount), 0) AS unmatched_amount
FROM coarse c
LEFT JOIN countries k ON k.dest = c.dest
GROUP BY c.day, c.provider_key, c.channel, k.country, c.currency
ORDER BY c.day, c.provider_key, c.channel NULLS LAST, k.country NULLS LAST,
         c.currency NULLS LAST;

-- name: report_run
-- The latest succeeded reconciliation run whose window overlaps [$1, $2) and whose cut-off is
-- not after the report's ($3).
SELECT id, window_from, window_to, as_of, finished_at
FROM reconcile_runs
WHERE state = 'succeeded' AND window_from < $2 AND window_to > $1 AND as_of <= $3
ORDER BY as_of DESC, id DESC
LIMIT 1;

-- name: report_at_stake
-- The findings run $1 saw about the report window's messages, invoice lines and events, per
-- day and group (as `report_figures`) and rule: how many, and the amount at stake (in the
-- finding's currency; findings without an amount count, with no amount).
WITH found AS (
    SELECT f.rule, o.amount, o.currency AS amount_currency, f.provider_key,
           m.day AS message_day, m.channel, m.dest, m.currency AS message_currency,
           (l.billed_at AT TIME ZONE 'UTC')::date AS line_day, l.currency AS line_currency,
           (e.received_at AT TIME ZONE 'UTC')::date AS event_day
    FROM finding_observations o
    JOIN findings f ON f.id = o.finding_id
    LEFT JOIN (SELECT x.message_id, (x.sent_at AT TIME ZONE 'UTC')::date AS day, x.channel,
                      left(x.dest_digits, 7) AS dest, x.currency
               FROM run_facts x) m ON m.message_id = f.message_id
    LEFT JOIN run_lines l ON l.line_id = f.invoice_line_id AND f.message_id IS NULL
    -- an orphan event (few): looked up by its id, kept when received in the window
    LEFT JOIN LATERAL (
        SELECT x.received_at
        FROM events x, run_params p
        WHERE x.id = f.event_id AND f.message_id IS NULL AND f.invoice_line_id IS NULL
          AND x.received_at >= p.window_from AND x.received_at < p.window_to
    ) e ON true
    WHERE o.run_id = $1
),
kept AS (
    SELECT f.rule, f.amount, f.provider_key, f.channel, f.dest,
           coalesce(f.message_day, f.line_day, f.event_day) AS day,
           coalesce(f.amount_currency, f.message_currency, f.line_currency) AS currency
    FROM found f
    WHERE f.message_day IS NOT NULL OR f.line_day IS NOT NULL OR f.event_day IS NOT NULL
),
codes AS MATERIALIZED (
    SELECT u.prefix, u.country FROM unnest($2::text[], $3::text[]) AS u(prefix, country)
),
countries AS (
    SELECT DISTINCT ON (d.dest) d.dest, c.country
    FROM (SELECT DISTINCT dest FROM kept WHERE dest IS NOT NULL) d
    CROSS JOIN generate_series(1, 7) AS n(len)
    JOIN codes c ON c.prefix = left(d.dest, n.len)
    ORDER BY d.dest, n.len DESC
)
SELECT k.day, k.provider_key AS provider, k.channel, c.country, k.currency, k.rule,
       count(*)::int AS findings, sum(k.amount) AS amount
FROM kept k
LEFT JOIN countries c ON c.dest = k.dest
GROUP BY k.day, k.provider_key, k.channel, c.country, k.currency, k.rule
ORDER BY k.day, k.provider_key, k.channel NULLS LAST, c.country NULLS LAST,
         k.currency NULLS LAST, k.rule;

-- name: report_late_items
-- What arrived for the month [$1, $2) after the cut-off $3, up to $4: messages registered
-- late, messages whose status or reported price changed through events seen late (their status
-- at $3 and at $4, `dlrecon_status_as_of`), and invoice lines imported late that belong to the
-- month (matched to one of its messages by provider id, else client ref; or matched to none
-- and billed in it).
WITH late_messages AS (
    SELECT m.id, m.provider_key, m.currency, m.value, m.registered_at, m.status
    FROM messages m
    WHERE ((m.submitted_at >= $1 AND m.submitted_at < $2)
           OR (m.submitted_at IS NULL AND m.registered_at >= $1 AND m.registered_at < $2))
      AND m.registered_at > $3 AND m.registered_at <= $4
),
changed AS MATERIALIZED (
    SELECT e.message_id,
           max(dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at)) AS arrived_at
    FROM events e
    JOIN messages m ON m.id = e.message_id
    WHERE dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) > $3
      AND dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) <= $4
      AND ((m.submitted_at >= $1 AND m.submitted_at < $2)
           OR (m.submitted_at IS NULL AND m.registered_at >= $1 AND m.registered_at < $2))
      AND m.registered_at <= $3
    GROUP BY e.message_id
),
before AS (
    SELECT * FROM dlrecon_status_as_of(ARRAY(SELECT message_id FROM changed), $3)
),
after AS (
    SELECT * FROM dlrecon_status_as_of(ARRAY(SELECT message_id FROM changed), $4)
),
compared AS (
    SELECT c.message_id, c.arrived_at, m.provider_key, m.currency, b.status AS old_status,
           a.status AS new_status, b.provider_cost AS old_cost, a.provider_cost AS new_cost,
           coalesce(a.provider_currency, b.provider_currency) AS cost_currency
    FROM changed c
    JOIN messages m ON m.id = c.message_id
    JOIN before b ON b.message_id = c.message_id
    JOIN after a ON a.message_id = c.message_id
),
late_files AS (
    SELECT l.*, f.invoice_id, f.imported_at
    FROM import_files f
    JOIN invoice_lines l ON l.file_id = f.id
    WHERE f.kind = 'invoice' AND f.imported_at > $3 AND f.imported_at <= $4
),
late_lines AS (
    SELECT l.*,
           coalesce(
               (SELECT x.id FROM message_parts p JOIN messages x ON x.id = p.message_id
                WHERE p.provider_key = l.provider_key
                  AND p.provider_message_id = l.provider_message_id
                  AND x.registered_at <= $4),
               (SELECT x.id FROM messages x
                WHERE x.provider_key = l.provider_key AND x.client_ref = l.client_ref
                  AND x.registered_at <= $4)) AS message_id
    FROM late_files l
)
SELECT 'late_message' AS kind, m.provider_key AS provider, m.currency, m.id AS message_id,
       NULL::bigint AS invoice_line_id, 'messages' AS field, m.value AS amount, 1 AS count,
       m.registered_at AS arrived_at, NULL::text AS old_status, m.status AS new_status,
       NULL::text AS invoice_id, NULL::int AS line_no
FROM late_messages m
UNION ALL
SELECT 'late_event', c.provider_key, c.currency, c.message_id, NULL, c.new_status, NULL, 1,
       c.arrived_at, c.old_status, c.new_status, NULL, NULL
FROM compared c
WHERE c.old_status IS DISTINCT FROM c.new_status
UNION ALL
SELECT 'late_price', c.provider_key, c.cost_currency, c.message_id, NULL, 'reported_cost',
       coalesce(c.new_cost, 0) - coalesce(c.old_cost, 0), 0, c.arrived_at, c.old_status,
       c.new_status, NULL, NULL
FROM compared c
WHERE c.old_cost IS DISTINCT FROM c.new_cost
UNION ALL
SELECT 'late_invoice_line', l.provider_key, l.currency, l.message_id, l.id, 'invoiced',
       l.amount, 0, l.imported_at, NULL, NULL, l.invoice_id, l.line_no
FROM late_lines l
LEFT JOIN messages m ON m.id = l.message_id
WHERE (l.message_id IS NOT NULL
       AND ((m.submitted_at >= $1 AND m.submitted_at < $2)
            OR (m.submitted_at IS NULL AND m.registered_at >= $1 AND m.registered_at < $2)))
   OR (l.message_id IS NULL AND l.billed_at >= $1 AND l.billed_at < $2)
ORDER BY arrived_at, kind, message_id NULLS LAST, invoice_line_id NULLS LAST;

-- name: lock_periods
-- Closing and reopening are one at a time (transaction-scoped).
SELECT pg_advisory_xact_lock(hashtext('dlrecon.periods'));

-- name: period_closings
-- Every closing, oldest month first (reopened ones too: the history).
SELECT id, month, cut_off, closed_at, closed_by, run_id, reopened_at, reopened_by,
       reopen_reason
FROM period_closings
ORDER BY month, id;

-- name: insert_closing
INSERT INTO period_closings (month, cut_off, closed_at, closed_by, run_id)
VALUES ($1, $2, clock_timestamp(), $3, $4)
RETURNING id, month, cut_off, closed_at, closed_by, run_id, reopened_at, reopened_by,
          reopen_reason;

-- name: reopen_closing
UPDATE period_closings
SET reopened_at = clock_timestamp(), reopened_by = $2, reopen_reason = $3
WHERE month = $1 AND reopened_at IS NULL
RETURNING id, month, cut_off, closed_at, closed_by, run_id, reopened_at, reopened_by,
          reopen_reason;

-- name: insert_period_figures
INSERT INTO period_figures (closing_id, day, provider, channel, country, currency, messages,
                            delivered, read, failed, expired, rejected, pending, final,
                            segments, value, expected_cost, reported_cost, invoiced, priced,
                            invoiced_messages, costed, basis_invoiced, basis_reported,
                            basis_expected, margin, cost, lines, matched_lines,
                            unmatched_lines, matched_amount, unmatched_amount)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32);

-- name: insert_period_at_stake
INSERT INTO period_at_stake (closing_id, day, provider, channel, country, currency, rule,
                             findings, amount)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: insert_period_adjustment
INSERT INTO period_adjustments (closing_id, month, kind, provider, currency, message_id,
                                invoice_line_id, field, amount, count, reason, arrived_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: period_figures_of
-- A closing's frozen figures over the days [$2, $3).
SELECT day, provider, channel, country, currency, messages, delivered, read, failed, expired,
       rejected, pending, final, segments, value, expected_cost, reported_cost, invoiced,
       priced, invoiced_messages, costed, basis_invoiced, basis_reported, basis_expected,
       margin, cost, lines, matched_lines, unmatched_lines, matched_amount, unmatched_amount
FROM period_figures
WHERE closing_id = $1 AND day >= $2 AND day < $3
ORDER BY day, provider, channel NULLS LAST, country NULLS LAST, currency NULLS LAST;

-- name: period_at_stake_of
SELECT day, provider, channel, country, currency, rule, findings, amount
FROM period_at_stake
WHERE closing_id = $1 AND day >= $2 AND day < $3
ORDER BY day, provider, channel NULLS LAST, country NULLS LAST, currency NULLS LAST, rule;

-- name: period_adjustments_of
SELECT month, kind, provider, currency, message_id, invoice_line_id, field, amount, count,
       reason, arrived_at
FROM period_adjustments
WHERE closing_id = $1
ORDER BY arrived_at, kind, message_id NULLS LAST, invoice_line_id NULLS LAST;

-- name: report_clock
SELECT clock_timestamp();

-- name: report_work_mem
-- For the report's transaction only.
SELECT set_config('work_mem', $1, true);
