-- name: sites_overview
-- Every site with its place, standing legal limit in force now (as posted), tags and the end of its
-- latest data (the hour after its latest rollup, or the end of its latest binned record).
SELECT s.id, s.name, st.name AS street, m.name AS municipality, pa.name AS police_area,
       s.lat, s.lon, s.time_zone, s.tags, l.posted_value, l.posted_unit,
       greatest((SELECT max(r.hour) + interval '1 hour' FROM rollup_hourly r WHERE r.site_id = s.id),
                (SELECT max(b.period_end) FROM binned_counts b
                  WHERE b.site_id = s.id AND NOT b.in_rollups)) AS last_hour
FROM sites s
JOIN streets st ON st.id = s.street_id
JOIN municipalities m ON m.id = st.municipality_id
JOIN police_areas pa ON pa.id = m.police_area_id
LEFT JOIN LATERAL (SELECT l.posted_value, l.posted_unit FROM speed_limits l
                   WHERE l.site_id = s.id AND NOT l.timed AND l.valid_from <= now()
                     AND (l.valid_to IS NULL OR l.valid_to > now())) l ON true
ORDER BY m.name, s.name

-- name: site_recent_histograms
-- Summed 1 km/h histograms per direction × display mode for one site over [start, end),
-- with the limit in force over that window and the rounding of the signs that measured it.
SELECT r.direction, r.display, sum(r.n)::bigint AS n, sum(r.sum_kmh) AS sum_kmh,
       sum(r.sumsq_kmh) AS sumsq_kmh, hist_sum(r.hist) AS hist,
       array_lower(hist_sum(r.hist), 1) AS hist_lo
FROM rollup_hourly r
WHERE r.site_id = %(site_id)s AND r.hour >= %(start)s AND r.hour < %(end)s
GROUP BY r.direction, r.display
ORDER BY r.direction, r.display

-- name: site_limit_since
-- Start of the legal limit in force at a time at a site (NULL when none is recorded).
SELECT valid_from, limit_kmh FROM speed_limits
WHERE site_id = %(site_id)s AND valid_from <= %(at)s AND (valid_to IS NULL OR valid_to > %(at)s)

-- name: site_rounding
-- How the signs deployed at a site quantise speeds (the most common setting).
SELECT coalesce(mode() WITHIN GROUP (ORDER BY sg.rounding), 'truncate')
FROM deployments d JOIN signs sg ON sg.id = d.sign_id
WHERE d.site_id = %(site_id)s

-- name: health
-- Database reachability and TimescaleDB version.
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'
