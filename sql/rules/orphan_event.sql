-- orphan_event: an event received in the window, longer than the grace period before the
-- cut-off, written by the cut-off, that matched no registered message by then. Amount: the
-- cost the event reports, if any.
INSERT INTO run_findings (rule, subject, provider_key, event_id, amount, currency,
                          explanation, evidence)
WITH orphans AS (
    SELECT e.*
    FROM run_params p
    JOIN events e
      ON e.message_id IS NULL AND e.received_at >= p.window_from AND e.received_at < p.window_to
     AND e.received_at <= p.as_of - p.orphan_grace AND coalesce(e.created_at, '-infinity') <= p.as_of
    WHERE p.run_id = $1
    UNION ALL
    SELECT e.*
    FROM run_params p
    JOIN events e
      ON dlrecon_event_seen_at(e.received_at, e.created_at, e.matched_at) > p.as_of
     AND e.message_id IS NOT NULL AND e.matched_at > p.as_of
     AND coalesce(e.created_at, '-infinity') <= p.as_of
     AND e.received_at >= p.window_from AND e.received_at < p.window_to
     AND e.received_at <= p.as_of - p.orphan_grace
    WHERE p.run_id = $1
)
SELECT 'orphan_event', 'event:' || o.id, o.provider_key, o.id, o.cost,
       CASE WHEN o.cost IS NOT NULL THEN o.currency END,
       format('%s %s event %s (%s) for %s, received %s, matches no registered message',
              o.provider_key, o.source, o.id, o.raw_status,
              coalesce('provider id ' || coalesce(o.raw_message_id, o.provider_message_id),
                       'client ref ' || o.client_ref,
                       'no id'), o.received_at),
       jsonb_build_object('event_id', o.id, 'inbox_id', o.inbox_id, 'source', o.source,
                          'provider_message_id', o.provider_message_id,
                          'client_ref', o.client_ref, 'raw_status', o.raw_status,
                          'status', o.status, 'received_at', o.received_at)
FROM orphans o;
