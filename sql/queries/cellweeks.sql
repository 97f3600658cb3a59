-- name: cell_state_add
-- A state row (no running totals yet) for each given site that has none.
INSERT INTO cell_weeks_state (site_id)
SELECT s FROM unnest(%(site_ids)s::int[]) s
ON CONFLICT (site_id) DO NOTHING

-- name: cell_state_try_lock
-- The given sites whose advisory lock (20251, site) this transaction could take now (no waiting: a
-- site being written is left for the next refresh).
SELECT s FROM unnest(%(site_ids)s::int[]) s WHERE pg_try_advisory_xact_lock(20251, s) ORDER BY s

-- name: cell_state_of
-- Running-total state of the given sites, locked for the refresh.
SELECT site_id, through_hour, thresholds FROM cell_weeks_state
WHERE site_id = ANY(%(site_ids)s::int[]) ORDER BY site_id FOR UPDATE

-- name: cell_state_all
-- Every site's running-total state.
SELECT site_id, through_hour, thresholds, refreshed_at FROM cell_weeks_state ORDER BY site_id

-- name: cell_site_limits
-- Every legal limit each site has had (the series its running totals can have).
SELECT DISTINCT site_id, limit_kmh FROM speed_limits ORDER BY site_id, limit_kmh

-- name: cell_refresh_rows
-- Rollup rows of the given sites from each site's first week to rebuild (from_week, beginning at
-- from_hour in UTC) up to `until`, with the tails the running totals keep: at the limit L and
-- L + 1, at the threshold's floor thr_fl (per site and limit) and + 1, and the running tail
-- sums at L and L + 1. Rows without a legal limit are left out, as in the ranking.
WITH w AS (
    SELECT * FROM unnest(%(site_ids)s::int[], %(from_week)s::int[], %(from_hour)s::timestamptz[])
             AS w(site_id, from_week, from_hour)
), p AS (
    SELECT * FROM unnest(%(thr_site)s::int[], %(thr_limit)s::int[], %(thr_fl)s::int[]) AS p(site_id, limit_kmh, thr_fl)
)
SELECT r.site_id, r.limit_kmh, r.direction, r.display, r.local_week, r.local_how, r.n, r.sum_kmh, r.sumsq_kmh,
       tail_at(r.tail, r.limit_kmh) AS t0, tail_at(r.tail, r.limit_kmh + 1) AS t1,
       tail_at(r.tail, p.thr_fl) AS ta, tail_at(r.tail, p.thr_fl + 1) AS tb,
       tail2_at(r.tail2, r.tail, r.limit_kmh) AS e0, tail2_at(r.tail2, r.tail, r.limit_kmh + 1) AS e1
FROM rollup_hourly r
JOIN w ON w.site_id = r.site_id AND r.hour >= w.from_hour AND r.local_week >= w.from_week
JOIN p ON p.site_id = r.site_id AND p.limit_kmh = r.limit_kmh
WHERE r.hour >= %(scan_from)s AND r.hour < %(until)s

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

-- name: cell_totals
-- Running totals of every series of the given sites at a boundary each (local week w, hour h of
-- that week, label k): per series the last row at or before week w. When that row is week w's,
-- `head` is its cells 0..h-1 (hours before the boundary) and `rest` the cells h..167 of the
-- series' previous row (NULL: none); otherwise `head` is the whole row. Only the bytes needed
-- leave the table (cum is stored out of line, uncompressed).
WITH b AS (
    SELECT * FROM unnest(%(k)s::int[], %(site_ids)s::int[], %(week)s::int[], %(how)s::int[]) AS b(k, site_id, w, h)
)
SELECT b.k, c.site_id, c.limit_kmh, c.direction, c.display, c.local_week = b.w AS split,
       CASE WHEN c.local_week = b.w THEN substring(c.cum FROM 1 FOR b.h * 60) ELSE c.cum END AS head,
       CASE WHEN c.local_week = b.w THEN
            (SELECT substring(p.cum FROM b.h * 60 + 1) FROM cell_weeks p
             WHERE p.site_id = c.site_id AND p.limit_kmh = c.limit_kmh AND p.direction = c.direction
               AND p.display = c.display AND p.local_week < b.w
             ORDER BY p.local_week DESC LIMIT 1) END AS rest
FROM b
CROSS JOIN LATERAL (
    SELECT DISTINCT ON (x.limit_kmh, x.direction, x.display)
           x.site_id, x.limit_kmh, x.direction, x.display, x.local_week, x.cum
    FROM cell_weeks x
    WHERE x.site_id = b.site_id AND x.local_week <= b.w
    ORDER BY x.limit_kmh, x.direction, x.display, x.local_week DESC
) c
