-- name: try_lock_runs
-- One run at a time per database, whichever process or `serve` instance runs it.
SELECT pg_try_advisory_lock(hashtext('dlrecon.reconcile_runs'));

-- name: lock_runs
SELECT pg_advisory_lock(hashtext('dlrecon.reconcile_runs'));

-- name: unlock_runs
SELECT pg_advisory_unlock(hashtext('dlrecon.reconcile_runs'));

-- name: fail_interrupted_runs
-- Called with the lock held: a run still marked running was left by a process that died.
UPDATE reconcile_runs
SET state = 'failed', finished_at = clock_timestamp(),
    error = 'interrupted: the process running it stopped'
WHERE state = 'running'
RETURNING id;

-- name: insert_run
-- $1 state (queued | running), $8 the schedule slot of a scheduled run (one run per slot).
INSERT INTO reconcile_runs (state, window_from, window_to, as_of, config, trigger,
                            requested_by, schedule_slot, started_at)
VALUES ($1, $2, $3, coalesce($4, now()), $5, $6, $7, $8,
        CASE WHEN $1 = 'running' THEN clock_timestamp() END)
ON CONFLICT (schedule_slot) WHERE schedule_slot IS NOT NULL DO NOTHING
RETURNING id;

-- name: claim_queued_run
UPDATE reconcile_runs
SET state = 'running', started_at = clock_timestamp()
WHERE id = (SELECT id FROM reconcile_runs WHERE state = 'queued' ORDER BY id
            LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id;

-- name: finish_run
UPDATE reconcile_runs SET state = 'succeeded', finished_at = clock_timestamp() WHERE id = $1;

-- name: fail_run
UPDATE reconcile_runs SET state = 'failed', finished_at = clock_timestamp(), error = $2
WHERE id = $1;

-- name: latest_schedule_slot
SELECT max(schedule_slot) FROM reconcile_runs;

-- name: get_run
SELECT id, state, window_from, window_to, as_of, config, trigger, requested_by, schedule_slot,
       requested_at, started_at, finished_at, error,
       extract(epoch FROM finished_at - started_at)::float8 AS duration_seconds
FROM reconcile_runs
WHERE id = $1;

-- name: run_rules
SELECT rule, findings, duration_ms FROM reconcile_run_rules WHERE run_id = $1 ORDER BY rule;

-- name: run_amounts
SELECT rule, currency, amount FROM reconcile_run_amounts WHERE run_id = $1
ORDER BY rule, currency;

-- name: run_ledger
SELECT provider_key, currency, registered, delivered, read, failed, expired, rejected, pending,
       registered_value, invoiced_lines, invoiced_amount, matched_lines, matched_amount,
       unmatched_lines, unmatched_amount, balanced
FROM reconcile_ledger
WHERE run_id = $1
ORDER BY provider_key, currency NULLS FIRST;

-- name: insert_run_rules
INSERT INTO reconcile_run_rules (run_id, rule, findings, duration_ms)
SELECT $1, u.rule, u.findings, u.duration_ms
FROM unnest($2::text[], $3::int[], $4::int[]) AS u(rule, findings, duration_ms);

-- name: count_rule_findings
-- A rule adds findings under its own name only: this counts them.
SELECT count(*)::int FROM run_findings WHERE rule = $1;

-- name: reopen_findings
-- Resolved findings this run finds again: a regression, open again (accepted ones stay).
WITH reopened AS (
    UPDATE findings f
    SET state = 'open', state_by = 'run ' || $1::bigint, state_at = clock_timestamp(),
        note = 'found again by run ' || $1::bigint
    FROM run_findings r
    WHERE r.rule = f.rule AND r.subject = f.subject AND f.state = 'resolved'
    RETURNING f.id
)
INSERT INTO finding_changes (finding_id, at, by, from_state, to_state, note, run_id)
SELECT id, clock_timestamp(), 'run ' || $1::bigint, 'resolved', 'open',
       'found again by run ' || $1::bigint, $1
FROM reopened
RETURNING finding_id;

-- name: insert_new_findings
-- Findings no run has seen before: open, first seen now.
WITH created AS (
    INSERT INTO findings (rule, subject, provider_key, message_id, invoice_line_id, event_id,
                          first_seen_run, last_seen_run, first_seen_at, last_seen_at, amount,
                          currency, explanation, evidence)
    SELECT r.rule, r.subject, r.provider_key, r.message_id, r.invoice_line_id, r.event_id,
           $1, $1, clock_timestamp(), clock_timestamp(), r.amount, r.currency, r.explanation,
           r.evidence
    FROM run_findings r
    WHERE NOT EXISTS (SELECT 1 FROM findings f WHERE f.rule = r.rule AND f.subject = r.subject)
    ORDER BY r.rule, r.subject
    ON CONFLICT (rule, subject) DO NOTHING
    RETURNING id
)
INSERT INTO finding_changes (finding_id, at, by, from_state, to_state, note, run_id)
SELECT id, clock_timestamp(), 'run ' || $1::bigint, NULL, 'open', NULL, $1 FROM created;

-- name: update_seen_findings
-- Every finding of this run that an earlier run created: last seen now, as this run found it.
UPDATE findings f
SET last_seen_run = $1, last_seen_at = clock_timestamp(), amount = r.amount,
    currency = r.currency, explanation = r.explanation, evidence = r.evidence,
    provider_key = r.provider_key, message_id = r.message_id,
    invoice_line_id = r.invoice_line_id, event_id = r.event_id
FROM run_findings r
WHERE r.rule = f.rule AND r.subject = f.subject AND f.first_seen_run <> $1;

-- name: insert_observations
INSERT INTO finding_observations (run_id, finding_id, amount, currency, explanation, evidence,
                                  reopened)
SELECT $1, f.id, r.amount, r.currency, r.explanation, r.evidence, f.id = ANY($2::bigint[])
FROM run_findings r
JOIN findings f ON f.rule = r.rule AND f.subject = r.subject;

-- name: insert_run_amounts
INSERT INTO reconcile_run_amounts (run_id, rule, currency, amount)
SELECT $1, rule, currency, sum(amount)
FROM run_findings
WHERE amount IS NOT NULL
GROUP BY rule, currency;

-- name: insert_ledger
-- Per provider key and currency: messages by status at the cut-off, invoice lines by whether
-- they matched a message. The identities are checked from separately counted sides.
INSERT INTO reconcile_ledger (run_id, provider_key, currency, registered, delivered, read,
                              failed, expired, rejected, pending, registered_value,
                              invoiced_lines, invoiced_amount, matched_lines, matched_amount,
                              unmatched_lines, unmatched_amount, balanced)
WITH sent AS (
    SELECT f.provider_key, f.currency, count(*)::int AS registered,
           count(*) FILTER (WHERE f.status = 'delivered')::int AS delivered,
           count(*) FILTER (WHERE f.status = 'read')::int AS read,
           count(*) FILTER (WHERE f.status = 'failed')::int AS failed,
           count(*) FILTER (WHERE f.status = 'expired')::int AS expired,
           count(*) FILTER (WHERE f.status = 'rejected')::int AS rejected,
           count(*) FILTER (WHERE NOT dlrecon_status_final(f.status))::int AS pending,
           coalesce(sum(f.value), 0) AS registered_value
    FROM run_facts f
    GROUP BY f.provider_key, f.currency
),
billed AS (
    SELECT l.provider_key, l.currency, count(*)::int AS invoiced_lines,
           sum(l.amount) AS invoiced_amount
    FROM run_lines l
    GROUP BY l.provider_key, l.currency
),
matched AS (
    SELECT l.provider_key, l.currency, count(*)::int AS lines, sum(l.amount) AS amount
    FROM run_lines l
    WHERE EXISTS (SELECT 1 FROM run_facts f WHERE f.message_id = l.message_id)
    GROUP BY l.provider_key, l.currency
),
unmatched AS (
    SELECT l.provider_key, l.currency, count(*)::int AS lines, sum(l.amount) AS amount
    FROM run_lines l
    WHERE l.message_id IS NULL
    GROUP BY l.provider_key, l.currency
),
keys AS (
    SELECT provider_key, currency FROM sent
    UNION SELECT provider_key, currency FROM billed
)
SELECT $1, k.provider_key, k.currency,
       coalesce(s.registered, 0), coalesce(s.delivered, 0), coalesce(s.read, 0),
       coalesce(s.failed, 0), coalesce(s.expired, 0), coalesce(s.rejected, 0),
       coalesce(s.pending, 0), coalesce(s.registered_value, 0),
       coalesce(b.invoiced_lines, 0), coalesce(b.invoiced_amount, 0),
       coalesce(m.lines, 0), coalesce(m.amount, 0), coalesce(u.lines, 0), coalesce(u.amount, 0),
       coalesce(s.registered, 0) = coalesce(s.delivered, 0) + coalesce(s.read, 0)
                                   + coalesce(s.failed, 0) + coalesce(s.expired, 0)
                                   + coalesce(s.rejected, 0) + coalesce(s.pending, 0)
       AND coalesce(b.invoiced_lines, 0) = coalesce(m.lines, 0) + coalesce(u.lines, 0)
       AND coalesce(b.invoiced_amount, 0) = coalesce(m.amount, 0) + coalesce(u.amount, 0)
FROM keys k
LEFT JOIN sent s ON s.provider_key = k.provider_key AND s.currency IS NOT DISTINCT FROM k.currency
LEFT JOIN billed b ON b.provider_key = k.provider_key AND b.currency = k.currency
LEFT JOIN matched m ON m.provider_key = k.provider_key AND m.currency = k.currency
LEFT JOIN unmatched u ON u.provider_key = k.provider_key AND u.currency = k.currency;

-- name: run_findings_page
-- The findings a run saw, in a stable order (rule, subject), optionally of one rule/provider.
SELECT f.id, f.rule, f.subject, f.provider_key, f.message_id, f.invoice_line_id, f.event_id,
       o.amount, o.currency, o.explanation, o.evidence, f.state, o.reopened
FROM finding_observations o
JOIN findings f ON f.id = o.finding_id
WHERE o.run_id = $1
  AND ($2::text IS NULL OR f.rule = $2)
  AND ($3::text IS NULL OR f.provider_key = $3)
  AND ($4::text IS NULL OR (f.rule, f.subject) > ($4, $5::text))
ORDER BY f.rule, f.subject
LIMIT $6;

-- name: all_run_findings
-- Every finding of a run in the order of run_findings_page, for one cursor (one sort).
SELECT f.id, f.rule, f.subject, f.provider_key, f.message_id, f.invoice_line_id, f.event_id,
       o.amount, o.currency, o.explanation, o.evidence, f.state, o.reopened
FROM finding_observations o
JOIN findings f ON f.id = o.finding_id
WHERE o.run_id = $1
  AND ($2::text IS NULL OR f.rule = $2)
  AND ($3::text IS NULL OR f.provider_key = $3)
ORDER BY f.rule, f.subject;

-- name: list_findings
SELECT id, rule, subject, provider_key, message_id, invoice_line_id, event_id, state, note,
       state_by, state_at, first_seen_run, last_seen_run, first_seen_at, last_seen_at, amount,
       currency, explanation, evidence,
       (SELECT count(*)::int FROM finding_observations o WHERE o.finding_id = f.id) AS runs
FROM findings f
WHERE ($1::text IS NULL OR rule = $1)
  AND ($2::text IS NULL OR state = $2)
  AND ($3::text IS NULL OR provider_key = $3)
  AND ($4::bigint IS NULL OR id > $4)
ORDER BY id
LIMIT $5;

-- name: get_finding
SELECT id, rule, subject, provider_key, message_id, invoice_line_id, event_id, state, note,
       state_by, state_at, first_seen_run, last_seen_run, first_seen_at, last_seen_at, amount,
       currency, explanation, evidence,
       (SELECT count(*)::int FROM finding_observations o WHERE o.finding_id = f.id) AS runs
FROM findings f
WHERE id = $1;

-- name: lock_finding
SELECT state FROM findings WHERE id = $1 FOR UPDATE;

-- name: set_finding_state
WITH changed AS (
    UPDATE findings
    SET state = $2, note = $3, state_by = $4, state_at = clock_timestamp()
    WHERE id = $1
    RETURNING id
)
INSERT INTO finding_changes (finding_id, at, by, from_state, to_state, note)
SELECT id, clock_timestamp(), $4, $5, $2, $3 FROM changed;

-- name: finding_changes
SELECT at, by, from_state, to_state, note, run_id
FROM finding_changes
WHERE finding_id = $1
ORDER BY id;

-- name: finding_runs
SELECT run_id FROM finding_observations WHERE finding_id = $1 ORDER BY run_id;

-- name: run_settle_seconds
-- How long until the cut-off is 2 s in the past: writes that began before it (a processor
-- batch, a registration) have committed by then, so the run's snapshot holds them all.
SELECT greatest(0, extract(epoch FROM as_of + interval '2 seconds' - clock_timestamp()))::float8
FROM reconcile_runs
WHERE id = $1;

-- name: findings_of_message
-- The findings that name a message, newest first (its trace).
SELECT id, rule, state, amount, currency, explanation, last_seen_at, last_seen_run
FROM findings
WHERE message_id = $1
ORDER BY last_seen_at DESC, id DESC;

-- name: recent_open_findings
-- The latest findings still open or acknowledged, and how many there are by rule.
SELECT id, rule, provider_key, message_id, state, amount, currency, explanation, last_seen_at
FROM findings
WHERE state IN ('open', 'acknowledged')
ORDER BY last_seen_at DESC, id DESC
LIMIT $1;

-- name: open_findings_by_rule
SELECT rule, count(*)::int AS findings
FROM findings
WHERE state IN ('open', 'acknowledged')
GROUP BY rule
ORDER BY rule;

-- name: last_finished_run
-- The last reconciliation run that finished (succeeded or failed), for /metrics.
SELECT id, state, extract(epoch FROM finished_at - started_at)::float8 AS seconds,
       extract(epoch FROM finished_at)::float8 AS finished
FROM reconcile_runs
WHERE finished_at IS NOT NULL
ORDER BY finished_at DESC, id DESC
LIMIT 1;

-- name: run_rule_findings
-- How many findings each rule of a run found.
SELECT rule, findings FROM reconcile_run_rules WHERE run_id = $1 ORDER BY rule;
