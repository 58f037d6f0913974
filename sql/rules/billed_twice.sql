-- billed_twice: one message part (its provider id, or its client ref when the line has none)
-- on more than one invoice line, on one invoice or on several. Amount: the lines after the
-- first (in one currency only).
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
WITH repeated AS (
    SELECT DISTINCT l.message_id, l.part_key FROM run_lines l WHERE l.duplicate
)
SELECT 'billed_twice', 'message:' || l.message_id || ':' || l.part_key, min(l.provider_key),
       l.message_id,
       CASE WHEN count(DISTINCT l.currency) = 1 THEN sum(l.amount) FILTER (WHERE l.duplicate) END,
       CASE WHEN count(DISTINCT l.currency) = 1 THEN min(l.currency) END,
       format('%s message %s (%s) is billed on %s lines: %s', min(l.provider_key), l.message_id,
              replace(l.part_key, ':', ' '), count(*),
              string_agg(format('%s line %s (%s %s)', i.invoice_id, l.line_no, l.amount,
                                l.currency), ', ' ORDER BY l.line_id)),
       jsonb_build_object('lines', jsonb_agg(jsonb_build_object(
                              'invoice_line_id', l.line_id, 'invoice_id', i.invoice_id,
                              'file', i.file_name, 'line_no', l.line_no, 'amount', l.amount::text,
                              'currency', l.currency, 'billed_at', l.billed_at)
                          ORDER BY l.line_id))
FROM run_params p
CROSS JOIN repeated r
JOIN run_lines l ON l.message_id = r.message_id AND l.part_key = r.part_key
JOIN import_files i ON i.id = l.file_id
WHERE p.run_id = $1
GROUP BY l.message_id, l.part_key;
