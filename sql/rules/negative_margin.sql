-- negative_margin: the message cost more than it was sold for. Cost: its cost basis in the
-- message's currency (invoiced, else provider-reported, else rate card x segments, else the
-- cost registered with it). Amount: cost minus value.
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
SELECT 'negative_margin', 'message:' || f.message_id, f.provider_key, f.message_id,
       f.cost_basis - f.value, f.currency,
       format('%s message %s cost %s %s (%s) but was sold for %s %s: a loss of %s %s',
              f.provider_key, f.message_id, f.cost_basis, f.currency,
              replace(f.cost_basis_source, '_', ' '), f.value, f.currency,
              f.cost_basis - f.value, f.currency),
       jsonb_build_object('value', f.value::text, 'cost', f.cost_basis::text,
                          'cost_basis', f.cost_basis_source, 'rate_card_id', f.rate_card_id,
                          'invoice_line_ids', (SELECT coalesce(jsonb_agg(l.line_id ORDER BY l.line_id), '[]') FROM run_lines l WHERE l.message_id = f.message_id))
FROM run_params p
JOIN run_facts f
  ON f.value IS NOT NULL AND f.cost_basis_currency = f.currency AND f.cost_basis > f.value
WHERE p.run_id = $1;
