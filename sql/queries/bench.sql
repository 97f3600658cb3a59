-- name: bench_bare_create
-- A bare hypertable for baselines: the same columns as readings, one unique index, no rollups.
CREATE TABLE bench_bare (
    time timestamptz NOT NULL, site_id integer NOT NULL, direction smallint NOT NULL,
    speed_kmh real NOT NULL, display smallint NOT NULL, idem_key uuid NOT NULL
);
SELECT create_hypertable('bench_bare', 'time', chunk_time_interval => interval '7 days');
CREATE UNIQUE INDEX bench_bare_idem ON bench_bare (idem_key, time)

-- name: bench_bare_truncate
-- Empty the baseline table between measurements.
TRUNCATE bench_bare

-- name: bench_bare_insert
-- Row-by-row insert used by the executemany baseline.
INSERT INTO bench_bare (time, site_id, direction, speed_kmh, display, idem_key)
VALUES (%s, %s, %s, %s, %s, %s)

-- name: bench_site
-- A site for benchmark rows.
WITH pa AS (INSERT INTO police_areas (name) VALUES ('Bench') RETURNING id),
     m AS (INSERT INTO municipalities (name, police_area_id) SELECT 'Bench', id FROM pa RETURNING id),
     st AS (INSERT INTO streets (municipality_id, name) SELECT id, 'Benchgatan' FROM m RETURNING id)
INSERT INTO sites (street_id, name) SELECT id, 'Benchgatan 1' FROM st RETURNING id

-- name: bench_like_create
-- A copy of the readings hypertable (same columns, checks and unique key) for the naive baseline.
CREATE TABLE bench_like (LIKE readings INCLUDING CONSTRAINTS INCLUDING DEFAULTS);
SELECT create_hypertable('bench_like', 'time', chunk_time_interval => interval '7 days', create_default_indexes => false);
CREATE UNIQUE INDEX bench_like_key ON bench_like (time, idem_key)

-- name: bench_like_insert
-- What a writer without the write path would do: one INSERT per pass, skipping known keys.
INSERT INTO bench_like (time, site_id, sign_id, direction, speed_kmh, display, length_m, idem_key)
VALUES (%s, %s, NULL, %s, %s, %s, NULL, %s) ON CONFLICT DO NOTHING
