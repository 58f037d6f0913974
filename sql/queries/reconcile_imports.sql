-- name: lock_rate_card_imports
-- Rate card imports one at a time: the overlap check below relies on it.
SELECT pg_advisory_xact_lock(hashtext('dlrecon.rate_cards'));

-- name: lock_invoice_import
SELECT pg_advisory_xact_lock(hashtext('dlrecon.invoice'), hashtext($1 || '/' || $2));

-- name: find_invoice
SELECT id, sha256, file_name, imported_at, lines_read, lines_imported, lines_refused
FROM import_files
WHERE kind = 'invoice' AND provider_key = $1 AND invoice_id = $2;

-- name: insert_import_file
INSERT INTO import_files (kind, provider_key, invoice_id, file_name, sha256, imported_at,
                          lines_read, lines_imported, lines_refused, lines_present)
VALUES ($1, $2, $3, $4, $5, clock_timestamp(), 0, 0, 0, 0)
RETURNING id;

-- name: finish_import_file
-- The lines become visible to reconciliation now (just before the commit).
UPDATE import_files
SET lines_read = $2, lines_imported = $3, lines_refused = $4, lines_present = $5,
    imported_at = clock_timestamp()
WHERE id = $1;

-- name: create_invoice_staging
CREATE TEMP TABLE invoice_staging (
    line_no int NOT NULL,
    width int NOT NULL,
    refusal text,
    provider_message_id text,
    client_ref text,
    billed_at text,
    destination text,
    segments text,
    amount text,
    currency text,
    canonical_id text
) ON COMMIT DROP;

-- name: load_invoice_lines
-- Check every staged line ($1 file, $2 provider key, $3 header width, $4 date pattern, $5 its
-- groups, $6 time zone, $7 decimal separator, $8 sign (1 or -1), $9 default currency, $10 the
-- ISO 4217 codes, $11 the date format as configured): good lines go to invoice_lines, the
-- others to import_refusals with the first reason that refuses them.
WITH checked AS (
    SELECT s.line_no, s.width, s.refusal,
           nullif(btrim(s.provider_message_id), '') AS raw_id,
           nullif(btrim(s.canonical_id), '') AS canonical_id,
           nullif(btrim(s.client_ref), '') AS client_ref,
           nullif(btrim(s.billed_at), '') AS billed_text, bt.ok AS billed_ok,
           bt.value AS billed_at,
           nullif(btrim(s.destination), '') AS destination,
           nullif(btrim(s.segments), '') AS segments_text,
           nullif(btrim(s.amount), '') AS amount_text, am.ok AS amount_ok,
           am.value * $8::int AS amount,
           coalesce(nullif(upper(btrim(s.currency)), ''), $9::text) AS currency
    FROM invoice_staging s
    CROSS JOIN LATERAL dlrecon_parse_timestamp(s.billed_at, $4::text, $5::int[], $6::text) bt
    CROSS JOIN LATERAL dlrecon_parse_decimal(s.amount, $7::text) am
),
judged AS (
    SELECT c.*,
           CASE
               WHEN c.refusal IS NOT NULL THEN c.refusal
               WHEN c.width <> $3::int THEN format('expected %s fields, found %s', $3::int, c.width)
               WHEN c.raw_id IS NULL AND c.client_ref IS NULL
                   THEN 'neither provider_message_id nor client_ref is given'
               WHEN length(c.raw_id) > 256 OR length(c.client_ref) > 256
                   THEN 'provider_message_id or client_ref is longer than 256 characters'
               WHEN c.billed_text IS NULL THEN 'billed_at is missing'
               WHEN NOT c.billed_ok
                   THEN format('billed_at %s is not a date in the format %s',
                               quote_literal(left(c.billed_text, 60)), $11::text)
               WHEN c.amount_text IS NULL THEN 'amount is missing'
               WHEN NOT c.amount_ok
                   THEN format('amount %s is not a decimal number (decimal separator %s)',
                               quote_literal(left(c.amount_text, 60)), quote_literal($7::text))
               WHEN c.amount < 0
                   THEN format('amount %s is negative (credits are not imported)', c.amount_text)
               WHEN c.currency IS NULL THEN 'currency is missing'
               WHEN NOT c.currency = ANY($10::text[])
                   THEN format('currency %s is not an ISO 4217 code',
                               quote_literal(left(c.currency, 20)))
               WHEN c.segments_text IS NOT NULL AND c.segments_text !~ '^[+-]?[0-9]{1,9}$'
                   THEN format('segments %s is not a whole number',
                               quote_literal(left(c.segments_text, 20)))
               WHEN c.segments_text::int < 0
                   THEN format('segments %s is negative', c.segments_text)
               WHEN c.segments_text::int = 0 THEN 'segments must be at least 1'
               WHEN length(c.destination) > 64 THEN 'destination is longer than 64 characters'
           END AS reason
    FROM checked c
),
refused AS (
    INSERT INTO import_refusals (file_id, line_no, reason)
    SELECT $1::bigint, j.line_no, j.reason FROM judged j WHERE j.reason IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
),
imported AS (
    INSERT INTO invoice_lines (file_id, line_no, provider_key, provider_message_id,
                               raw_message_id, client_ref, billed_at, destination, segments,
                               amount, currency)
    SELECT $1::bigint, j.line_no, $2::text, j.canonical_id, j.raw_id, j.client_ref, j.billed_at,
           j.destination, j.segments_text::int, j.amount, j.currency
    FROM judged j
    WHERE j.reason IS NULL
    ORDER BY j.line_no
    RETURNING 1
)
SELECT (SELECT count(*) FROM judged)::int AS read,
       (SELECT count(*) FROM imported)::int AS imported,
       (SELECT count(*) FROM refused)::int AS refused;

-- name: create_rate_card_staging
CREATE TEMP TABLE rate_card_staging (
    line_no int NOT NULL,
    width int NOT NULL,
    refusal text,
    provider text,
    channel text,
    prefix text,
    price_per_segment text,
    currency text,
    valid_from text,
    valid_to text
) ON COMMIT DROP;

-- name: load_rate_cards
-- Check every staged line ($1 file, $2 header width, $3 the configured provider keys, $4 the
-- ISO 4217 codes, $5 ISO country codes and $6 their calling codes, $7 the date pattern and $8
-- its groups): good lines go to rate_cards, except those identical to a row already there
-- (present); a line whose validity overlaps an earlier line of the file, or a row already
-- there, for the same provider key, channel and prefix is refused, naming the other.
WITH checked AS (
    SELECT s.line_no, s.width, s.refusal,
           nullif(btrim(s.provider), '') AS provider_key,
           lower(nullif(btrim(s.channel), '')) AS channel,
           nullif(btrim(s.prefix), '') AS prefix_given,
           CASE WHEN btrim(s.prefix) ~ '^\+?[0-9]{1,15}$' THEN ltrim(btrim(s.prefix), '+')
                WHEN upper(btrim(s.prefix)) ~ '^[A-Z]{2}$'
                    THEN (SELECT r.code FROM unnest($5::text[], $6::text[]) AS r(region, code)
                          WHERE r.region = upper(btrim(s.prefix)))
           END AS prefix,
           nullif(btrim(s.price_per_segment), '') AS price_text, pr.ok AS price_ok,
           pr.value AS price,
           upper(nullif(btrim(s.currency), '')) AS currency,
           nullif(btrim(s.valid_from), '') AS from_text, vf.ok AS from_ok, vf.value AS valid_from,
           nullif(btrim(s.valid_to), '') AS to_text, vt.ok AS to_ok, vt.value AS valid_to
    FROM rate_card_staging s
    CROSS JOIN LATERAL dlrecon_parse_decimal(s.price_per_segment, '.') pr
    CROSS JOIN LATERAL dlrecon_parse_timestamp(s.valid_from, $7, $8, 'UTC') vf
    CROSS JOIN LATERAL dlrecon_parse_timestamp(s.valid_to, $7, $8, 'UTC') vt
),
judged AS (
    SELECT c.*,
           CASE
               WHEN c.refusal IS NOT NULL THEN c.refusal
               WHEN c.width <> $2 THEN format('expected %s fields, found %s', $2, c.width)
               WHEN c.provider_key IS NULL THEN 'provider is missing'
               WHEN NOT c.provider_key = ANY($3)
                   THEN format('provider %s is not a configured provider key',
                               quote_literal(left(c.provider_key, 60)))
               WHEN c.channel IS NULL OR c.channel NOT IN ('sms', 'whatsapp', 'voice')
                   THEN format('channel %s is not sms, whatsapp or voice',
                               quote_literal(left(coalesce(c.channel, ''), 20)))
               WHEN c.prefix_given IS NULL THEN 'prefix is missing'
               WHEN c.prefix IS NULL
                   THEN format('prefix %s is neither E.164 digits nor an ISO country code',
                               quote_literal(left(c.prefix_given, 20)))
               WHEN c.price_text IS NULL THEN 'price_per_segment is missing'
               WHEN NOT c.price_ok
                   THEN format('price_per_segment %s is not a decimal number',
                               quote_literal(left(c.price_text, 60)))
               WHEN c.price < 0 THEN 'price_per_segment is negative'
               WHEN c.currency IS NULL THEN 'currency is missing'
               WHEN NOT c.currency = ANY($4)
                   THEN format('currency %s is not an ISO 4217 code',
                               quote_literal(left(c.currency, 20)))
               WHEN c.from_text IS NULL THEN 'valid_from is missing'
               WHEN NOT c.from_ok
                   THEN format('valid_from %s is not an ISO 8601 date',
                               quote_literal(left(c.from_text, 60)))
               WHEN c.to_text IS NOT NULL AND NOT c.to_ok
                   THEN format('valid_to %s is not an ISO 8601 date',
                               quote_literal(left(c.to_text, 60)))
               WHEN c.valid_to <= c.valid_from THEN 'valid_to is not after valid_from'
           END AS reason
    FROM checked c
),
good AS MATERIALIZED (
    SELECT * FROM judged WHERE reason IS NULL
),
overlaps_in_file AS (
    SELECT DISTINCT ON (a.line_no) a.line_no,
           format('overlaps line %s (%s %s prefix %s, %s to %s)', b.line_no, b.provider_key,
                  b.channel, b.prefix, b.valid_from, coalesce(b.valid_to::text, 'open end'))
               AS reason
    FROM good a
    JOIN good b
      ON b.provider_key = a.provider_key AND b.channel = a.channel AND b.prefix = a.prefix
     AND b.line_no < a.line_no
     AND tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to)
    ORDER BY a.line_no, b.line_no
),
present AS (
    SELECT g.line_no
    FROM good g
    WHERE EXISTS (SELECT 1 FROM rate_cards rc
                  WHERE rc.provider_key = g.provider_key AND rc.channel = g.channel
                    AND rc.prefix = g.prefix AND rc.valid_from = g.valid_from
                    AND rc.valid_to IS NOT DISTINCT FROM g.valid_to
                    AND rc.price_per_segment = g.price AND rc.currency = g.currency)
      AND NOT EXISTS (SELECT 1 FROM overlaps_in_file o WHERE o.line_no = g.line_no)
),
overlaps_existing AS (
    SELECT DISTINCT ON (g.line_no) g.line_no,
           format('overlaps %s line %s (%s %s prefix %s, %s to %s, %s %s)', f.file_name,
                  rc.line_no, rc.provider_key, rc.channel, rc.prefix, rc.valid_from,
                  coalesce(rc.valid_to::text, 'open end'), rc.price_per_segment, rc.currency)
               AS reason
    FROM good g
    JOIN rate_cards rc
      ON rc.provider_key = g.provider_key AND rc.channel = g.channel AND rc.prefix = g.prefix
     AND tstzrange(rc.valid_from, rc.valid_to) && tstzrange(g.valid_from, g.valid_to)
    JOIN import_files f ON f.id = rc.file_id
    WHERE NOT EXISTS (SELECT 1 FROM present p WHERE p.line_no = g.line_no)
      AND NOT EXISTS (SELECT 1 FROM overlaps_in_file o WHERE o.line_no = g.line_no)
    ORDER BY g.line_no, rc.id
),
refusals AS (
    SELECT line_no, reason FROM judged WHERE reason IS NOT NULL
    UNION ALL SELECT line_no, reason FROM overlaps_in_file
    UNION ALL SELECT line_no, reason FROM overlaps_existing
),
refused AS (
    INSERT INTO import_refusals (file_id, line_no, reason)
    SELECT $1, r.line_no, r.reason FROM refusals r
    ON CONFLICT DO NOTHING
    RETURNING 1
),
imported AS (
    INSERT INTO rate_cards (provider_key, channel, prefix, prefix_given, price_per_segment,
                            currency, valid_from, valid_to, file_id, line_no)
    SELECT g.provider_key, g.channel, g.prefix, g.prefix_given, g.price, g.currency,
           g.valid_from, g.valid_to, $1, g.line_no
    FROM good g
    WHERE NOT EXISTS (SELECT 1 FROM refusals r WHERE r.line_no = g.line_no)
      AND NOT EXISTS (SELECT 1 FROM present p WHERE p.line_no = g.line_no)
    ORDER BY g.line_no
    RETURNING 1
)
SELECT (SELECT count(*) FROM judged)::int AS read,
       (SELECT count(*) FROM imported)::int AS imported,
       (SELECT count(*) FROM refused)::int AS refused,
       (SELECT count(*) FROM present)::int AS present;

-- name: import_refusals
SELECT line_no, reason FROM import_refusals WHERE file_id = $1 ORDER BY line_no;
