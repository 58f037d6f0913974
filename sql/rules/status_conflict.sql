-- status_conflict: one message part reported both delivered (or read) and failed (or expired,
-- rejected) by the cut-off. Amount: the value charged (whether it is owed is in doubt).
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
SELECT 'status_conflict', 'message:' || f.message_id, f.provider_key, f.message_id, f.value,
       CASE WHEN f.value IS NOT NULL THEN f.currency END,
       format('%s message %s has contradictory final statuses (%s); it counts as %s',
              f.provider_key, f.message_id, c.statuses, f.status),
       jsonb_build_object('status', f.status, 'events', c.events)
FROM run_params p
JOIN run_facts f ON f.conflict
CROSS JOIN LATERAL (
    SELECT string_agg(DISTINCT e.raw_status || ' = ' || e.status, ', ') AS statuses,
           jsonb_agg(jsonb_build_object('event_id', e.id, 'inbox_id', e.inbox_id,
                                        'part_no', e.part_no, 'raw_status', e.raw_status,
                                        'status', e.status, 'provider_time', e.provider_time,
                                        'received_at', e.received_at) ORDER BY e.id) AS events
    FROM events e
    WHERE e.message_id = f.message_id
      AND (dlrecon_status_success(e.status) OR dlrecon_status_failure(e.status))
      AND dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) <= p.as_of
) c
WHERE p.run_id = $1;
