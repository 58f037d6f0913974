-- duplicate_send: a message with the same destination and text as an earlier one (of any
-- provider key) sent at most the duplicate window before it; messages sent that long before
-- the window count as earlier ones. Amount: the later message's cost basis. (Texts are
-- grouped by their hash first; only messages sharing one are compared by their text.)
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
WITH sent AS (
    SELECT f.message_id, f.destination, f.text_hash, f.sent_at
    FROM run_facts f
    WHERE f.text_hash IS NOT NULL AND f.destination IS NOT NULL
    UNION ALL
    SELECT m.id, m.destination, hashtext(m.body_text), m.submitted_at
    FROM run_params p
    JOIN messages m
      ON m.submitted_at >= p.window_from - p.duplicate_window AND m.submitted_at < p.window_from
     AND m.registered_at <= p.as_of AND m.body_text IS NOT NULL AND m.destination IS NOT NULL
    WHERE p.run_id = $1
),
candidates AS (
    SELECT s.message_id, s.destination, s.sent_at, m.body_text
    FROM (SELECT destination, text_hash FROM sent GROUP BY 1, 2 HAVING count(*) > 1) r
    JOIN sent s ON s.destination = r.destination AND s.text_hash = r.text_hash
    JOIN messages m ON m.id = s.message_id
),
ordered AS (
    SELECT c.message_id, c.sent_at,
           lag(c.message_id) OVER w AS earlier_id, lag(c.sent_at) OVER w AS earlier_at
    FROM candidates c
    WINDOW w AS (PARTITION BY c.destination, c.body_text ORDER BY c.sent_at, c.message_id)
)
SELECT 'duplicate_send', 'message:' || f.message_id, f.provider_key, f.message_id,
       f.cost_basis, f.cost_basis_currency,
       format('%s message %s repeats message %s (same destination and text) %s later',
              f.provider_key, f.message_id, o.earlier_id, o.sent_at - o.earlier_at),
       jsonb_build_object('earlier_message_id', o.earlier_id, 'earlier_sent_at', o.earlier_at,
                          'sent_at', o.sent_at, 'cost_basis', f.cost_basis_source)
FROM run_params p
JOIN ordered o ON o.earlier_id IS NOT NULL AND o.sent_at - o.earlier_at <= p.duplicate_window
JOIN run_facts f ON f.message_id = o.message_id
WHERE p.run_id = $1;
