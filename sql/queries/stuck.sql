-- name: stuck
-- The messages `dlrecon_stuck` (the one stuck definition, shared with reconciliation and the
-- poller) finds at $1 with configured thresholds $2, default $3 and min samples $4, filtered
-- by open at least $5, provider key $6, channel $7, status $8. One row: `summary`, their
-- counts per provider key, channel, status and age bucket with the threshold of each pair and
-- why it was used; `page`, up to $11 of them, newest problems first (by when each became
-- stuck, since + threshold, descending, then id), after the cursor ($9 stuck_at, $10 id).
WITH s AS MATERIALIZED (
    SELECT d.message_id, d.provider_key, d.channel, d.status, d.since, d.threshold,
           d.threshold_source, d.samples, d.since + d.threshold AS stuck_at
    FROM dlrecon_stuck($1, $2, $3, $4) d
    WHERE ($5::interval IS NULL OR d.since <= $1 - $5)
      AND ($6::text IS NULL OR d.provider_key = $6)
      AND ($7::text IS NULL OR d.channel = $7)
      AND ($8::text IS NULL OR d.status = $8)
),
-- one threshold per provider key and channel: grouped by those and the age only
counted AS (
    SELECT s.provider_key, s.channel, s.status,
           CASE WHEN s.since > $1 - interval '15 minutes' THEN 'lt_15m'
                WHEN s.since > $1 - interval '1 hour' THEN '15m_1h'
                WHEN s.since > $1 - interval '6 hours' THEN '1h_6h'
                WHEN s.since > $1 - interval '24 hours' THEN '6h_24h'
                ELSE 'gt_24h' END AS age,
           min(s.threshold) AS threshold, min(s.threshold_source) AS threshold_source,
           min(s.samples) AS samples, count(*)::int AS n, min(s.since) AS oldest
    FROM s
    GROUP BY 1, 2, 3, 4
)
SELECT
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'provider_key', g.provider_key, 'channel', g.channel, 'status', g.status,
                'age', g.age, 'threshold_seconds', extract(epoch FROM g.threshold)::float8,
                'threshold_source', g.threshold_source, 'samples', g.samples, 'n', g.n,
                'oldest', g.oldest)
            ORDER BY g.provider_key, g.channel, g.status, g.age), '[]')
     FROM counted g) AS summary,
    (SELECT coalesce(jsonb_agg(p ORDER BY p.stuck_at DESC, p.message_id DESC), '[]')
     FROM (SELECT s.message_id, s.provider_key, s.channel, s.status, s.since, s.stuck_at,
                  extract(epoch FROM s.threshold)::float8 AS threshold_seconds,
                  s.threshold_source, s.samples
           FROM s
           WHERE $9::timestamptz IS NULL OR (s.stuck_at, s.message_id) < ($9, $10::bigint)
           ORDER BY s.stuck_at DESC, s.message_id DESC
           LIMIT $11) p) AS page;

-- name: stuck_thresholds
-- The threshold `dlrecon_stuck` uses at $1 for every provider key and channel, and why
-- (learning one reads a week of messages: on-call keeps them a few minutes).
SELECT t.provider_key, t.channel, extract(epoch FROM t.threshold)::float8 AS seconds,
       t.threshold_source, t.samples
FROM dlrecon_stuck_thresholds($1, $2, $3, $4) t;
