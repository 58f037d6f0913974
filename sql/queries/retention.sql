-- name: inbox_months
-- The inbox's monthly partitions (migration 0012), with what still needs each: rows pending
-- (queued), held or quarantined.
SELECT m.name, m.lower, m.upper,
       (SELECT count(*) FROM inbox_queue q
        WHERE q.received_at >= m.lower AND q.received_at < m.upper)::int AS pending,
       (SELECT count(*) FROM inbox_exceptions x
        WHERE x.received_at >= m.lower AND x.received_at < m.upper)::int AS exceptions
FROM dlrecon_inbox_months() AS m
ORDER BY m.lower;

-- name: inbox_month_rows
-- The stored requests of one month, in id order (read with a cursor, to archive them).
SELECT id, provider_key, source, method, path, query, headers, body, remote_addr,
       verification, verification_reason, received_at, poll_request, response_status
FROM inbox_requests
WHERE received_at >= $1 AND received_at < $2
ORDER BY id;

-- name: drop_inbox_month
-- Detach and drop one archived month ($1, with $2 rows archived); refused with the reason
-- when the month changed or still has rows to process (migration 0012).
SELECT dlrecon_drop_inbox_month($1, $2);

-- name: retention_lock_timeout
SET LOCAL lock_timeout = '10s';
