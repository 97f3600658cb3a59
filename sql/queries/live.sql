-- name: live_notify
-- Announce stored passes on the live channel, one message per payload; delivered on commit.
SELECT pg_notify(%(channel)s, payload) FROM unnest(%(payloads)s::text[]) AS payload

-- name: live_recent_passes
-- A sign's newest stored passes (received in the last days), newest first.
SELECT r.time, r.speed_kmh, r.direction, r.display, r.site_id
FROM readings r
WHERE r.sign_id = %(sign_id)s AND r.time >= %(since)s
ORDER BY r.time DESC
LIMIT %(limit)s

-- name: live_sign_status
-- A sign with its current site (time zone for local times) and its last heartbeat.
SELECT s.id AS sign_id, s.serial_number, s.protocol, st.id AS site_id, st.name AS site_name,
       coalesce(st.time_zone, %(default_tz)s) AS time_zone,
       h.time AS heartbeat_at, h.battery_v, h.temperature_c, h.clock_offset_s, h.configured_limit_kmh
FROM signs s
LEFT JOIN deployments d ON d.sign_id = s.id AND d.valid_from <= %(now)s
                       AND (d.valid_to IS NULL OR d.valid_to > %(now)s)
LEFT JOIN sites st ON st.id = d.site_id
LEFT JOIN LATERAL (SELECT * FROM sign_heartbeats hb WHERE hb.sign_id = s.id
                   ORDER BY hb.time DESC LIMIT 1) h ON true
WHERE s.id = %(sign_id)s

-- name: live_demo_signs
-- Signs standing at a site now, for the living demo's simulated uploads.
SELECT s.id, s.serial_number, s.protocol, s.unit
FROM signs s
JOIN deployments d ON d.sign_id = s.id AND d.valid_from <= %(now)s AND (d.valid_to IS NULL OR d.valid_to > %(now)s)
ORDER BY s.id

-- name: live_bench_stored
-- Passes stored in a benchmark's throw-away database.
SELECT count(*) AS n FROM readings
