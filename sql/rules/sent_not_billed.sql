-- sent_not_billed: a delivered (or read) message on no invoice line, although the provider
-- key's invoice lines of the run cover the time it was sent (from its first to its last line
-- billed). Amount: its cost basis (what the provider may still bill).
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
WITH coverage AS (
    SELECT l.provider_key, min(l.billed_at) AS first_billed, max(l.billed_at) AS last_billed
    FROM run_lines l
    GROUP BY l.provider_key
)
SELECT 'sent_not_billed', 'message:' || f.message_id, f.provider_key, f.message_id,
       f.cost_basis, f.cost_basis_currency,
       format('%s message %s was %s but is on no invoice line (the invoices cover %s to %s)',
              f.provider_key, f.message_id, f.status, c.first_billed, c.last_billed),
       jsonb_build_object('status', f.status, 'sent_at', f.sent_at,
                          'first_billed', c.first_billed, 'last_billed', c.last_billed,
                          'cost_basis', f.cost_basis_source, 'rate_card_id', f.rate_card_id)
FROM run_params p
JOIN run_facts f ON dlrecon_status_success(f.status) AND f.billed_lines = 0
JOIN coverage c
  ON c.provider_key = f.provider_key AND f.sent_at >= c.first_billed AND f.sent_at <= c.last_billed
WHERE p.run_id = $1;
