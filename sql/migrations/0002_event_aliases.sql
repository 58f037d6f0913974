-- Other ids an event says its message part is also known by (e.g. Gupshup's WhatsApp id).
ALTER TABLE events ADD COLUMN aliases text[] NOT NULL DEFAULT '{}';
