-- downstream_failure: the provider took the message, yet it failed (or its fate is unknown)
-- further down: a pass-through status that is a failure or unknown (Velip status_code 0 with
-- an upstream NA), or a failure after the provider accepted it at submission. Amount: its
-- cost basis (what the provider may bill for a message that did not arrive).
INSERT INTO run_findings (rule, subject, provider_key, message_id, event_id, amount, currency,
                          explanation, evidence)
SELECT DISTINCT ON (x.message_id)
       'downstream_failure', 'message:' || x.message_id, x.provider_key, x.message_id, x.event_id,
       x.cost_basis, x.cost_basis_currency, x.explanation, x.evidence
FROM (
    SELECT f.message_id, f.provider_key, e.id AS event_id, f.cost_basis, f.cost_basis_currency,
           1 AS preference,
           format('%s message %s is %s: the provider took it, but its upstream answered %s',
                  f.provider_key, f.message_id, f.status,
                  coalesce(e.details ->> 'downstream_status', e.raw_status)) AS explanation,
           jsonb_build_object('event_id', e.id, 'inbox_id', e.inbox_id,
                              'raw_status', e.raw_status,
                              'downstream_status', e.details ->> 'downstream_status',
                              'event_status', e.status, 'status', f.status,
                              'error_code', f.error_code, 'cost_basis', f.cost_basis_source)
               AS evidence
    FROM run_params p
    JOIN events e
      ON e.details ? 'downstream'
     AND (dlrecon_status_failure(e.status) OR dlrecon_status_uncertain(e.status))
     AND dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) <= p.as_of
    JOIN run_facts f ON f.message_id = e.message_id AND NOT dlrecon_status_success(f.status)
    WHERE p.run_id = $1
    UNION ALL
    SELECT f.message_id, f.provider_key, e.id, f.cost_basis, f.cost_basis_currency, 2,
           format('%s message %s was %s by the provider at submission, then %s%s',
                  f.provider_key, f.message_id, e.status, f.status,
                  CASE WHEN f.error_code IS NOT NULL THEN format(' (%s)', f.error_code) ELSE '' END),
           jsonb_build_object('event_id', e.id, 'raw_status', e.raw_status,
                              'event_status', e.status, 'status', f.status,
                              'error_code', f.error_code, 'error_class', f.error_class,
                              'cost_basis', f.cost_basis_source)
    FROM run_params p
    JOIN run_facts f ON dlrecon_status_failure(f.status)
    CROSS JOIN LATERAL (
        SELECT ev.id, ev.status, ev.raw_status
        FROM events ev
        WHERE ev.message_id = f.message_id AND ev.source = 'submit'
          AND dlrecon_status_accepted(ev.status)
          AND dlrecon_event_seen_at(ev.received_at, ev.created_at, ev.matched_at) <= p.as_of
        ORDER BY ev.id
        LIMIT 1
    ) e
    WHERE p.run_id = $1
) x
ORDER BY x.message_id, x.preference, x.event_id DESC;
