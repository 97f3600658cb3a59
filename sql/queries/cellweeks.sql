-- name: cell_state_add
-- A state row (no running totals yet) for each given site that has none.
INSERT INTO cell_weeks_state (site_id)
SELECT s FROM unnest(%(site_ids)s::int[]) s
ON CONFLICT (site_id) DO NOTHING

-- name: cell_state_try_lock
-- The given sites whose advisory lock (20251, site mod 256) this transaction could take now (no waiting: a
-- site being written is left for the next refresh).
SELECT s FROM unnest(%(site_ids)s::int[]) s WHERE pg_try_advisory_xact_lock(20251, s %% 256) ORDER BY s

-- name: cell_state_of
-- Running-total state of the given sites, locked for the refresh.
SELECT site_id, through_hour, thresholds FROM cell_weeks_state
WHERE site_id = ANY(%(site_ids)s::int[]) ORDER BY site_id FOR UPDATE

-- name: cell_state_all
-- Every site's running-total state.
SELECT site_id, through_hour, thresholds, refreshed_at FROM cell_weeks_state ORDER BY site_id

-- name: cell_site_limits
-- Every legal limit each site has had (the series its running totals can have), as posted.
SELECT DISTINCT site_id, limit_kmh, posted_value, posted_unit FROM speed_limits
ORDER BY site_id, limit_kmh, posted_value, posted_unit

-- name: cell_refresh_rows
-- Rollup rows of the given sites from each site's first week to rebuild (from_week, beginning at
-- from_hour in UTC) up to `until`, with the tails the running totals keep: at the limit L and
-- L + 1, at the threshold's floor thr_fl (per site and limit) and + 1, and the running tail
-- sums at L and L + 1. Rows without a legal limit are left out, as in the ranking. Then the
-- coverage series (direction 3): per site, display mode and UTC hour the minutes of the fullest
-- sign deployed there (as planner_coverage_cells), under the limit in force.
WITH w AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(from_week)s::int[], %(from_hour)s::timestamptz[])
             AS w(site_id, from_week, from_hour)
), p AS (
    SELECT * FROM unnest(%(thr_site)s::int[], %(thr_limit)s::int[], %(thr_fl)s::int[]) AS p(site_id, limit_kmh, thr_fl)
), cov AS (
    SELECT d.site_id, d.display, c.hour, max(c.minutes) AS minutes
    FROM coverage_hourly c
    JOIN deployments d ON d.sign_id = c.sign_id AND c.hour >= d.valid_from
                      AND (d.valid_to IS NULL OR c.hour < d.valid_to)
    JOIN w ON w.site_id = d.site_id AND c.hour >= w.from_hour
    WHERE c.hour >= %(scan_from)s AND c.hour < %(until)s
    GROUP BY 1, 2, 3
)
SELECT r.site_id, r.limit_kmh, r.direction, r.display, r.local_week, r.local_how, r.n,
       tail_at(r.tail, r.limit_kmh) AS t0, tail_at(r.tail, r.limit_kmh + 1) AS t1,
       tail_at(r.tail, p.thr_fl) AS ta, tail_at(r.tail, p.thr_fl + 1) AS tb,
       tail2_at(r.tail2, r.tail, r.limit_kmh) AS e0, tail2_at(r.tail2, r.tail, r.limit_kmh + 1) AS e1
FROM rollup_hourly r
JOIN w ON w.site_id = r.site_id AND r.hour >= w.from_hour AND r.local_week >= w.from_week
JOIN p ON p.site_id = r.site_id AND p.limit_kmh = r.limit_kmh
WHERE r.hour >= %(scan_from)s AND r.hour < %(until)s
UNION ALL
SELECT x.site_id, x.limit_kmh, 3::smallint, x.display, x.local_week, x.local_how, x.minutes, 0, 0, 0, 0, 0, 0
FROM (SELECT cov.site_id, l.limit_kmh, cov.display, cov.minutes, local_week(cov.hour, s.time_zone) AS local_week,
             local_hour_of_week(cov.hour, s.time_zone) AS local_how
      FROM cov
      JOIN sites s ON s.id = cov.site_id
      JOIN speed_limits l ON l.site_id = cov.site_id AND cov.hour >= l.valid_from
                         AND (l.valid_to IS NULL OR cov.hour < l.valid_to)) x
JOIN w ON w.site_id = x.site_id AND x.local_week >= w.from_week
JOIN p ON p.site_id = x.site_id AND p.limit_kmh = x.limit_kmh

-- name: cell_refresh_base
-- Each series' last row before the first week to rebuild (its running totals so far).
SELECT DISTINCT ON (c.site_id, c.limit_kmh, c.direction, c.display)
       c.site_id, c.limit_kmh, c.direction, c.display, c.cum
FROM cell_weeks c
JOIN unnest(%(site_ids)s::int[], %(from_week)s::int[]) AS w(site_id, from_week)
  ON c.site_id = w.site_id AND c.local_week < w.from_week
ORDER BY c.site_id, c.limit_kmh, c.direction, c.display, c.local_week DESC

-- name: cell_refresh_delete
-- Drop the rows that the refresh rebuilds (each site's weeks from from_week on).
DELETE FROM cell_weeks c
USING unnest(%(site_ids)s::int[], %(from_week)s::int[]) AS w(site_id, from_week)
WHERE c.site_id = w.site_id AND c.local_week >= w.from_week

-- name: cell_refresh_copy
-- Rebuilt rows, by COPY.
COPY cell_weeks (site_id, limit_kmh, direction, display, local_week, cum) FROM STDIN (FORMAT BINARY)

-- name: cell_refresh_done
-- The sites' running totals now hold every rollup before `until`, built with these thresholds.
UPDATE cell_weeks_state s SET through_hour = %(until)s, thresholds = t.thresholds, refreshed_at = now()
FROM unnest(%(site_ids)s::int[], %(thresholds)s::jsonb[]) AS t(site_id, thresholds)
WHERE s.site_id = t.site_id

-- name: cell_series_add
-- Record the series the refresh wrote rows for.
INSERT INTO cell_series (site_id, limit_kmh, direction, display)
SELECT DISTINCT * FROM unnest(%(site_id)s::int[], %(limit_kmh)s::int[], %(direction)s::int[], %(display)s::int[])
ON CONFLICT DO NOTHING

-- name: cell_series_prune
-- Forget the given sites' series that no longer have rows.
DELETE FROM cell_series s
WHERE s.site_id = ANY(%(site_ids)s::int[])
  AND NOT EXISTS (SELECT 1 FROM cell_weeks c WHERE (c.site_id, c.limit_kmh, c.direction, c.display)
                                                 = (s.site_id, s.limit_kmh, s.direction, s.display))

-- name: cell_totals
-- Running totals of every series of the given sites at a boundary each (local week w, hour h of
-- that week, label k): per series the last row at or before week w. When that row is week w's,
-- `head` is its cells 0..h-1 (hours before the boundary) and `rest` the cells h..167 of the
-- series' previous row (NULL: none); otherwise `head` is the whole row. Each row is one index
-- probe, and only the bytes needed leave the table.
WITH b AS (
    SELECT * FROM unnest(%(k)s::int[], %(site_ids)s::int[], %(week)s::int[], %(how)s::int[]) AS b(k, site_id, w, h)
)
SELECT b.k, s.site_id, s.limit_kmh, s.direction, s.display, c.local_week = b.w AS split,
       CASE WHEN c.local_week = b.w THEN substring(c.cum FROM 1 FOR b.h * %(cell)s) ELSE c.cum END AS head,
       CASE WHEN c.local_week = b.w THEN
            (SELECT substring(p.cum FROM b.h * %(cell)s + 1) FROM cell_weeks p
             WHERE p.site_id = s.site_id AND p.limit_kmh = s.limit_kmh AND p.direction = s.direction
               AND p.display = s.display AND p.local_week < b.w
             ORDER BY p.local_week DESC LIMIT 1) END AS rest
FROM b
JOIN cell_series s ON s.site_id = b.site_id
CROSS JOIN LATERAL (
    SELECT x.local_week, x.cum FROM cell_weeks x
    WHERE x.site_id = s.site_id AND x.limit_kmh = s.limit_kmh AND x.direction = s.direction
      AND x.display = s.display AND x.local_week <= b.w
    ORDER BY x.local_week DESC LIMIT 1
) c
