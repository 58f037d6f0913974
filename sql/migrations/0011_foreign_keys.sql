-- Foreign keys that no query needs and that the processor paid for on every event.
--
-- `events.inbox_id` and `polls.inbox_id` checked each new row against the inbox with a
-- FOR KEY SHARE lock, which writes the inbox row's header: the inbox, written once since
-- migration 0010, was dirtied again by every event stored from it, and raw inbox partitions
-- could not be dropped once archived (dlrecon retention). `events.message_id` checked each
-- matched event against `messages`: the processor only sets a message id it has just read
-- from `message_parts` or `messages` in the same statement, and messages are never deleted.
-- The indexes kept, each with the query it serves, are listed in docs/scaling.md.
ALTER TABLE events DROP CONSTRAINT events_inbox_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_message_id_fkey;
ALTER TABLE polls DROP CONSTRAINT polls_inbox_id_fkey;
