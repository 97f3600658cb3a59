-- A control log that survives a flaky connection: the form carries a key the client made once
-- (a UUID in a hidden field); the same key sent again names the control already stored.

ALTER TABLE controls ADD COLUMN client_key uuid;

CREATE UNIQUE INDEX controls_client_key ON controls (client_key) WHERE client_key IS NOT NULL;
