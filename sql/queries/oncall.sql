-- name: provider_window
-- Per provider key, the messages sent in [$1, $2) (by submitted_at; one registered without it
-- by its registration time, as reconciliation counts it) and what came back in it:
-- finals, failures (by error class), median and 95th percentile of submit-to-final time, the
-- messages still open longer than a per-key age ($4 keys, $5 seconds), the callbacks
-- received (inbox rows that were not refused), how many were quarantined or failed
-- verification, refused callbacks, and events still unmatched. $3: keys to report even with
-- nothing sent (the configured ones). Every part reads an index range of the window only.
WITH window_messages AS MATERIALIZED (
    SELECT m.provider_key, m.final, m.status, m.error_class,
           CASE WHEN m.final THEN greatest(extract(epoch FROM m.status_at - m.submitted_at), 0) END
               AS took
    FROM messages m
    WHERE m.submitted_at >= $1 AND m.submitted_at < $2
    UNION ALL
    SELECT m.provider_key, m.final, m.status, m.error_class,
           CASE WHEN m.final THEN greatest(extract(epoch FROM m.status_at - m.registered_at), 0) END
    FROM messages m
    WHERE m.submitted_at IS NULL AND m.registered_at >= $1 AND m.registered_at < $2
),
sent AS (
    SELECT provider_key,
           count(*)::int AS sent,
           count(*) FILTER (WHERE final)::int AS finals,
           count(*) FILTER (WHERE dlrecon_status_failure(status))::int AS failures,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY took) AS median_final,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY took) AS p95_final
    FROM window_messages
    GROUP BY provider_key
),
failure_classes AS (
    SELECT provider_key, jsonb_object_agg(error_class, n) AS by_class
    FROM (SELECT provider_key, coalesce(error_class, 'unknown') AS error_class, count(*) AS n
          FROM window_messages
          WHERE dlrecon_status_failure(status)
          GROUP BY 1, 2) f
    GROUP BY provider_key
),
keys AS (
    SELECT unnest($3::text[]) AS provider_key
    UNION
    SELECT provider_key FROM sent
)
SELECT k.provider_key,
       coalesce(s.sent, 0) AS sent,
       coalesce(s.finals, 0) AS finals,
       coalesce(s.failures, 0) AS failures,
       coalesce(f.by_class, '{}'::jsonb) AS failures_by_class,
       s.median_final,
       s.p95_final,
       coalesce(late.n, 0) AS open_late,
       i.callbacks,
       i.quarantined,
       i.held,
       coalesce(r.refused, 0)::int AS refused,
       o.orphans
FROM keys k
LEFT JOIN sent s ON s.provider_key = k.provider_key
LEFT JOIN failure_classes f ON f.provider_key = k.provider_key
LEFT JOIN LATERAL (
    SELECT count(*)::int AS n
    FROM unnest($4::text[], $5::float8[]) AS l(provider_key, seconds)
    JOIN messages m ON m.provider_key = l.provider_key
    WHERE l.provider_key = k.provider_key AND NOT m.final
      AND ((m.submitted_at >= $1 AND m.submitted_at < $2 - make_interval(secs => l.seconds))
           OR (m.submitted_at IS NULL AND m.registered_at >= $1
               AND m.registered_at < $2 - make_interval(secs => l.seconds)))
) late ON true
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE b.verification <> 'failed')::int AS callbacks,
           -- quarantined rows are among the inbox's exceptions (migration 0010): a small set
           (SELECT count(*)::int
            FROM inbox_exceptions x
            JOIN inbox_requests xr ON xr.id = x.id AND xr.source = 'callback'
            WHERE x.provider_key = k.provider_key AND x.state = 'quarantined'
              AND x.received_at >= $1 AND x.received_at < $2) AS quarantined,
           count(*) FILTER (WHERE b.verification = 'failed')::int AS held
    FROM inbox_requests b
    WHERE b.provider_key = k.provider_key AND b.received_at >= $1 AND b.received_at < $2
      AND b.source = 'callback'  -- the poller's responses are in the inbox too: not callbacks
) i
LEFT JOIN LATERAL (
    SELECT sum(c.refused) AS refused
    FROM callback_refusals c
    WHERE c.provider_key = k.provider_key AND c.minute >= date_trunc('minute', $1::timestamptz)
      AND c.minute < $2
) r ON true
CROSS JOIN LATERAL (
    SELECT count(*)::int AS orphans
    FROM events e
    WHERE e.message_id IS NULL AND e.provider_key = k.provider_key
      AND e.received_at >= $1 AND e.received_at < $2
) o
ORDER BY k.provider_key;

-- name: oldest_open
-- Per provider key ($1), its message open the longest, since its submit time or else its
-- registration (the messages_open index: one row each, and the key's open unsubmitted ones).
SELECT k.provider_key, o.id, o.since
FROM unnest($1::text[]) AS k(provider_key)
CROSS JOIN LATERAL (
    SELECT c.id, c.since
    FROM ((SELECT m.id, m.submitted_at AS since
           FROM messages m
           WHERE m.provider_key = k.provider_key AND NOT m.final AND m.submitted_at IS NOT NULL
           ORDER BY m.submitted_at, m.id
           LIMIT 1)
          UNION ALL
          (SELECT m.id, m.registered_at
           FROM messages m
           WHERE m.provider_key = k.provider_key AND NOT m.final AND m.submitted_at IS NULL
           ORDER BY m.registered_at, m.id
           LIMIT 1)) c
    ORDER BY c.since, c.id
    LIMIT 1
) o
ORDER BY k.provider_key;

-- name: orphans_now
-- Events matching no message yet, per provider key (the orphan indexes: a small set).
SELECT provider_key, count(*)::int AS n
FROM events
WHERE message_id IS NULL
GROUP BY provider_key
ORDER BY provider_key;
