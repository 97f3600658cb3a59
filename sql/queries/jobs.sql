-- name: jobs_readings_chunks_before
-- Chunks of the readings hypertable that lie wholly before a time (what drop_chunks would drop), oldest first.
SELECT format('%%I.%%I', c.chunk_schema, c.chunk_name) AS chunk, c.range_start, c.range_end,
       pg_total_relation_size(format('%%I.%%I', c.chunk_schema, c.chunk_name)::regclass) AS bytes
FROM timescaledb_information.chunks c
WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'readings'
  AND c.range_end <= %(older_than)s
ORDER BY c.range_start

-- name: jobs_readings_count_before
-- Vehicle passes stored before a time.
SELECT count(*) FROM readings WHERE time < %(before)s

-- name: jobs_readings_drop_chunks
-- Drop the readings chunks wholly older than a time; returns the dropped chunks' names.
SELECT drop_chunks('readings', older_than => %(older_than)s::timestamptz)

-- name: jobs_readings_oldest
-- Start of the oldest readings chunk still stored (NULL when there is none).
SELECT min(c.range_start) FROM timescaledb_information.chunks c
WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'readings'

-- name: jobs_audit
-- One audit row written by a job (actor 'system').
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
VALUES ('system', %(action)s, %(entity)s, %(entity_id)s, %(detail)s)

-- name: jobs_rollup_fresh_create
-- Session scratch table for hourly rollups recomputed from readings (dropped at commit).
CREATE TEMP TABLE IF NOT EXISTS rollup_fresh (
    site_id    integer NOT NULL,
    direction  smallint NOT NULL,
    display    smallint NOT NULL,
    hour       timestamptz NOT NULL,
    n          integer NOT NULL,
    sum_kmh    double precision NOT NULL,
    sumsq_kmh  double precision NOT NULL,
    hist       integer[] NOT NULL,
    PRIMARY KEY (site_id, direction, display, hour)
) ON COMMIT DROP

-- name: jobs_rollup_fresh_clear
-- Empty the scratch table of recomputed rollups.
TRUNCATE rollup_fresh

-- name: jobs_rollup_fresh_fill
-- Recompute hourly rollups in [start, end) exactly as the writers build them: from readings, plus
-- the binned counts that were added to the rollups (by the hour of their start).
INSERT INTO rollup_fresh (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist)
WITH parts AS (
    SELECT site_id, direction, display, time_bucket('1 hour', time) AS hour,
           floor(speed_kmh)::integer AS bin, count(*)::integer AS c,
           sum(speed_kmh::float8) AS s, sum(speed_kmh::float8 * speed_kmh::float8) AS ss
    FROM readings WHERE time >= %(start)s AND time < %(end)s
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT site_id, direction, display, time_bucket('1 hour', period_start) AS hour,
           floor(speed_lo)::integer AS bin, sum(count)::integer AS c,
           sum(count * speed_lo::float8) AS s, sum(count * speed_lo::float8 * speed_lo::float8) AS ss
    FROM binned_counts
    WHERE in_rollups AND count > 0 AND period_start >= %(start)s AND period_start < %(end)s
    GROUP BY 1, 2, 3, 4, 5
),
bins AS (
    SELECT site_id, direction, display, hour, bin, sum(c)::integer AS c, sum(s) AS s, sum(ss) AS ss
    FROM parts GROUP BY 1, 2, 3, 4, 5
),
groups AS (
    SELECT site_id, direction, display, hour, sum(c)::integer AS n, sum(s) AS s, sum(ss) AS ss,
           min(bin) AS lo, array_agg(bin) AS bs, array_agg(c) AS cs
    FROM bins GROUP BY 1, 2, 3, 4
)
SELECT site_id, direction, display, hour, n, s, ss,
       hist_at(hist_dense(g.bs, g.cs), g.lo)
FROM groups g

-- name: jobs_rollup_mismatches
-- Keys in [start, end) where rollup_hourly differs from the recomputed rollups (n, sums within a relative tolerance, histogram with its bounds).
SELECT coalesce(r.site_id, f.site_id) AS site_id, coalesce(r.direction, f.direction) AS direction,
       coalesce(r.display, f.display) AS display, coalesce(r.hour, f.hour) AS hour,
       r.n AS rollup_n, f.n AS readings_n, r.sum_kmh AS rollup_sum, f.sum_kmh AS readings_sum,
       r.sumsq_kmh AS rollup_sumsq, f.sumsq_kmh AS readings_sumsq,
       (r.hist IS DISTINCT FROM f.hist) AS hist_differs
FROM (SELECT * FROM rollup_hourly WHERE hour >= %(start)s AND hour < %(end)s) r
FULL JOIN rollup_fresh f
  ON f.site_id = r.site_id AND f.direction = r.direction AND f.display = r.display AND f.hour = r.hour
WHERE r.site_id IS NULL OR f.site_id IS NULL
   OR r.n <> f.n OR r.hist IS DISTINCT FROM f.hist
   OR abs(r.sum_kmh - f.sum_kmh) > %(rel_tol)s * greatest(1, abs(f.sum_kmh))
   OR abs(r.sumsq_kmh - f.sumsq_kmh) > %(rel_tol)s * greatest(1, abs(f.sumsq_kmh))
ORDER BY 4, 1, 2, 3

-- name: jobs_rollup_window_count
-- Rollup rows in [start, end).
SELECT count(*) FROM rollup_hourly WHERE hour >= %(start)s AND hour < %(end)s

-- name: jobs_rollup_lock
-- Hold off the write path (it adds to rollups) while a window is recomputed; released at commit.
LOCK TABLE rollup_hourly IN SHARE ROW EXCLUSIVE MODE

-- name: jobs_rollup_delete_window
-- Remove the rollups of [start, end) before they are replaced.
DELETE FROM rollup_hourly WHERE hour >= %(start)s AND hour < %(end)s

-- name: jobs_rollup_insert_fresh
-- Store the recomputed rollups.
INSERT INTO rollup_hourly (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist)
SELECT site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist FROM rollup_fresh

-- name: jobs_silent_candidates
-- Signs deployed at a moment with no reading in the threshold window before it: their site, latest heartbeat, latest reading within the lookback, and when they started standing there.
WITH open AS (
    SELECT DISTINCT ON (d.sign_id) d.sign_id, d.site_id
    FROM deployments d
    WHERE d.valid_from <= %(now)s AND (d.valid_to IS NULL OR d.valid_to > %(now)s)
    ORDER BY d.sign_id, d.valid_from DESC
),
recent AS (
    SELECT DISTINCT r.sign_id FROM readings r
    WHERE r.time > %(now)s - %(silent)s AND r.time <= %(now)s AND r.sign_id IS NOT NULL
)
SELECT o.sign_id, sg.serial_number, o.site_id, s.name AS site_name,
       (SELECT min(d.valid_from) FROM deployments d
         WHERE d.sign_id = o.sign_id AND d.site_id = o.site_id AND d.valid_from <= %(now)s) AS standing_since,
       (SELECT max(h.time) FROM sign_heartbeats h
         WHERE h.sign_id = o.sign_id AND h.time <= %(now)s) AS last_heartbeat,
       (SELECT r.time FROM readings r
         WHERE r.sign_id = o.sign_id AND r.time <= %(now)s AND r.time > %(now)s - %(lookback)s
         ORDER BY r.time DESC LIMIT 1) AS last_reading
FROM open o
JOIN signs sg ON sg.id = o.sign_id
JOIN sites s ON s.id = o.site_id
WHERE o.sign_id NOT IN (SELECT sign_id FROM recent)
ORDER BY o.sign_id

-- name: jobs_silent_alerted
-- Silences already alerted: sign id and the 'since' of each earlier sign.silent audit row for these signs.
SELECT entity_id, detail->>'since' FROM audit_log
WHERE action = 'sign.silent' AND entity = 'sign' AND entity_id = ANY(%(sign_ids)s)

-- name: jobs_sign_gaps
-- Silences longer than a threshold in [start, end): gaps between a deployed sign's signs of life (passes, heartbeats), the window's edges counting as life; with the sign's site at the gap's start.
WITH dep AS (
    SELECT d.sign_id, min(greatest(d.valid_from, %(start)s)) AS lo,
           max(least(coalesce(d.valid_to, 'infinity'::timestamptz), %(end)s)) AS hi
    FROM deployments d
    WHERE d.valid_from < %(end)s AND (d.valid_to IS NULL OR d.valid_to > %(start)s)
    GROUP BY d.sign_id
),
ev AS (
    SELECT r.sign_id, r.time FROM readings r JOIN dep ON dep.sign_id = r.sign_id
    WHERE r.time >= %(start)s AND r.time < %(end)s AND r.time >= dep.lo AND r.time < dep.hi
    UNION ALL
    SELECT h.sign_id, h.time FROM sign_heartbeats h JOIN dep ON dep.sign_id = h.sign_id
    WHERE h.time >= dep.lo AND h.time < dep.hi
    UNION ALL SELECT sign_id, lo FROM dep
    UNION ALL SELECT sign_id, hi FROM dep
),
gaps AS (
    SELECT sign_id, lag(time) OVER (PARTITION BY sign_id ORDER BY time) AS gap_start, time AS gap_end FROM ev
)
SELECT sg.serial_number, s.name AS site_name, g.gap_start, g.gap_end, g.gap_end = dep.hi AS to_window_end
FROM gaps g
JOIN dep ON dep.sign_id = g.sign_id
JOIN signs sg ON sg.id = g.sign_id
CROSS JOIN LATERAL (SELECT d.site_id FROM deployments d
                    WHERE d.sign_id = g.sign_id AND d.valid_from <= g.gap_start
                    ORDER BY d.valid_from DESC LIMIT 1) ds
JOIN sites s ON s.id = ds.site_id
WHERE g.gap_end - g.gap_start > %(threshold)s
ORDER BY g.gap_start, sg.serial_number
