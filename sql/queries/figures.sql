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
SELECT hour, minutes
FROM site_coverage_hours(%(site_id)s::int, %(start)s::timestamptz, %(end)s::timestamptz)
ORDER BY hour

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

-- name: figure_days_rollups
-- Hourly rollups of the given sites in their local days [from_day, to_day) (hours [scan_from,
-- scan_to) bound the scan per site), each with the limit regime in force at its local hour
-- (speed_limit_at; limit_from 0001-01-01 UTC: none) and its local day, for the daily sums.
WITH w AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(from_day)s::date[], %(to_day)s::date[],
                         %(scan_from)s::timestamptz[], %(scan_to)s::timestamptz[])
             AS w(site_id, from_day, to_day, scan_from, scan_to)
)
SELECT x.* FROM (
    SELECT r.site_id, (r.hour AT TIME ZONE s.time_zone)::date AS local_day, r.direction, r.display,
           coalesce(l.timed, false) AS limit_timed, coalesce(l.valid_from, timestamptz '0001-01-01 00:00+00') AS limit_from,
           r.hour AS first_hour, r.hour AS last_hour, 1 AS hours, r.n, r.sum_kmh, r.sumsq_kmh,
           array_lower(r.hist, 1) AS hist_lo, r.hist, NULL::bytea AS hist_bytes, w.from_day, w.to_day
    FROM w
    JOIN rollup_hourly r ON r.site_id = w.site_id AND r.hour >= w.scan_from AND r.hour < w.scan_to
    JOIN sites s ON s.id = r.site_id
    LEFT JOIN LATERAL speed_limit_at(r.site_id, r.hour, s.time_zone) l ON true
) x
WHERE x.local_day >= x.from_day AND x.local_day < x.to_day

-- name: figure_days_coverage
-- Coverage of the given sites per local day in [from_day, to_day): minutes measured (the
-- fullest sign deployed there each hour, all display modes) and hours with coverage records.
WITH w AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(from_day)s::date[], %(to_day)s::date[],
                         %(scan_from)s::timestamptz[], %(scan_to)s::timestamptz[])
             AS w(site_id, from_day, to_day, scan_from, scan_to)
), h AS (
    SELECT d.site_id, c.hour, max(c.minutes) AS minutes
    FROM w
    JOIN deployments d ON d.site_id = w.site_id
    JOIN coverage_hourly c ON c.sign_id = d.sign_id AND c.hour >= d.valid_from
                          AND (d.valid_to IS NULL OR c.hour < d.valid_to)
                          AND c.hour >= w.scan_from AND c.hour < w.scan_to
    GROUP BY d.site_id, c.hour
)
SELECT x.site_id, x.local_day, sum(x.minutes)::bigint AS minutes, count(*)::int AS hours,
       min(x.hour) AS first_hour, max(x.hour) AS last_hour
FROM (SELECT h.*, (h.hour AT TIME ZONE s.time_zone)::date AS local_day, w.from_day, w.to_day
      FROM h JOIN sites s ON s.id = h.site_id JOIN w ON w.site_id = h.site_id) x
WHERE x.local_day >= x.from_day AND x.local_day < x.to_day
GROUP BY x.site_id, x.local_day

-- name: figure_days_delete
-- Drop the daily sums the refresh rebuilds (each site's days from from_day on).
DELETE FROM figure_days f
USING unnest(%(site_ids)s::int[], %(from_day)s::date[]) AS w(site_id, from_day)
WHERE f.site_id = w.site_id AND f.local_day >= w.from_day

-- name: figure_days_copy
-- Rebuilt daily sums and their running totals, by COPY.
COPY figure_days (site_id, local_day, direction, display, limit_timed, limit_from, n, sum_kmh, sumsq_kmh, hours,
                  first_hour, last_hour, hist_lo, hist, run_n, run_sum_kmh, run_sumsq_kmh, run_hours, run_hist_lo,
                  run_hist) FROM STDIN (FORMAT BINARY)

-- name: figure_days_running_base
-- The running totals each series of the given sites has at its last day before from_day (the
-- rebuild continues from them; run_n NULL: a row from before migration 0017).
WITH w AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(from_day)s::date[]) AS w(site_id, from_day)
), k AS (
    SELECT DISTINCT f.site_id, f.direction, f.display, f.limit_timed, f.limit_from
    FROM w JOIN figure_days f ON f.site_id = w.site_id AND f.local_day < w.from_day
)
SELECT k.*, b.run_n, b.run_sum_kmh, b.run_sumsq_kmh, b.run_hours, b.run_hist_lo::int AS run_hist_lo, b.run_hist
FROM k JOIN w ON w.site_id = k.site_id
CROSS JOIN LATERAL (SELECT f.run_n, f.run_sum_kmh, f.run_sumsq_kmh, f.run_hours, f.run_hist_lo, f.run_hist
                    FROM figure_days f
                    WHERE f.site_id = k.site_id AND f.direction = k.direction AND f.display = k.display
                      AND f.limit_timed = k.limit_timed AND f.limit_from = k.limit_from AND f.local_day < w.from_day
                    ORDER BY f.local_day DESC LIMIT 1) b

-- name: figures_site_parts
-- One site's vehicles over [start, end) in parts that add up to the period: the complete local
-- days inside it before the local day of the running totals' through_hour, and every hourly
-- rollup of the rest (kind 'hour', hist as int[]), each under the limit regime in force
-- (limit_from 0001-01-01 UTC: none). The days come as their daily sums (kind 'day', hist as
-- int32 bytes) or, with running true, as one row per series (kind 'run': the series' running
-- totals at its last day before d1, with base_* those at its last day before d0, NULL base_day:
-- none; the days are the difference; first_hour that of its first day from d0). With use_days
-- false every part is an hourly rollup.
WITH cut AS (
    -- the complete local days [d0, d1) and the hours outside them: before lo or from hi on
    SELECT * FROM figure_day_cuts(ARRAY[%(site_id)s::int], ARRAY[%(start)s::timestamptz],
                                  ARRAY[%(end)s::timestamptz], %(use_days)s)
), series AS (
    -- every series the days can hold: direction × display × the site's limit regimes and none
    SELECT dd.direction, mm.display, l.timed, l.valid_from
    FROM (VALUES (0::smallint), (1::smallint), (2::smallint)) dd(direction)
    CROSS JOIN (VALUES (0::smallint), (1::smallint)) mm(display)
    CROSS JOIN (SELECT timed, valid_from FROM speed_limits WHERE site_id = %(site_id)s
                UNION ALL SELECT false, timestamptz '0001-01-01 00:00+00') l
    WHERE (%(direction)s::smallint IS NULL OR dd.direction = %(direction)s::smallint)
      AND (%(display)s::smallint IS NULL OR mm.display = %(display)s::smallint)
)
SELECT 'day' AS kind, f.local_day, NULL::timestamptz AS hour, f.direction, f.display, f.limit_timed, f.limit_from,
       f.n, f.sum_kmh, f.sumsq_kmh, f.hours::bigint AS hours, f.first_hour, f.last_hour, f.hist_lo::int AS hist_lo,
       f.hist AS hist_bytes, NULL::int[] AS hist, NULL::date AS base_day, NULL::bigint AS base_n,
       NULL::float8 AS base_sum_kmh, NULL::float8 AS base_sumsq_kmh, NULL::bigint AS base_hours,
       NULL::int AS base_hist_lo, NULL::bytea AS base_hist
FROM cut JOIN figure_days f ON f.site_id = cut.id AND f.local_day >= cut.d0 AND f.local_day < cut.d1
WHERE NOT %(running)s AND f.direction < 3
  AND (%(direction)s::smallint IS NULL OR f.direction = %(direction)s::smallint)
  AND (%(display)s::smallint IS NULL OR f.display = %(display)s::smallint)
UNION ALL
SELECT 'run', cut.d0, NULL, k.direction, k.display, k.timed, k.valid_from, hi.run_n, hi.run_sum_kmh,
       hi.run_sumsq_kmh, hi.run_hours, fst.first_hour, hi.last_hour, hi.run_hist_lo::int, hi.run_hist, NULL,
       lo.local_day, lo.run_n, lo.run_sum_kmh, lo.run_sumsq_kmh, lo.run_hours, lo.run_hist_lo::int, lo.run_hist
FROM cut CROSS JOIN series k
CROSS JOIN LATERAL (SELECT f.local_day, f.last_hour, f.run_n, f.run_sum_kmh, f.run_sumsq_kmh, f.run_hours,
                           f.run_hist_lo, f.run_hist
                    FROM figure_days f
                    WHERE f.site_id = cut.id AND f.direction = k.direction AND f.display = k.display
                      AND f.limit_timed = k.timed AND f.limit_from = k.valid_from AND f.local_day < cut.d1
                    ORDER BY f.local_day DESC LIMIT 1) hi
CROSS JOIN LATERAL (SELECT f.first_hour FROM figure_days f
                    WHERE f.site_id = cut.id AND f.direction = k.direction AND f.display = k.display
                      AND f.limit_timed = k.timed AND f.limit_from = k.valid_from AND f.local_day >= cut.d0
                    ORDER BY f.local_day LIMIT 1) fst
LEFT JOIN LATERAL (SELECT f.local_day, f.run_n, f.run_sum_kmh, f.run_sumsq_kmh, f.run_hours, f.run_hist_lo,
                          f.run_hist
                   FROM figure_days f
                   WHERE f.site_id = cut.id AND f.direction = k.direction AND f.display = k.display
                     AND f.limit_timed = k.timed AND f.limit_from = k.valid_from AND f.local_day < cut.d0
                   ORDER BY f.local_day DESC LIMIT 1) lo ON true
WHERE %(running)s AND hi.local_day >= cut.d0
UNION ALL
SELECT 'hour', x.local_day, x.hour, x.direction, x.display, coalesce(l.timed, false),
       coalesce(l.valid_from, timestamptz '0001-01-01 00:00+00'), x.n, x.sum_kmh, x.sumsq_kmh, 1, x.hour, x.hour,
       array_lower(x.hist, 1), NULL::bytea, x.hist, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM (SELECT r.*, (r.hour AT TIME ZONE cut.time_zone)::date AS local_day, cut.time_zone, cut.d0, cut.d1
      FROM cut
      CROSS JOIN LATERAL (VALUES (%(start)s::timestamptz, least(cut.lo, %(end)s::timestamptz)),
                                 (greatest(cut.hi, cut.lo, %(start)s::timestamptz), %(end)s::timestamptz)) AS rg(a, b)
      -- one index range per edge (OFFSET 0 keeps it so: joined, the planner may hash every rollup)
      CROSS JOIN LATERAL (SELECT * FROM rollup_hourly r
                          WHERE r.site_id = cut.id AND r.hour >= rg.a AND r.hour < rg.b
                            AND r.direction = ANY ('{0,1,2}'::smallint[]) AND r.display = ANY ('{0,1}'::smallint[])
                            AND (%(direction)s::smallint IS NULL OR r.direction = %(direction)s::smallint)
                            AND (%(display)s::smallint IS NULL OR r.display = %(display)s::smallint)
                          OFFSET 0) r) x
LEFT JOIN LATERAL speed_limit_at(x.site_id, x.hour, x.time_zone) l ON true
WHERE NOT (x.local_day >= x.d0 AND x.local_day < x.d1)

-- name: figures_site_coverage_parts
-- One site's coverage over [start, end) in parts, as figures_site_parts: per complete local day
-- from figure_days (kind 'day'; with running true one row, kind 'run': the running totals at the
-- last day before d1 less base_* at the last day before d0, for the days from local_day to
-- to_day) and per hour for the rest (kind 'hour'): minutes measured (the fullest sign each hour)
-- and hours with coverage records.
WITH cut AS (
    -- the complete local days [d0, d1) and the hours outside them: before lo or from hi on
    SELECT * FROM figure_day_cuts(ARRAY[%(site_id)s::int], ARRAY[%(start)s::timestamptz],
                                  ARRAY[%(end)s::timestamptz], %(use_days)s)
)
SELECT 'day' AS kind, f.local_day, NULL::date AS to_day, NULL::timestamptz AS hour, f.n AS minutes,
       f.hours::bigint AS hours, f.first_hour, f.last_hour, NULL::date AS base_day, NULL::bigint AS base_minutes,
       NULL::bigint AS base_hours
FROM cut JOIN figure_days f ON f.site_id = cut.id AND f.local_day >= cut.d0 AND f.local_day < cut.d1
WHERE NOT %(running)s AND f.direction = 3
UNION ALL
SELECT 'run', cut.d0, cut.d1, NULL, hi.run_n, hi.run_hours, NULL, NULL, lo.local_day, lo.run_n, lo.run_hours
FROM cut
CROSS JOIN LATERAL (SELECT f.local_day, f.run_n, f.run_hours FROM figure_days f
                    WHERE f.site_id = cut.id AND f.direction = 3 AND f.display = 0 AND NOT f.limit_timed
                      AND f.limit_from = timestamptz '0001-01-01 00:00+00' AND f.local_day < cut.d1
                    ORDER BY f.local_day DESC LIMIT 1) hi
LEFT JOIN LATERAL (SELECT f.local_day, f.run_n, f.run_hours FROM figure_days f
                   WHERE f.site_id = cut.id AND f.direction = 3 AND f.display = 0 AND NOT f.limit_timed
                     AND f.limit_from = timestamptz '0001-01-01 00:00+00' AND f.local_day < cut.d0
                   ORDER BY f.local_day DESC LIMIT 1) lo ON true
WHERE %(running)s AND hi.local_day >= cut.d0
UNION ALL
SELECT 'hour', x.local_day, NULL, x.hour, x.minutes, 1, x.hour, x.hour, NULL, NULL, NULL
FROM (SELECT c.hour, max(c.minutes)::bigint AS minutes, (c.hour AT TIME ZONE cut.time_zone)::date AS local_day,
             cut.d0, cut.d1
      FROM cut
      CROSS JOIN LATERAL (VALUES (%(start)s::timestamptz, least(cut.lo, %(end)s::timestamptz)),
                                 (greatest(cut.hi, cut.lo, %(start)s::timestamptz), %(end)s::timestamptz)) AS rg(a, b)
      JOIN deployments dp ON dp.site_id = cut.id AND dp.valid_from < rg.b AND (dp.valid_to IS NULL OR dp.valid_to > rg.a)
      -- one index range per deployment and edge (OFFSET 0 keeps it so)
      CROSS JOIN LATERAL (SELECT c.hour, c.minutes FROM coverage_hourly c
                          WHERE c.sign_id = dp.sign_id AND c.hour >= greatest(rg.a, dp.valid_from)
                            AND c.hour < least(rg.b, coalesce(dp.valid_to, timestamptz 'infinity'))
                          OFFSET 0) c
      GROUP BY c.hour, cut.time_zone, cut.d0, cut.d1) x
WHERE NOT (x.local_day >= x.d0 AND x.local_day < x.d1)

-- name: figures_site_limits
-- Every legal limit a site has had, as posted (the regimes figures_site_parts names).
SELECT timed, valid_from, valid_to, limit_kmh, posted_value, posted_unit, days, hour_from, hour_to
FROM speed_limits WHERE site_id = %(site_id)s ORDER BY valid_from

-- name: figures_bench_year_readings
-- The benchmark's scan sites get raw readings for every generated fortnight: the latest
-- fortnight's readings shifted back k fortnights, display mode as bench_planner_copy_rollups
-- gives the rollups of that fortnight (so readings and rollups hold the same vehicles).
INSERT INTO readings (time, site_id, sign_id, direction, speed_kmh, display, length_m, idem_key)
SELECT time - %(k)s * interval '14 days', site_id, sign_id, direction, speed_kmh,
       ((site_id + %(k)s) %% 2)::smallint, length_m, gen_random_uuid()
FROM readings
WHERE site_id = ANY(%(site_ids)s::int[]) AND time >= %(start)s AND time < %(end)s

-- name: figures_site_signs
-- How the signs deployed at a site during [start, end) report (the most common rounding and
-- unit, how many kinds) and the limits they are configured with, in one row.
SELECT coalesce(mode() WITHIN GROUP (ORDER BY sg.rounding), 'truncate') AS rounding,
       coalesce(mode() WITHIN GROUP (ORDER BY sg.unit), 'kmh') AS unit,
       count(DISTINCT (sg.rounding, sg.unit)) AS kinds,
       coalesce(array_remove(array_agg(DISTINCT sg.configured_limit_kmh), NULL), '{}') AS configured_limits
FROM deployments d JOIN signs sg ON sg.id = d.sign_id
WHERE d.site_id = %(site_id)s AND d.valid_from < %(end)s AND (d.valid_to IS NULL OR d.valid_to > %(start)s)
