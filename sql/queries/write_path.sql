-- name: staging_create
-- Per-session staging table for one batch of vehicle passes; emptied at each commit.
CREATE TEMP TABLE IF NOT EXISTS staging_passes (
    ord        integer NOT NULL,
    time       timestamptz NOT NULL,
    sign_id    integer,
    site_id    integer,
    direction  smallint NOT NULL,
    speed_kmh  real NOT NULL,
    display    smallint,
    length_m   real,
    idem_key   uuid NOT NULL
) ON COMMIT DELETE ROWS

-- name: staging_clear
-- Empty the staging table (a batch inside a longer transaction).
TRUNCATE staging_passes

-- name: staging_copy
-- Binary COPY target for a batch.
COPY staging_passes (ord, time, sign_id, site_id, direction, speed_kmh, display, length_m, idem_key) FROM STDIN (FORMAT BINARY)

-- name: staging_resolve_deployment
-- Fill site and display mode from the sign's deployment at each pass's time.
UPDATE staging_passes s
SET site_id = coalesce(s.site_id, d.site_id),
    display = coalesce(s.display, d.display)
FROM deployments d
WHERE (s.site_id IS NULL OR s.display IS NULL)
  AND d.sign_id = s.sign_id
  AND s.time >= d.valid_from
  AND (d.valid_to IS NULL OR s.time < d.valid_to)

-- name: staging_rejects
-- Passes that cannot be stored, with the field at fault and why.
SELECT s.ord,
       CASE WHEN s.sign_id IS NOT NULL AND sg.id IS NULL THEN 'sign_id'
            WHEN s.site_id IS NULL THEN 'site_id'
            WHEN st.id IS NULL THEN 'site_id'
            ELSE 'display' END AS field,
       CASE WHEN s.sign_id IS NOT NULL AND sg.id IS NULL THEN 'no sign with this id'
            WHEN s.site_id IS NULL AND s.sign_id IS NULL THEN 'no site given and no sign to find its deployment'
            WHEN s.site_id IS NULL THEN 'the sign has no deployment covering this time'
            WHEN st.id IS NULL THEN 'no site with this id'
            ELSE 'display mode unknown: the sign has no deployment covering this time' END AS reason
FROM staging_passes s
LEFT JOIN signs sg ON sg.id = s.sign_id
LEFT JOIN sites st ON st.id = s.site_id
WHERE s.site_id IS NULL OR s.display IS NULL OR st.id IS NULL
   OR (s.sign_id IS NOT NULL AND sg.id IS NULL)
ORDER BY s.ord

-- name: staging_store
-- Insert the valid, new passes and add exactly those to the hourly rollups; returns how many were new.
WITH ok AS (
    SELECT s.* FROM staging_passes s
    WHERE s.site_id IS NOT NULL AND s.display IS NOT NULL
      AND EXISTS (SELECT 1 FROM sites WHERE id = s.site_id)
      AND (s.sign_id IS NULL OR EXISTS (SELECT 1 FROM signs WHERE id = s.sign_id))
),
ins AS (
    INSERT INTO readings (time, site_id, sign_id, direction, speed_kmh, display, length_m, idem_key)
    SELECT time, site_id, sign_id, direction, speed_kmh, display, length_m, idem_key
    FROM ok ORDER BY time
    ON CONFLICT DO NOTHING
    RETURNING site_id, direction, display, time, speed_kmh
),
bins AS (
    SELECT site_id, direction, display, time_bucket('1 hour', time) AS hour,
           floor(speed_kmh)::integer AS bin, count(*)::integer AS c,
           sum(speed_kmh::float8) AS s, sum(speed_kmh::float8 * speed_kmh::float8) AS ss
    FROM ins GROUP BY 1, 2, 3, 4, 5
),
groups AS (
    SELECT site_id, direction, display, hour, sum(c)::integer AS n, sum(s) AS s, sum(ss) AS ss,
           min(bin) AS lo, max(bin) AS hi, array_agg(bin) AS bs, array_agg(c) AS cs
    FROM bins GROUP BY 1, 2, 3, 4
),
agg AS (
    -- dense histogram with subscripts lo..hi (set through the array's text form, which carries bounds)
    SELECT site_id, direction, display, hour, n, s, ss,
           (SELECT ('[' || g.lo || ':' || g.hi || ']=' || array_agg(coalesce(x.c, 0) ORDER BY k)::text)::integer[]
            FROM generate_series(g.lo, g.hi) k LEFT JOIN unnest(g.bs, g.cs) x(b, c) ON x.b = k) AS hist
    FROM groups g
),
up AS (
    INSERT INTO rollup_hourly AS r (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, hist)
    SELECT site_id, direction, display, hour, n, s, ss, hist FROM agg
    ON CONFLICT (site_id, direction, display, hour) DO UPDATE
    SET n = r.n + excluded.n,
        sum_kmh = r.sum_kmh + excluded.sum_kmh,
        sumsq_kmh = r.sumsq_kmh + excluded.sumsq_kmh,
        hist = hist_add(r.hist, excluded.hist)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ok)::integer AS valid,
       coalesce((SELECT sum(n) FROM agg), 0)::integer AS inserted,
       (SELECT count(*) FROM up)::integer AS rollup_rows
