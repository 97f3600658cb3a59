-- name: overview_sites_signs
-- How the signs deployed at each given site during its own [t0, t1) report (the most common
-- rounding and unit, how many kinds) and the limits they are configured with: one row a site, as
-- figures_site_signs gives it for one.
WITH q AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS q(site_id, t0, t1)
)
SELECT q.site_id,
       coalesce(mode() WITHIN GROUP (ORDER BY sg.rounding) FILTER (WHERE sg.id IS NOT NULL), 'truncate') AS rounding,
       coalesce(mode() WITHIN GROUP (ORDER BY sg.unit) FILTER (WHERE sg.id IS NOT NULL), 'kmh') AS unit,
       count(DISTINCT (sg.rounding, sg.unit)) FILTER (WHERE sg.id IS NOT NULL) AS kinds,
       coalesce(array_remove(array_agg(DISTINCT sg.configured_limit_kmh) FILTER (WHERE sg.id IS NOT NULL), NULL),
                '{}') AS configured_limits
FROM q
LEFT JOIN deployments d ON d.site_id = q.site_id AND d.valid_from < q.t1 AND (d.valid_to IS NULL OR d.valid_to > q.t0)
LEFT JOIN signs sg ON sg.id = d.sign_id
GROUP BY q.site_id

-- name: overview_sites_limits
-- Every legal limit the given sites have had, as posted (figures_site_limits for several sites).
SELECT site_id, timed, valid_from, valid_to, limit_kmh, posted_value, posted_unit, days, hour_from, hour_to
FROM speed_limits WHERE site_id = ANY (%(site_ids)s::int[]) ORDER BY site_id, valid_from

-- name: overview_sites_parts
-- Each given site's vehicles over its own [t0, t1) in parts that add up to the period, as
-- figures_site_parts gives them for one site with use_days and running true: per series one row
-- of running totals for the complete local days before the local day of through_hour (kind
-- 'run': the totals at the series' last day before d1, base_* those at its last day before d0,
-- NULL base_day: none; first_hour that of its first day from d0) and every hourly rollup of the
-- rest (kind 'hour', hist as int[]), each under the limit regime in force (limit_from
-- 0001-01-01 UTC: none).
WITH cut AS (
    -- each site's complete local days [d0, d1) and the hours outside them: before lo or from hi on
    SELECT * FROM figure_day_cuts(%(site_ids)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[], true)
), series AS (
    -- every series the days can hold: direction × display × the site's limit regimes and none
    SELECT cut.id AS site_id, dd.direction, mm.display, l.timed, l.valid_from
    FROM cut
    CROSS JOIN (VALUES (0::smallint), (1::smallint), (2::smallint)) dd(direction)
    CROSS JOIN (VALUES (0::smallint), (1::smallint)) mm(display)
    CROSS JOIN LATERAL (SELECT sl.timed, sl.valid_from FROM speed_limits sl WHERE sl.site_id = cut.id
                        UNION ALL SELECT false, timestamptz '0001-01-01 00:00+00') l
)
SELECT cut.id AS site_id, 'run' AS kind, cut.d0 AS local_day, NULL::timestamptz AS hour, k.direction, k.display,
       k.timed AS limit_timed, k.valid_from AS limit_from, hi.run_n AS n, hi.run_sum_kmh AS sum_kmh,
       hi.run_sumsq_kmh AS sumsq_kmh, hi.run_hours::bigint AS hours, fst.first_hour, hi.last_hour,
       hi.run_hist_lo::int AS hist_lo, hi.run_hist AS hist_bytes, NULL::int[] AS hist, lo.local_day AS base_day,
       lo.run_n AS base_n, lo.run_sum_kmh AS base_sum_kmh, lo.run_sumsq_kmh AS base_sumsq_kmh,
       lo.run_hours::bigint AS base_hours, lo.run_hist_lo::int AS base_hist_lo, lo.run_hist AS base_hist
FROM cut JOIN series k ON k.site_id = cut.id
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
WHERE hi.local_day >= cut.d0
UNION ALL
SELECT x.site_id, 'hour', x.local_day, x.hour, x.direction, x.display, coalesce(l.timed, false),
       coalesce(l.valid_from, timestamptz '0001-01-01 00:00+00'), x.n, x.sum_kmh, x.sumsq_kmh, 1, x.hour, x.hour,
       array_lower(x.hist, 1), NULL::bytea, x.hist, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM (SELECT r.site_id, r.hour, r.direction, r.display, r.n, r.sum_kmh, r.sumsq_kmh, r.hist,
             (r.hour AT TIME ZONE cut.time_zone)::date AS local_day, cut.time_zone, cut.d0, cut.d1
      FROM cut
      CROSS JOIN LATERAL (VALUES (cut.t0, least(cut.lo, cut.t1)), (greatest(cut.hi, cut.lo, cut.t0), cut.t1)) AS rg(a, b)
      -- one index range per site and edge (OFFSET 0 keeps it so: joined, the planner scans every rollup)
      CROSS JOIN LATERAL (SELECT * FROM rollup_hourly r
                          WHERE r.site_id = cut.id AND r.hour >= rg.a AND r.hour < rg.b
                            AND r.direction = ANY ('{0,1,2}'::smallint[]) AND r.display = ANY ('{0,1}'::smallint[])
                          OFFSET 0) r) x
LEFT JOIN LATERAL speed_limit_at(x.site_id, x.hour, x.time_zone) l ON true
WHERE NOT (x.local_day >= x.d0 AND x.local_day < x.d1)

-- name: overview_sites_coverage_parts
-- Each given site's coverage over its own [t0, t1) in parts, as figures_site_coverage_parts with
-- use_days and running true: one row (kind 'run') of the running totals at the last day before d1
-- less base_* at the last day before d0, for the days from local_day to to_day, and per hour for
-- the rest (kind 'hour'): minutes measured (the fullest sign each hour) and hours with coverage
-- records.
WITH cut AS (
    -- each site's complete local days [d0, d1) and the hours outside them: before lo or from hi on
    SELECT * FROM figure_day_cuts(%(site_ids)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[], true)
)
SELECT cut.id AS site_id, 'run' AS kind, cut.d0 AS local_day, cut.d1 AS to_day, NULL::timestamptz AS hour,
       hi.run_n AS minutes, hi.run_hours::bigint AS hours, NULL::timestamptz AS first_hour,
       NULL::timestamptz AS last_hour, lo.local_day AS base_day, lo.run_n AS base_minutes,
       lo.run_hours::bigint AS base_hours
FROM cut
CROSS JOIN LATERAL (SELECT f.local_day, f.run_n, f.run_hours FROM figure_days f
                    WHERE f.site_id = cut.id AND f.direction = 3 AND f.display = 0 AND NOT f.limit_timed
                      AND f.limit_from = timestamptz '0001-01-01 00:00+00' AND f.local_day < cut.d1
                    ORDER BY f.local_day DESC LIMIT 1) hi
LEFT JOIN LATERAL (SELECT f.local_day, f.run_n, f.run_hours FROM figure_days f
                   WHERE f.site_id = cut.id AND f.direction = 3 AND f.display = 0 AND NOT f.limit_timed
                     AND f.limit_from = timestamptz '0001-01-01 00:00+00' AND f.local_day < cut.d0
                   ORDER BY f.local_day DESC LIMIT 1) lo ON true
WHERE hi.local_day >= cut.d0
UNION ALL
SELECT x.site_id, 'hour', x.local_day, NULL, x.hour, x.minutes, 1, x.hour, x.hour, NULL, NULL, NULL
FROM (SELECT cut.id AS site_id, c.hour, max(c.minutes)::bigint AS minutes,
             (c.hour AT TIME ZONE cut.time_zone)::date AS local_day, cut.d0, cut.d1
      FROM cut
      CROSS JOIN LATERAL (VALUES (cut.t0, least(cut.lo, cut.t1)), (greatest(cut.hi, cut.lo, cut.t0), cut.t1)) AS rg(a, b)
      JOIN deployments dp ON dp.site_id = cut.id AND dp.valid_from < rg.b AND (dp.valid_to IS NULL OR dp.valid_to > rg.a)
      -- one index range per deployment and edge (OFFSET 0 keeps it so)
      CROSS JOIN LATERAL (SELECT c.hour, c.minutes FROM coverage_hourly c
                          WHERE c.sign_id = dp.sign_id AND c.hour >= greatest(rg.a, dp.valid_from)
                            AND c.hour < least(rg.b, coalesce(dp.valid_to, timestamptz 'infinity'))
                          OFFSET 0) c
      GROUP BY cut.id, c.hour, cut.time_zone, cut.d0, cut.d1) x
WHERE NOT (x.local_day >= x.d0 AND x.local_day < x.d1)

-- name: overview_sites_binned
-- Each given site's pre-binned counts (binned_counts not also in rollup_hourly) whose periods
-- overlap its own [t0, t1), summed per direction × display × bin × legal limit in force at each
-- record's start, as planner_site_binned gives them for one site.
WITH q AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS q(site_id, t0, t1)
)
SELECT b.site_id, b.direction, b.display, b.speed_lo::float8 AS speed_lo, b.speed_hi::float8 AS speed_hi,
       l.valid_from, l.valid_to, l.limit_kmh, l.posted_value, l.posted_unit, l.days, l.hour_from, l.hour_to,
       sum(b.count)::bigint AS count, min(b.period_start) AS first_start, max(b.period_end) AS last_end,
       count(*) FILTER (WHERE b.period_start < q.t0 OR b.period_end > q.t1) AS outside,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM speed_limits o
           WHERE o.site_id = b.site_id AND o.valid_from < b.period_end
             AND (o.valid_to IS NULL OR o.valid_to > b.period_start)
             AND (l.valid_from IS NULL OR o.valid_from <> l.valid_from OR o.timed <> l.timed))) AS mixed_limits
FROM q
JOIN binned_counts b ON b.site_id = q.site_id AND NOT b.in_rollups AND b.period_start < q.t1 AND b.period_end > q.t0
JOIN sites s ON s.id = b.site_id
LEFT JOIN LATERAL speed_limit_at(b.site_id, b.period_start, s.time_zone) l ON true
GROUP BY b.site_id, b.direction, b.display, b.speed_lo, b.speed_hi, l.valid_from, l.valid_to, l.limit_kmh,
         l.posted_value, l.posted_unit, l.days, l.hour_from, l.hour_to
ORDER BY b.site_id, l.valid_from NULLS FIRST, b.direction, b.display NULLS FIRST, b.speed_lo
