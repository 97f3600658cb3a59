-- Speed limits that hold on some weekdays and hours only: a school zone's 30 km/h on weekdays
-- 07-17 over a standing 50 km/h. A timed limit has `days` (ISO weekdays, Monday 1 .. Sunday 7)
-- and local hours [hour_from, hour_to) of the site's time zone; while one applies it overrides
-- the standing limit. At most one standing and one timed limit are in force at a time: each kind
-- has its own non-overlapping history (`timed` tells them apart).
ALTER TABLE speed_limits
    ADD COLUMN days      smallint[],
    ADD COLUMN hour_from smallint,
    ADD COLUMN hour_to   smallint,
    ADD COLUMN timed     boolean GENERATED ALWAYS AS (days IS NOT NULL) STORED,
    ADD CONSTRAINT speed_limits_hours CHECK (
        (days IS NULL AND hour_from IS NULL AND hour_to IS NULL)
        OR (days IS NOT NULL AND cardinality(days) BETWEEN 1 AND 7 AND days <@ '{1,2,3,4,5,6,7}'::smallint[]
            AND hour_from BETWEEN 0 AND 23 AND hour_to BETWEEN 1 AND 24 AND hour_to > hour_from));

ALTER TABLE speed_limits DROP CONSTRAINT speed_limits_pkey;
ALTER TABLE speed_limits ADD PRIMARY KEY (site_id, timed, valid_from);
ALTER TABLE speed_limits DROP CONSTRAINT speed_limits_site_id_tstzrange_excl;
ALTER TABLE speed_limits ADD CONSTRAINT speed_limits_no_overlap
    EXCLUDE USING gist (site_id WITH =, (timed::int) WITH =, tstzrange(valid_from, valid_to) WITH &&);

-- The limit in force at a site at an instant: a timed limit whose weekday and local hour match,
-- else the standing one (no row: no limit recorded).
CREATE FUNCTION speed_limit_at(site integer, t timestamptz, tz text) RETURNS SETOF speed_limits
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.* FROM speed_limits l
    WHERE l.site_id = site AND l.valid_from <= t AND (l.valid_to IS NULL OR t < l.valid_to)
      AND (NOT l.timed OR (extract(isodow FROM t AT TIME ZONE tz)::smallint = ANY (l.days)
                           AND extract(hour FROM t AT TIME ZONE tz) >= l.hour_from
                           AND extract(hour FROM t AT TIME ZONE tz) < l.hour_to))
    ORDER BY l.timed DESC
    LIMIT 1
$$;

-- The rollups' limit (migration 0003) becomes the one in force at the row's local hour.
CREATE OR REPLACE FUNCTION rollup_hourly_derive() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.hist IS DISTINCT FROM OLD.hist OR NEW.tail IS DISTINCT FROM OLD.tail
       OR NEW.tail2 IS DISTINCT FROM OLD.tail2 OR NEW.tail IS NULL THEN
        SELECT t.tail, t.tail2 INTO NEW.tail, NEW.tail2 FROM hist_tails(NEW.hist) t;
    END IF;
    SELECT s.time_zone INTO tz FROM sites s WHERE s.id = NEW.site_id;
    NEW.local_how := local_hour_of_week(NEW.hour, tz);
    NEW.local_week := local_week(NEW.hour, tz);
    NEW.limit_kmh := (SELECT l.limit_kmh FROM speed_limit_at(NEW.site_id, NEW.hour, tz) l);
    RETURN NEW;
END $$;
