-- charged_not_delivered: the customer was charged (value > 0) and the message failed, expired
-- or was rejected at the cut-off: a refund candidate. Amount: the value charged.
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
SELECT 'charged_not_delivered', 'message:' || f.message_id, f.provider_key, f.message_id,
       f.value, f.currency,
       format('%s message %s was charged %s %s but is %s%s', f.provider_key, f.message_id,
              f.value, f.currency, f.status,
              CASE WHEN f.error_code IS NOT NULL
                   THEN format(' (%s%s)', f.error_code,
                               CASE WHEN f.error_class IS NOT NULL
                                    THEN ', ' || f.error_class ELSE '' END)
                   ELSE '' END),
       jsonb_build_object('status', f.status, 'status_at', f.status_at,
                          'error_code', f.error_code, 'error_class', f.error_class,
                          'value', f.value::text)
FROM run_params p
JOIN run_facts f ON dlrecon_status_failure(f.status) AND f.value > 0
WHERE p.run_id = $1;
