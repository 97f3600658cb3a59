-- Fartkoll schema, part 5: the ranking's running sums per hour-of-week cell (planner.cellweeks).
--
-- Ranking a period sums, per site × direction × display × legal limit × local hour-of-week, the
-- hourly rollups of every week in it: for a year and 200 sites, 3.5 million rows. cell_weeks holds
-- those sums as running totals instead, so a period is the difference of two totals per cell.
--
-- A row is one series (site, legal limit, direction, display) in one local week (local_week as
-- in migration 0003) in which it has rollups; `cum` packs, for each of the 168 local hours of the
-- week, the series' totals over all its rollups up to and including that hour's occurrence in
-- this week (the layout is planner.cellweeks.CELL: 44 bytes an hour, hour-major, little-endian).
-- A site's coverage has series of its own, direction 3: n is the minutes its signs measured in
-- that display mode (the fullest sign each hour, as coverage_hourly × deployments), rows the
-- hours with coverage records.
-- The exceedance totals are taken at the limit (L, L + 1) and at the floor of the reporting
-- threshold (and + 1) that the settings gave when the rows were built, kept per site and limit
-- in cell_weeks_state.thresholds ({"50": 56}); a ranking with another threshold sums the
-- rollups for that site instead.
--
-- cell_weeks_state.through_hour says up to where a site's rows are complete: they hold every
-- rollup of the site with hour < through_hour. A rollup written, changed or deleted for an
-- earlier hour (late data, an import, a repair, a new legal limit or time zone), and likewise a
-- coverage record or a deployment (which decides whose coverage it is and in which mode), moves
-- through_hour back to that hour, so a ranking never reads a stale total: it takes the running
-- totals up to through_hour and sums the rollups after it (planner.cellcache). The refresh job
-- (`fartkoll planner job cells`) rebuilds from there and moves through_hour forward.
--
-- Writers and the refresh meet on an advisory lock per site (20251, site_id % 256: a transaction
-- that writes to thousands of sites holds at most 256 of them): each rollup write holds it shared
-- until its transaction ends, the refresh tries it exclusively and skips a site that is being
-- written (it never waits, so it cannot deadlock with a writer). A write that starts during a
-- refresh waits for it and then moves the new through_hour back if it must.

CREATE TABLE cell_weeks (
    site_id    integer  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    limit_kmh  smallint NOT NULL CHECK (limit_kmh > 0),
    direction  smallint NOT NULL CHECK (direction IN (0, 1, 2, 3)),  -- 3: the coverage series
    display    smallint NOT NULL CHECK (display IN (0, 1)),
    local_week integer  NOT NULL,
    cum        bytea    NOT NULL CHECK (octet_length(cum) = 168 * 44),
    PRIMARY KEY (site_id, limit_kmh, direction, display, local_week)
);
-- uncompressed, and kept in the row (7,392 bytes: one row a page) instead of out of line, so a
-- ranking reads slices of `cum` (substring) without TOAST lookups
ALTER TABLE cell_weeks ALTER COLUMN cum SET STORAGE EXTERNAL;
ALTER TABLE cell_weeks SET (toast_tuple_target = 8160);

-- The series that have rows (a ranking looks each one up with one index probe).
CREATE TABLE cell_series (
    site_id    integer  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    limit_kmh  smallint NOT NULL,
    direction  smallint NOT NULL,
    display    smallint NOT NULL,
    PRIMARY KEY (site_id, limit_kmh, direction, display)
);

CREATE TABLE cell_weeks_state (
    site_id      integer     PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    through_hour timestamptz,  -- NULL: no running totals yet
    thresholds   jsonb       NOT NULL DEFAULT '{}',
    refreshed_at timestamptz NOT NULL DEFAULT now()
);

-- A rollup before a site's through_hour changed: its running totals are stale from that hour on.
CREATE FUNCTION cell_weeks_invalidate(site integer, changed timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(20251, site % 256);
    UPDATE cell_weeks_state SET through_hour = changed WHERE site_id = site AND through_hour > changed;
END $$;

-- Every write to rollup_hourly (write path, importers, the consistency repair, the limit and
-- time-zone refreshes of migration 0003) passes here.
CREATE FUNCTION rollup_hourly_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        PERFORM cell_weeks_invalidate(NEW.site_id, NEW.hour);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.site_id <> NEW.site_id OR OLD.hour <> NEW.hour)) THEN
        PERFORM cell_weeks_invalidate(OLD.site_id, OLD.hour);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER rollup_hourly_changed BEFORE INSERT OR UPDATE OR DELETE ON rollup_hourly
    FOR EACH ROW EXECUTE FUNCTION rollup_hourly_changed();

-- Coverage records and deployments decide the coverage series: a change before through_hour
-- makes them stale from that hour.
CREATE FUNCTION coverage_hourly_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT d.site_id, x.sign_id, x.hour
             FROM (SELECT NEW.sign_id, NEW.hour WHERE TG_OP <> 'DELETE'
                   UNION ALL SELECT OLD.sign_id, OLD.hour WHERE TG_OP <> 'INSERT') AS x(sign_id, hour)
             JOIN deployments d ON d.sign_id = x.sign_id AND x.hour >= d.valid_from
                               AND (d.valid_to IS NULL OR x.hour < d.valid_to)
    LOOP
        PERFORM cell_weeks_invalidate(r.site_id, r.hour);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER coverage_hourly_changed AFTER INSERT OR UPDATE OR DELETE ON coverage_hourly
    FOR EACH ROW EXECUTE FUNCTION coverage_hourly_changed();

CREATE FUNCTION deployments_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- a deployment ended or extended (the usual change): stale from the earlier end only
    IF TG_OP = 'UPDATE' AND (OLD.site_id, OLD.sign_id, OLD.display, OLD.valid_from)
                            = (NEW.site_id, NEW.sign_id, NEW.display, NEW.valid_from) THEN
        IF OLD.valid_to IS DISTINCT FROM NEW.valid_to THEN
            PERFORM cell_weeks_invalidate(NEW.site_id, least(OLD.valid_to, NEW.valid_to));
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM cell_weeks_invalidate(NEW.site_id, NEW.valid_from);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM cell_weeks_invalidate(OLD.site_id, OLD.valid_from);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deployments_changed AFTER INSERT OR UPDATE OR DELETE ON deployments
    FOR EACH ROW EXECUTE FUNCTION deployments_changed();
