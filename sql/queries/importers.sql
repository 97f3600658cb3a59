-- name: imp_police_area
-- Get or create a police area by name; returns its id.
WITH ins AS (
    INSERT INTO police_areas (name) VALUES (%(name)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id FROM ins
UNION ALL
SELECT id FROM police_areas WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: imp_municipality
-- Get or create a municipality by name (a new one goes under the given police area); returns its id.
WITH ins AS (
    INSERT INTO municipalities (name, police_area_id) VALUES (%(name)s, %(police_area_id)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id FROM ins
UNION ALL
SELECT id FROM municipalities WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: imp_streets_bulk
-- Get or create many streets of one municipality; returns (id, name) of each named street.
WITH ins AS (
    INSERT INTO streets (municipality_id, name)
    SELECT %(municipality_id)s, n FROM unnest(%(names)s::text[]) AS n
    ON CONFLICT (municipality_id, name) DO NOTHING
    RETURNING id, name
)
SELECT id, name FROM ins
UNION ALL
SELECT id, name FROM streets
WHERE municipality_id = %(municipality_id)s AND name = ANY(%(names)s::text[])
  AND name NOT IN (SELECT name FROM ins)

-- name: imp_sites_bulk
-- Get or create many sites (parallel arrays of street id and name); returns (id, name, new).
WITH want AS (
    SELECT * FROM unnest(%(street_ids)s::integer[], %(names)s::text[]) AS w (street_id, name)
),
ins AS (
    INSERT INTO sites (street_id, name, time_zone)
    SELECT street_id, name, %(time_zone)s FROM want
    ON CONFLICT (name) DO NOTHING
    RETURNING id, name
)
SELECT id, name, true AS new FROM ins
UNION ALL
SELECT s.id, s.name, false FROM sites s
WHERE s.name IN (SELECT name FROM want) AND s.name NOT IN (SELECT name FROM ins)

-- name: imp_site_place
-- The street and municipality of a site, by site name (no row: no such site).
SELECT s.id, st.name AS street, m.name AS municipality, s.time_zone
FROM sites s JOIN streets st ON st.id = s.street_id JOIN municipalities m ON m.id = st.municipality_id
WHERE s.name = %(name)s

-- name: imp_speed_limit
-- Record a legal limit from a time on, unless the site already has a limit overlapping it.
INSERT INTO speed_limits (site_id, valid_from, valid_to, limit_kmh)
VALUES (%(site_id)s, %(valid_from)s, NULL, %(limit_kmh)s)
ON CONFLICT DO NOTHING

-- name: imp_speed_limits_bulk
-- Record a legal limit for many sites, each from its own start; sites with an overlapping limit keep theirs.
INSERT INTO speed_limits (site_id, valid_from, valid_to, limit_kmh)
SELECT site_id, valid_from, NULL, %(limit_kmh)s
FROM unnest(%(site_ids)s::integer[], %(valid_froms)s::timestamptz[]) AS l (site_id, valid_from)
ON CONFLICT DO NOTHING

-- name: imp_sign
-- Get or create a sign by serial number; returns its id, unit and whether it is new.
WITH ins AS (
    INSERT INTO signs (serial_number, vendor, model, protocol, unit, rounding)
    VALUES (%(serial)s, %(vendor)s, %(model)s, %(protocol)s, %(unit)s, %(rounding)s)
    ON CONFLICT (serial_number) DO NOTHING
    RETURNING id, unit
)
SELECT id, unit, true AS new FROM ins
UNION ALL
SELECT id, unit, false FROM signs WHERE serial_number = %(serial)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: imp_sign_by_serial
-- A sign's id by serial number (no row: no such sign).
SELECT id FROM signs WHERE serial_number = %(serial)s

-- name: imp_deployments_overlapping
-- Deployments of a sign that overlap [valid_from, valid_to) (valid_to NULL: open-ended).
SELECT d.id, d.site_id, s.name AS site, d.valid_from, d.valid_to, d.display
FROM deployments d JOIN sites s ON s.id = d.site_id
WHERE d.sign_id = %(sign_id)s
  AND tstzrange(d.valid_from, d.valid_to) && tstzrange(%(valid_from)s, %(valid_to)s)
ORDER BY d.valid_from

-- name: imp_deployment_insert
-- A new deployment of a sign at a site; returns its id.
INSERT INTO deployments (sign_id, site_id, valid_from, valid_to, display, approach_heading, note)
VALUES (%(sign_id)s, %(site_id)s, %(valid_from)s, %(valid_to)s, %(display)s, %(approach_heading)s, %(note)s)
RETURNING id

-- name: imp_deployment_widen
-- Widen a deployment to cover [valid_from, valid_to) as well (valid_to NULL: open-ended).
UPDATE deployments
SET valid_from = least(valid_from, %(valid_from)s),
    valid_to = CASE WHEN valid_to IS NULL OR %(valid_to)s::timestamptz IS NULL THEN NULL
                    ELSE greatest(valid_to, %(valid_to)s) END
WHERE id = %(id)s

-- name: imp_binned_staging_create
-- Per-session staging table for a batch of binned counts; emptied at each commit.
CREATE TEMP TABLE IF NOT EXISTS staging_binned (
    ord           integer NOT NULL,
    site_id       integer NOT NULL,
    sign_id       integer,
    direction     smallint NOT NULL,
    display       smallint,
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    speed_lo      real NOT NULL,
    speed_hi      real,
    count         integer NOT NULL,
    source        text NOT NULL,
    source_key    text NOT NULL
) ON COMMIT DELETE ROWS

-- name: imp_binned_staging_clear
-- Empty the binned staging table (a batch inside a longer transaction).
TRUNCATE staging_binned

-- name: imp_binned_staging_copy
-- Binary COPY target for a batch of binned counts.
COPY staging_binned (ord, site_id, sign_id, direction, display, period_start, period_end,
                     speed_lo, speed_hi, count, source, source_key) FROM STDIN (FORMAT BINARY)

-- name: imp_binned_store
-- Insert the staged bins not stored before; returns how many rows and vehicles were new.
WITH ins AS (
    INSERT INTO binned_counts (site_id, sign_id, direction, display, period_start, period_end,
                               speed_lo, speed_hi, count, source, source_key)
    SELECT site_id, sign_id, direction, display, period_start, period_end,
           speed_lo, speed_hi, count, source, source_key
    FROM staging_binned ORDER BY ord
    ON CONFLICT (source, source_key) DO NOTHING
    RETURNING count
)
SELECT count(*)::integer AS rows, coalesce(sum(count), 0)::bigint AS vehicles FROM ins

-- name: imp_binned_store_with_rollup
-- Insert the staged 1 km/h bins not stored before (marked in_rollups) and stage exactly those
-- as rollup increments (hour of the bin's start) for the write path's rollup_merge; returns how
-- many rows and vehicles were new.
WITH ins AS (
    INSERT INTO binned_counts (site_id, sign_id, direction, display, period_start, period_end,
                               speed_lo, speed_hi, count, source, source_key, in_rollups)
    SELECT site_id, sign_id, direction, display, period_start, period_end,
           speed_lo, speed_hi, count, source, source_key, true
    FROM staging_binned ORDER BY ord
    ON CONFLICT (source, source_key) DO NOTHING
    RETURNING site_id, direction, display, period_start, speed_lo, count
),
bins AS (
    SELECT site_id, direction, display, time_bucket('1 hour', period_start) AS hour,
           floor(speed_lo)::integer AS bin, sum(count)::integer AS c,
           sum(count * speed_lo::float8) AS s, sum(count * speed_lo::float8 * speed_lo::float8) AS ss
    FROM ins WHERE count > 0 GROUP BY 1, 2, 3, 4, 5
),
groups AS (
    SELECT site_id, direction, display, hour, sum(c)::integer AS n, sum(s) AS s, sum(ss) AS ss,
           min(bin) AS lo, array_agg(bin) AS bs, array_agg(c) AS cs
    FROM bins GROUP BY 1, 2, 3, 4
),
staged AS (
    INSERT INTO staging_rollup (site_id, direction, display, hour, n, sum_kmh, sumsq_kmh, lo, counts)
    SELECT site_id, direction, display, hour, n, s, ss, lo,
           hist_dense(g.bs, g.cs)
    FROM groups g
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::integer AS rows,
       coalesce((SELECT sum(count) FROM ins), 0)::bigint AS vehicles,
       (SELECT count(*) FROM staged)::integer AS rollup_rows

-- name: imp_audit
-- One audit-log row for an import, with its summary as detail.
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
VALUES (%(actor)s, 'import', %(entity)s, %(entity_id)s, %(detail)s)

-- name: imp_deployment_nearest
-- The sign's deployment nearest in time to [valid_from, valid_to) (valid_to NULL: open-ended).
SELECT d.id, d.site_id, d.display
FROM deployments d
WHERE d.sign_id = %(sign_id)s
ORDER BY least(abs(extract(epoch FROM d.valid_from - %(valid_from)s)),
               abs(extract(epoch FROM coalesce(d.valid_to, 'infinity') - %(valid_from)s))) NULLS LAST
LIMIT 1

-- name: imp_readings_alike
-- How many stored readings equal each given (site, time, speed, direction, display): that many
-- occurrences of it in an import are re-imported vehicles (keys from content, older keys too).
SELECT w.site_id, w.time, w.speed_kmh, w.direction, w.display, count(*)::integer AS stored
FROM (SELECT DISTINCT * FROM unnest(%(site_ids)s::integer[], %(times)s::timestamptz[], %(speeds)s::real[],
                                    %(directions)s::smallint[], %(displays)s::smallint[])
      AS u (site_id, time, speed_kmh, direction, display)) w
JOIN readings r ON r.time = w.time AND r.site_id = w.site_id AND r.speed_kmh = w.speed_kmh
               AND r.direction = w.direction AND r.display = w.display
WHERE r.time >= %(first)s AND r.time <= %(last)s
GROUP BY 1, 2, 3, 4, 5
