-- unpriced: final at the cut-off, sent longer than the grace period before it, and without
-- any cost: no rate card row, none reported by the provider, no invoice line, none registered.
-- Amount: none (the cost is what is unknown).
INSERT INTO run_findings (rule, subject, provider_key, message_id, explanation, evidence)
SELECT 'unpriced', 'message:' || f.message_id, f.provider_key, f.message_id,
       format('%s %s message %s (%s) has no cost: no rate card for %s, none reported, '
              'invoiced or registered', f.provider_key, f.channel, f.message_id, f.status,
              coalesce(f.destination, 'its destination')),
       jsonb_build_object('status', f.status, 'sent_at', f.sent_at,
                          'destination', f.destination, 'channel', f.channel)
FROM run_params p
JOIN run_facts f
  ON f.final AND f.sent_at <= p.as_of - p.unpriced_grace AND f.rate_card_id IS NULL
 AND f.provider_cost IS NULL AND f.billed_lines = 0 AND f.cost IS NULL
WHERE p.run_id = $1;
