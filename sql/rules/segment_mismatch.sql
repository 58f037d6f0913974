-- segment_mismatch: an SMS whose registered or invoiced segment count differs from the count
-- its text needs (GSM-7 160/153, UCS-2 70/67: `dlrecon_sms_segments`). Amount: the largest
-- difference in segments times the rate card's price per segment (none without a rate card).
INSERT INTO run_findings (rule, subject, provider_key, message_id, amount, currency,
                          explanation, evidence)
SELECT 'segment_mismatch', 'message:' || f.message_id, f.provider_key, f.message_id,
       f.rate_price * greatest(abs(coalesce(f.segments, f.text_segments) - f.text_segments),
                               abs(coalesce(f.billed_segments, f.text_segments) - f.text_segments)),
       f.rate_currency,
       format('%s message %s: its %s text of %s characters needs %s segment(s); %s',
              f.provider_key, f.message_id, dlrecon_sms_encoding(m.body_text),
              length(m.body_text), f.text_segments,
              concat_ws(' and ',
                  CASE WHEN f.segments <> f.text_segments
                       THEN format('registered %s', f.segments) END,
                  CASE WHEN f.billed_segments <> f.text_segments
                       THEN format('invoiced %s', f.billed_segments) END)),
       jsonb_build_object('computed', f.text_segments,
                          'encoding', dlrecon_sms_encoding(m.body_text),
                          'characters', length(m.body_text), 'registered', f.segments,
                          'invoiced', f.billed_segments, 'rate_card_id', f.rate_card_id,
                          'price_per_segment', f.rate_price::text,
                          'invoice_line_ids', (SELECT coalesce(jsonb_agg(l.line_id ORDER BY l.line_id), '[]') FROM run_lines l WHERE l.message_id = f.message_id))
FROM run_params p
JOIN run_facts f
  ON f.channel = 'sms' AND f.text_segments IS NOT NULL
 AND (f.segments <> f.text_segments OR f.billed_segments <> f.text_segments)
JOIN messages m ON m.id = f.message_id
WHERE p.run_id = $1;
