-- name: ingest_batches_record
-- Record one send of each batch of a group commit (parallel arrays); a re-send adds to sends and accepted.
INSERT INTO ingest_batches AS b (sign_id, batch_id, kind, records, accepted, rejected)
SELECT * FROM unnest(%(sign_ids)b::integer[], %(batch_ids)b::uuid[], %(kinds)b::text[],
                     %(records)b::integer[], %(accepted)b::integer[], %(rejected)b::integer[])
ORDER BY 1, 2
ON CONFLICT (sign_id, batch_id) DO UPDATE
SET sends = b.sends + 1, last_at = now(), accepted = b.accepted + excluded.accepted,
    rejected = excluded.rejected

-- name: ingest_deployments_of_sign
-- Every deployment of one sign (site and display mode over time), oldest first.
SELECT sign_id, valid_from, valid_to, site_id, display FROM deployments
WHERE sign_id = %(sign_id)s ORDER BY valid_from

-- name: ingest_binned_insert
-- One pre-binned count from a sign; a count already stored under the same key is kept (returns no row).
INSERT INTO binned_counts (site_id, sign_id, direction, display, period_start, period_end,
                           speed_lo, speed_hi, count, source, source_key)
VALUES (%(site_id)s, %(sign_id)s, %(direction)s, %(display)s, %(start)s, %(end)s,
        %(lo)s, %(hi)s, %(count)s, 'sign-upload', %(key)s)
ON CONFLICT (source, source_key) DO NOTHING
RETURNING id

-- name: ingest_heartbeat_insert
-- A sign's heartbeat as uploaded over HTTP; one already stored at that instant is kept as it is.
INSERT INTO sign_heartbeats (sign_id, time, battery_v, temperature_c, clock_offset_s,
                             configured_limit_kmh, detail)
VALUES (%(sign_id)s, %(time)s, %(battery_v)s, %(temperature_c)s, %(clock_offset_s)s,
        %(configured_limit_kmh)s, %(detail)s)
ON CONFLICT (sign_id, time) DO NOTHING
RETURNING time

-- name: bench_api_sign
-- A benchmark sign deployed (stealth) since 2020 at a site of its own on the street of %(site_id)s, with an upload token hash.
WITH site AS (INSERT INTO sites (street_id, name) SELECT street_id, 'Bench ' || %(serial)s FROM sites WHERE id = %(site_id)s
              RETURNING id),
     s AS (INSERT INTO signs (serial_number, vendor, model, protocol) VALUES (%(serial)s, 'Bench', 'B1', 'ops-json') RETURNING id),
     d AS (INSERT INTO deployments (sign_id, site_id, valid_from, display)
           SELECT s.id, site.id, timestamptz '2020-01-01 00:00Z', 0 FROM s, site),
     t AS (INSERT INTO api_tokens (sign_id, token_hash, label) SELECT id, %(token_hash)s, 'bench' FROM s)
SELECT id FROM s

-- name: bench_api_counts
-- Passes stored, passes in the hourly rollups, and the transactions that stored them (by xmin).
SELECT (SELECT count(*) FROM readings) AS readings, (SELECT coalesce(sum(n), 0) FROM rollup_hourly) AS rolled,
       (SELECT count(DISTINCT xmin::text) FROM readings) AS transactions

-- name: ingest_live_sign_tokens
-- Which of the given upload-token hashes are live (not revoked, their sign still there); the
-- group commit's check of its uploads' tokens, in its own transaction.
SELECT t.token_hash FROM api_tokens t JOIN signs s ON s.id = t.sign_id
WHERE t.token_hash = ANY(%(hashes)s::bytea[]) AND t.revoked_at IS NULL

-- name: ingest_live_notify
-- The group commit's live announcements (``live.payloads``), one NOTIFY per message, delivered on
-- commit; the messages as a binary parameter (as text every JSON message is escaped for the array
-- literal: measured, a sixth of the writer thread's time).
SELECT pg_notify(%(channel)s, payload) FROM unnest(%(payloads)b::text[]) AS payload
