-- stuck: not final at the cut-off and open for longer than the provider key's and channel's
-- threshold (configured, learned or default: `dlrecon_stuck`, the definition on-call and the
-- poller use too). Amount: the value charged for it (revenue whose delivery is unconfirmed).
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
SELECT 'stuck', 'message:' || f.message_id, f.provider_key, f.message_id, f.value,
       CASE WHEN f.value IS NOT NULL THEN f.currency END,
       format('%s %s message %s is still %s, %s after it was sent (threshold %s, %s)',
              f.provider_key, f.channel, f.message_id, s.status,
              justify_hours(date_trunc('second', p.as_of - s.since)), s.threshold,
              s.threshold_source),
       jsonb_build_object('status', s.status, 'since', s.since,
                          'threshold_seconds', extract(epoch FROM s.threshold),
                          'threshold_source', s.threshold_source, 'samples', s.samples)
FROM run_params p
CROSS JOIN LATERAL dlrecon_stuck(p.as_of, p.stuck_configured, p.stuck_default,
                                 p.stuck_min_samples) s
JOIN run_facts f ON f.message_id = s.message_id
WHERE p.run_id = $1;
