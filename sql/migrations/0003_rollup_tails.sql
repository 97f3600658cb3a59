-- Fartkoll schema, part 3: derived columns on rollup_hourly for the planner's ranking.
--
-- The ranking needs, per hourly rollup, the vehicles over a level (v > L, v >= T) and the summed
-- excess over the limit, for any level. Unnesting every histogram per query costs ~5-10 us a row;
-- with the tails below each level is a subscript or two. A BEFORE row trigger keeps the columns
-- in step with `hist`, the site's time zone and its legal limits, so every writer (write path,
-- importers, the consistency repair) gets them without repeating any SQL; triggers on
-- speed_limits and sites refresh the rows a change affects.
--
--   tail[b]   vehicles in bins >= b                  (same subscripts as hist)
--   tail2[b]  sum of tail[b'] over b' >= b           = sum over bins b' >= b of hist[b'] * (b' - b + 1)
--   below the histogram's first bin lo: tail[b] = n, tail2[b] = tail2[lo] + (lo - b) * n;
--   above its last bin: both 0.
--   local_how   hour-of-week of `hour` in the site's time zone (Monday 00 = 0; planner.hourofweek)
--   local_week  the local Monday-based week: (local days since 1970-01-01 + 3) / 7
--   limit_kmh   the legal limit in force at `hour` (speed_limits), NULL when none is

-- Tails of a histogram (see above). Sums are taken in bigint and stored in the arrays' types,
-- so a count that does not fit raises instead of wrapping.
CREATE FUNCTION hist_tails(h integer[], OUT tail integer[], OUT tail2 bigint[])
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    lo  integer := array_lower(h, 1);
    hi  integer := array_upper(h, 1);
    acc bigint := 0;
    acc2 bigint := 0;
BEGIN
    IF lo IS NULL THEN
        tail := '{}';
        tail2 := '{}';
        RETURN;
    END IF;
    tail := array_fill(0, ARRAY[hi - lo + 1], ARRAY[lo]);
    tail2 := array_fill(0::bigint, ARRAY[hi - lo + 1], ARRAY[lo]);
    FOR i IN REVERSE hi .. lo LOOP
        acc := acc + coalesce(h[i], 0);
        acc2 := acc2 + acc;
        tail[i] := acc;
        tail2[i] := acc2;
    END LOOP;
END $$;

-- tail[b] and tail2[b] for any bin b, inside the arrays' bounds or not (see above; the total is
-- tail's first element, so a row whose n disagrees with its hist still matches its hist).
-- Plain SQL expressions: the planner inlines them into a query.
CREATE FUNCTION tail_at(tail integer[], b integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(tail[b], CASE WHEN b < array_lower(tail, 1) THEN tail[array_lower(tail, 1)] ELSE 0 END)
$$;

CREATE FUNCTION tail2_at(tail2 bigint[], tail integer[], b integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(tail2[b], CASE WHEN b < array_lower(tail2, 1)
                                   THEN tail2[array_lower(tail2, 1)]
                                        + (array_lower(tail2, 1) - b)::bigint * tail[array_lower(tail, 1)]
                                   ELSE 0 END)
$$;

-- Local hour-of-week (Monday 00 = 0) and Monday-based local week number of a UTC instant.
CREATE FUNCTION local_hour_of_week(t timestamptz, tz text) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ((extract(isodow FROM t AT TIME ZONE tz)::int - 1) * 24 + extract(hour FROM t AT TIME ZONE tz)::int)::smallint
$$;

CREATE FUNCTION local_week(t timestamptz, tz text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (((t AT TIME ZONE tz)::date - date '1970-01-01') + 3) / 7
$$;

ALTER TABLE rollup_hourly
    ADD COLUMN local_how  smallint,
    ADD COLUMN local_week integer,
    ADD COLUMN limit_kmh  smallint,
    ADD COLUMN tail       integer[],
    ADD COLUMN tail2      bigint[];

CREATE FUNCTION rollup_hourly_derive() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
BEGIN
    -- an update that leaves hist and its tails alone (a limit or time-zone refresh) skips the loop
    IF TG_OP = 'INSERT' OR NEW.hist IS DISTINCT FROM OLD.hist OR NEW.tail IS DISTINCT FROM OLD.tail
       OR NEW.tail2 IS DISTINCT FROM OLD.tail2 OR NEW.tail IS NULL THEN
        SELECT t.tail, t.tail2 INTO NEW.tail, NEW.tail2 FROM hist_tails(NEW.hist) t;
    END IF;
    SELECT s.time_zone INTO tz FROM sites s WHERE s.id = NEW.site_id;
    NEW.local_how := local_hour_of_week(NEW.hour, tz);
    NEW.local_week := local_week(NEW.hour, tz);
    NEW.limit_kmh := (SELECT l.limit_kmh FROM speed_limits l
                      WHERE l.site_id = NEW.site_id AND l.valid_from <= NEW.hour
                        AND (l.valid_to IS NULL OR NEW.hour < l.valid_to));
    RETURN NEW;
END $$;

CREATE TRIGGER rollup_hourly_derive BEFORE INSERT OR UPDATE ON rollup_hourly
    FOR EACH ROW EXECUTE FUNCTION rollup_hourly_derive();

-- A limit added, changed or removed: re-derive the limit of the rollups in the old and new spans.
CREATE FUNCTION speed_limits_refresh_rollups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE rollup_hourly SET limit_kmh = NULL
        WHERE site_id = OLD.site_id AND hour >= OLD.valid_from AND (OLD.valid_to IS NULL OR hour < OLD.valid_to);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE rollup_hourly SET limit_kmh = NULL
        WHERE site_id = NEW.site_id AND hour >= NEW.valid_from AND (NEW.valid_to IS NULL OR hour < NEW.valid_to);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER speed_limits_refresh_rollups AFTER INSERT OR UPDATE OR DELETE ON speed_limits
    FOR EACH ROW EXECUTE FUNCTION speed_limits_refresh_rollups();

-- A site's time zone changed: re-derive its rollups' local hour-of-week and week.
CREATE FUNCTION sites_refresh_rollups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rollup_hourly SET local_how = NULL WHERE site_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER sites_refresh_rollups AFTER UPDATE OF time_zone ON sites
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION sites_refresh_rollups();

-- Existing rows: the trigger derives everything.
UPDATE rollup_hourly SET tail = NULL;
