-- name: figures_hours
-- One site's hourly rollups over [start, end), optionally one direction and one display mode
-- (NULL: all), with the legal limit in force at each hour (NULL: none recorded).
SELECT r.hour, r.direction, r.display, r.n, r.sum_kmh, r.sumsq_kmh, r.hist,
       array_lower(r.hist, 1) AS hist_lo, r.limit_kmh
FROM rollup_hourly r
WHERE r.site_id = %(site_id)s AND r.hour >= %(start)s AND r.hour < %(end)s
  AND (%(direction)s::smallint IS NULL OR r.direction = %(direction)s::smallint)
  AND (%(display)s::smallint IS NULL OR r.display = %(display)s::smallint)
ORDER BY r.hour, r.direction, r.display

-- name: figures_coverage_hours
-- Minutes per hour (fullest sign) the signs deployed at a site measured in [start, end).
SELECT c.hour, max(c.minutes) AS minutes
FROM coverage_hourly c
JOIN deployments d ON d.sign_id = c.sign_id AND c.hour >= d.valid_from
                  AND (d.valid_to IS NULL OR c.hour < d.valid_to)
WHERE d.site_id = %(site_id)s AND c.hour >= %(start)s AND c.hour < %(end)s
GROUP BY c.hour
ORDER BY c.hour

-- name: figures_site_rounding
-- How the signs deployed at a site quantise speeds (the most recent deployment's sign first).
SELECT s.rounding
FROM deployments d JOIN signs s ON s.id = d.sign_id
WHERE d.site_id = %(site_id)s
ORDER BY d.valid_from DESC
LIMIT 1

-- name: figures_site_latest_hour
-- The newest hour with data at one site (NULL: none).
SELECT max(hour) AS latest FROM rollup_hourly WHERE site_id = %(site_id)s

-- name: figures_site_exists
-- Whether a site exists (anonymous visitors have no scope, only existence).
SELECT 1 AS found FROM sites WHERE id = %(site_id)s

-- name: figures_limit_changes
-- The legal-limit periods of one site, oldest first.
SELECT valid_from, valid_to, limit_kmh FROM speed_limits
WHERE site_id = %(site_id)s ORDER BY valid_from

-- name: figures_fleet
-- Every sign with its current deployment (if any), its newest heartbeat and newest data hour.
SELECT s.id AS sign_id, s.serial_number, s.configured_limit_kmh AS sign_limit_kmh,
       d.site_id, st.name AS site_name, str.municipality_id,
       h.time AS heartbeat_at, h.battery_v, h.clock_offset_s,
       h.configured_limit_kmh AS reported_limit_kmh,
       (SELECT l.limit_kmh FROM speed_limits l WHERE l.site_id = d.site_id AND l.valid_from <= %(now)s
          AND (l.valid_to IS NULL OR l.valid_to > %(now)s) ORDER BY l.valid_from DESC LIMIT 1) AS legal_limit_kmh,
       (SELECT max(c.hour) FROM coverage_hourly c WHERE c.sign_id = s.id AND c.minutes > 0) AS last_covered_hour,
       (SELECT count(*) FROM coverage_hourly c WHERE c.sign_id = s.id AND c.hour >= %(since)s
          AND c.hour < %(now)s AND c.minutes > 0) AS covered_hours
FROM signs s
LEFT JOIN LATERAL (SELECT dd.site_id FROM deployments dd WHERE dd.sign_id = s.id AND dd.valid_from <= %(now)s
                   AND (dd.valid_to IS NULL OR dd.valid_to > %(now)s)
                   ORDER BY dd.valid_from DESC LIMIT 1) d ON true
LEFT JOIN sites st ON st.id = d.site_id
LEFT JOIN streets str ON str.id = st.street_id
LEFT JOIN LATERAL (SELECT hb.time, hb.battery_v, hb.clock_offset_s, hb.configured_limit_kmh
                   FROM sign_heartbeats hb WHERE hb.sign_id = s.id ORDER BY hb.time DESC LIMIT 1) h ON true
WHERE %(municipality_ids)s::integer[] IS NULL OR str.municipality_id = ANY(%(municipality_ids)s::integer[])
ORDER BY s.id

-- name: figures_site_controls
-- Controls at one site that ended before %(before)s, newest first.
SELECT id, direction, start_time, end_time, method
FROM controls WHERE site_id = %(site_id)s AND end_time <= %(before)s
ORDER BY start_time DESC
LIMIT %(limit)s

-- name: figures_bench_scan
-- The benchmark's baseline: one site's figures per direction × display straight from readings
-- over [start, end) (n, mean, V85 by percentile_disc, share over the legal limit in force).
SELECT r.direction, r.display, count(*) AS n, avg(r.speed_kmh) AS mean_kmh,
       percentile_disc(0.85) WITHIN GROUP (ORDER BY r.speed_kmh) AS v85_kmh,
       avg((r.speed_kmh > l.limit_kmh)::int) AS over_limit_share
FROM readings r
JOIN speed_limits l ON l.site_id = r.site_id AND r.time >= l.valid_from
                   AND (l.valid_to IS NULL OR r.time < l.valid_to)
WHERE r.site_id = %(site_id)s AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY r.direction, r.display
