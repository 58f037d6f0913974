-- An error code and its class, kept together when a message's status is rolled up.
CREATE TYPE dlrecon_error AS (code text, class text);
