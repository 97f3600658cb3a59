-- Uploads from signs over HTTP (POST /api/v1/ingest/...): one row per sign and batch id.
-- Records are idempotent by their own keys (readings.idem_key, binned_counts.source_key); this
-- table says which batches a sign sent, how often (a re-send after a timeout or a server
-- restart adds to `sends`, never to `accepted`), and what became of their records.
CREATE TABLE ingest_batches (
    sign_id     integer NOT NULL REFERENCES signs (id),
    batch_id    uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('passes', 'binned', 'csv')),
    first_at    timestamptz NOT NULL DEFAULT now(),
    last_at     timestamptz NOT NULL DEFAULT now(),
    sends       integer NOT NULL DEFAULT 1 CHECK (sends > 0),
    records     integer NOT NULL CHECK (records >= 0),     -- records in the batch as sent
    accepted    integer NOT NULL CHECK (accepted >= 0),    -- records stored, over all sends
    rejected    integer NOT NULL CHECK (rejected >= 0),    -- records refused at the last send
    PRIMARY KEY (sign_id, batch_id)
);
CREATE INDEX ingest_batches_last_at ON ingest_batches (last_at);
