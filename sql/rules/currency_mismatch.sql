-- currency_mismatch: an invoice line in another currency than its message's value and cost;
-- it is never added to amounts of the message's currency. Amount: the line's amount, in its
-- own currency.
INSERT INTO run_findings (rule, subject, provider_key, message_id, invoice_line_id, amount,
                          currency, explanation, evidence)
SELECT 'currency_mismatch', 'invoice_line:' || l.line_id, l.provider_key, l.message_id,
       l.line_id, l.amount, l.currency,
       format('%s invoice %s line %s bills message %s %s %s, but the message is in %s',
              l.provider_key, i.invoice_id, l.line_no, l.message_id, l.amount, l.currency,
              f.currency),
       jsonb_build_object('invoice_id', i.invoice_id, 'file', i.file_name, 'line_no', l.line_no,
                          'line_currency', l.currency, 'message_currency', f.currency)
FROM run_params p
JOIN run_facts f
  ON f.currency IS NOT NULL
 AND (f.billed_lowest_currency <> f.currency OR f.billed_highest_currency <> f.currency)
JOIN run_lines l ON l.message_id = f.message_id AND l.currency <> f.currency
JOIN import_files i ON i.id = l.file_id
WHERE p.run_id = $1;
