-- The findings that name a message, for its trace (GET /v1/messages/{id}, dlrecon trace).
CREATE INDEX findings_message ON findings (message_id) WHERE message_id IS NOT NULL;
-- The latest findings still to deal with, for the operations page.
CREATE INDEX findings_open_latest ON findings (last_seen_at DESC, id DESC)
    WHERE state IN ('open', 'acknowledged');
