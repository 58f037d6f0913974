-- cost_mismatch: two of the expected cost (rate card x segments), the provider-reported cost
-- and the invoiced amount, of one currency, differ beyond the provider key's tolerance
-- (absolute and relative). Amount: the largest such difference.
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
WITH tolerance AS (
    SELECT k.provider_key,
           coalesce(p.config #>> ARRAY['providers', k.provider_key, 'cost_tolerance_absolute'],
                    p.config #>> '{defaults,cost_tolerance_absolute}')::numeric AS absolute,
           coalesce(p.config #>> ARRAY['providers', k.provider_key, 'cost_tolerance_relative'],
                    p.config #>> '{defaults,cost_tolerance_relative}')::numeric AS relative
    FROM run_params p
    CROSS JOIN (SELECT DISTINCT provider_key FROM run_facts) k
    WHERE p.run_id = $1
),
checked AS (
    SELECT f.*, t.absolute, t.relative,
           f.rate_currency = f.billed_currency
               AND dlrecon_money_differs(f.expected_cost, f.billed_amount, t.absolute, t.relative)
               AS card_invoice,
           f.rate_currency = f.provider_currency
               AND dlrecon_money_differs(f.expected_cost, f.provider_cost, t.absolute, t.relative)
               AS card_reported,
           f.provider_currency = f.billed_currency
               AND dlrecon_money_differs(f.provider_cost, f.billed_amount, t.absolute, t.relative)
               AS reported_invoice
    FROM run_facts f
    JOIN tolerance t ON t.provider_key = f.provider_key
),
flagged AS (
    SELECT c.*, d.amount, d.currency AS amount_currency
    FROM checked c
    CROSS JOIN LATERAL (
        SELECT x.amount, x.currency
        FROM (VALUES (c.card_invoice, abs(c.expected_cost - c.billed_amount), c.rate_currency),
                     (c.card_reported, abs(c.expected_cost - c.provider_cost), c.rate_currency),
                     (c.reported_invoice, abs(c.provider_cost - c.billed_amount),
                      c.provider_currency)) x(differs, amount, currency)
        WHERE x.differs
        ORDER BY x.amount DESC
        LIMIT 1
    ) d
    WHERE c.card_invoice OR c.card_reported OR c.reported_invoice
)
SELECT 'cost_mismatch', 'message:' || f.message_id, f.provider_key, f.message_id, f.amount,
       f.amount_currency,
       format('%s message %s: %s; differ by %s %s (tolerance %s, %s)', f.provider_key,
              f.message_id,
              concat_ws(', ',
                  CASE WHEN f.expected_cost IS NOT NULL
                       THEN format('rate card %s %s (prefix %s, %s x %s)', f.expected_cost,
                                   f.rate_currency, f.rate_prefix, f.rate_price,
                                   f.segments_basis) END,
                  CASE WHEN f.provider_cost IS NOT NULL
                       THEN format('reported %s %s', f.provider_cost, f.provider_currency) END,
                  CASE WHEN f.billed_amount IS NOT NULL
                       THEN format('invoiced %s %s', f.billed_amount, f.billed_currency) END),
              f.amount, f.amount_currency, f.absolute, f.relative),
       jsonb_build_object('expected', f.expected_cost::text, 'expected_currency', f.rate_currency,
                          'rate_card_id', f.rate_card_id, 'segments', f.segments_basis,
                          'reported', f.provider_cost::text, 'reported_currency', f.provider_currency,
                          'invoiced', f.billed_amount::text, 'invoiced_currency', f.billed_currency,
                          'invoice_line_ids', (SELECT coalesce(jsonb_agg(l.line_id ORDER BY l.line_id), '[]') FROM run_lines l WHERE l.message_id = f.message_id),
                          'tolerance_absolute', f.absolute::text,
                          'tolerance_relative', f.relative::text)
FROM flagged f;
