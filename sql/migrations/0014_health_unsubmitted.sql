-- A message registered without a submit time counts as sent when it was registered, as
-- `dlrecon_stuck` (its `since`), reconciliation's window and the finance report count it:
-- provider health's windows and the stuck thresholds learned from history now do too. Before,
-- a sending system that gave no `submitted_at` had every provider "0 sent" in health (never
-- silent) and default stuck thresholds only.
CREATE INDEX messages_unsubmitted_registered ON messages (registered_at)
    WHERE submitted_at IS NULL;

CREATE OR REPLACE FUNCTION dlrecon_stuck_thresholds_of(
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
CREATE OR REPLACE FUNCTION dlrecon_stuck_thresholds(
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
