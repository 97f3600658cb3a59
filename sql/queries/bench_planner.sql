-- name: bench_planner_seed
-- Make the session's random() repeatable.
SELECT setseed(%(seed)s)

-- name: bench_planner_sites
-- One police area, one municipality and a street with one site each, scattered over ~15 × 15 km; one in ten near a school.
WITH pa AS (INSERT INTO police_areas (name) VALUES ('Bench police area') RETURNING id),
     m AS (INSERT INTO municipalities (name, police_area_id) SELECT 'Bench municipality', id FROM pa RETURNING id),
     st AS (INSERT INTO streets (municipality_id, name)
            SELECT m.id, 'Benchgatan ' || g FROM m, generate_series(1, %(sites)s) g RETURNING id, name)
INSERT INTO sites (street_id, name, lat, lon, tags)
SELECT st.id, st.name, 59.30 + random() * 0.14, 15.80 + random() * 0.27,
       CASE WHEN random() < 0.1 THEN '{school}'::text[] ELSE '{}'::text[] END
FROM st ORDER BY st.id

-- name: bench_planner_limits
-- A legal limit per site (30..70 km/h) since 2000.
INSERT INTO speed_limits (site_id, valid_from, valid_to, limit_kmh)
SELECT id, '2000-01-01', NULL, (ARRAY[30, 40, 50, 60, 70])[1 + id %% 5] FROM sites

-- name: bench_planner_params_create
-- Per-site traffic: vehicles per day, median speed (km/h) and log-speed spread.
CREATE TABLE bench_params AS
SELECT s.id AS site_id, (400 + random() * 3600)::int AS daily,
       l.limit_kmh * (0.86 + random() * 0.2) AS median_kmh, 0.11 + random() * 0.09 AS sigma
FROM sites s JOIN speed_limits l ON l.site_id = s.id

-- name: bench_planner_readings
-- Vehicle passes for every site and both directions over [start, end): hourly volume from a day profile (weekends lighter) with noise, whole-km/h lognormal speeds, display mode by site parity.
INSERT INTO readings (time, site_id, sign_id, direction, speed_kmh, display, length_m, idem_key)
SELECT h.hour + random() * interval '1 hour', p.site_id, NULL, d.dir,
       greatest(3, floor(p.median_kmh * exp(p.sigma * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))))::real,
       p.site_id %% 2, NULL, gen_random_uuid()
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour', interval '1 hour') h(hour)
CROSS JOIN bench_params p
CROSS JOIN (VALUES (1::smallint), (2::smallint)) d(dir)
CROSS JOIN LATERAL generate_series(1, round(
    p.daily / 2.0 * (%(profile)s::float8[])[extract(hour FROM h.hour AT TIME ZONE 'Europe/Stockholm')::int + 1]
    * CASE WHEN extract(isodow FROM h.hour AT TIME ZONE 'Europe/Stockholm') >= 6 THEN 0.65 ELSE 1 END
    * (0.8 + 0.4 * random()))::int) k

-- name: bench_planner_copy_rollups
-- Older fortnights: the generated fortnight's rollups shifted back k fortnights, display mode alternating per fortnight.
INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist)
SELECT site_id, direction, ((site_id + %(k)s) %% 2)::smallint, hour - %(k)s * interval '14 days', n, sum_kmh, sumsq_kmh, hist
FROM rollup_hourly WHERE hour >= %(start)s AND hour < %(end)s

-- name: bench_planner_tips
-- A few open citizen tips on random sites in the last weeks.
INSERT INTO citizen_tips (received_at, site_id, text, status)
SELECT %(end)s::timestamptz - random() * interval '60 days', s.id, 'Bench tip', 'new'
FROM (SELECT id FROM sites ORDER BY random() LIMIT %(n)s) s

-- name: bench_planner_counts
-- Sizes of what was generated.
SELECT (SELECT count(*) FROM rollup_hourly) AS rollup_rows,
       (SELECT count(*) FROM readings) AS readings,
       (SELECT min(hour) FROM rollup_hourly) AS first_hour,
       (SELECT max(hour) FROM rollup_hourly) AS last_hour

-- name: bench_planner_raw_cells
-- Baseline: the ranking cells computed straight from readings (whole-km/h speeds: v > L over the limit, v >= L + over threshold), columns as planner.load.CELL_COLUMNS.
SELECT r.site_id, r.direction, r.display, l.limit_kmh,
       (extract(isodow FROM r.time AT TIME ZONE s.time_zone)::int - 1) * 24
           + extract(hour FROM r.time AT TIME ZONE s.time_zone)::int AS hour_of_week,
       count(*) AS n,
       count(*) FILTER (WHERE r.speed_kmh > l.limit_kmh)::float8 AS over_limit,
       count(*) FILTER (WHERE r.speed_kmh >= l.limit_kmh + %(over_kmh)s)::float8 AS over_threshold,
       coalesce(sum(r.speed_kmh - l.limit_kmh) FILTER (WHERE r.speed_kmh > l.limit_kmh), 0)::float8 AS excess_sum_kmh,
       count(DISTINCT date_trunc('hour', r.time)) AS hours_with_data,
       count(DISTINCT date_trunc('week', r.time AT TIME ZONE s.time_zone)) AS weeks
FROM readings r
JOIN sites s ON s.id = r.site_id
JOIN speed_limits l ON l.site_id = r.site_id AND r.time >= l.valid_from AND (l.valid_to IS NULL OR r.time < l.valid_to)
WHERE r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1, 2, 3, 4, 5

-- name: bench_planner_floor
-- Reference: the cells' plain sums over [start, end) without any histogram work (what the ranking's aggregation costs at least).
SELECT r.site_id, r.direction, r.display,
       (extract(isodow FROM r.hour AT TIME ZONE 'Europe/Stockholm')::int - 1) * 24
           + extract(hour FROM r.hour AT TIME ZONE 'Europe/Stockholm')::int AS hour_of_week,
       sum(r.n), sum(r.sum_kmh), count(*)
FROM rollup_hourly r
WHERE r.hour >= %(start)s AND r.hour < %(end)s
GROUP BY 1, 2, 3, 4

-- name: bench_planner_totals_size
-- Bytes the running totals take (table, out-of-line values, index).
SELECT pg_total_relation_size('cell_weeks')

-- name: bench_planner_totals_back
-- Pretend every site's running totals reach only `through` (as after a late write there).
UPDATE cell_weeks_state SET through_hour = %(through)s WHERE through_hour > %(through)s

-- name: bench_planner_signs
-- One sign a site, deployed a fortnight at a time in the display mode of that fortnight's rollups
-- (site parity, alternating per fortnight back from `end`), the last deployment still standing.
WITH g AS (
    INSERT INTO signs (serial_number, vendor, model, protocol, rounding)
    SELECT 'BENCH-' || id, 'Bench', 'B1', 'ops-json', 'truncate' FROM sites ORDER BY id
    RETURNING id, substring(serial_number FROM 7)::int AS site_id
)
INSERT INTO deployments (sign_id, site_id, valid_from, valid_to, display)
SELECT g.id, g.site_id, %(end)s::timestamptz - (j + 1) * interval '14 days',
       CASE WHEN j = 0 THEN NULL ELSE %(end)s::timestamptz - j * interval '14 days' END, ((g.site_id + j) %% 2)::smallint
FROM g CROSS JOIN generate_series(0, %(fortnights)s - 1) j

-- name: bench_planner_coverage
-- Coverage records of every sign for each hour of [start, end): a full hour, 1 in 50 half an hour.
INSERT INTO coverage_hourly (sign_id, hour, minutes)
SELECT g.id, h, CASE WHEN random() < 0.02 THEN 30 ELSE 60 END
FROM signs g CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour', interval '1 hour') h
WHERE g.vendor = 'Bench'
