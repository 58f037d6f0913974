-- billed_not_sent: an invoice line billed in the window that matches no message registered by
-- the cut-off (neither by the provider's message id nor by client reference). Amount: the
-- line's amount.
INSERT INTO run_findings (rule, subject, provider_key, invoice_line_id, amount, currency,
                          explanation, evidence)
SELECT 'billed_not_sent', 'invoice_line:' || l.line_id, l.provider_key, l.line_id, l.amount,
       l.currency,
       format('%s invoice %s line %s bills %s %s for %s, which matches no registered message',
              l.provider_key, i.invoice_id, l.line_no, l.amount, l.currency,
              coalesce('provider id ' || l.raw_message_id, 'client ref ' || l.client_ref)),
       jsonb_build_object('invoice_id', i.invoice_id, 'file', i.file_name,
                          'line_no', l.line_no, 'provider_message_id', l.raw_message_id,
                          'client_ref', l.client_ref, 'billed_at', l.billed_at,
                          'destination', l.destination)
FROM run_params p
JOIN run_lines l ON l.message_id IS NULL
JOIN import_files i ON i.id = l.file_id
WHERE p.run_id = $1;
