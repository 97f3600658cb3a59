-- Fartkoll schema, part 16: rollup_hourly's derived columns and the running totals' invalidation
-- without a function call per row for the write path.
--
-- Measured per group of 500 uploaded passes (~43 rollup rows): the BEFORE row triggers of
-- migrations 0003/0011 (`rollup_hourly_derive`) and 0005 (`rollup_hourly_changed`) took ~7 of the
-- merge's ~10 ms, each firing twice for a merged row (once for the proposed insert, once for the
-- update of ON CONFLICT).
--
-- Derived columns (tail, tail2, local_how, local_week, limit_kmh; migration 0003): the write path
-- now gives them in its merge statement (tails of new rows computed in the client, of merged rows
-- from the merged histogram; local hour and limit by one join to sites and speed_limit_at). The
-- derive trigger keeps every other writer (importers, the consistency repair, the binned importer,
-- benchmark generators, the limit and time-zone refreshes) exactly as before, but fires only when
-- a row arrives without them: an insert with its tails or local hour or week NULL (every writer
-- but the write path leaves them all NULL), an update that leaves one of those NULL, changes the
-- row's site or hour, sets a derived column to another value, or changes `hist` without its tails.
-- limit_kmh NULL is a value (no limit in force), so the limit refresh now also sets local_how to
-- NULL: a site's first limit re-derives its rows, whose limit was NULL before and after.
--
-- Invalidation of the running totals (migration 0005): one statement-level trigger per event with
-- transition tables calls cell_weeks_invalidate once per site and statement (the earliest hour it
-- changed), sites in ascending order, instead of once per row. It runs after the statement's rows
-- are written; a refresh that ran in between moved through_hour forward over committed rollups
-- only, and the invalidation, which waits for that refresh's lock, moves it back.

DROP TRIGGER rollup_hourly_derive ON rollup_hourly;

CREATE TRIGGER rollup_hourly_derive_insert BEFORE INSERT ON rollup_hourly
    FOR EACH ROW
    WHEN (NEW.tail IS NULL OR NEW.tail2 IS NULL OR NEW.local_how IS NULL OR NEW.local_week IS NULL)
    EXECUTE FUNCTION rollup_hourly_derive();

CREATE TRIGGER rollup_hourly_derive_update BEFORE UPDATE ON rollup_hourly
    FOR EACH ROW
    WHEN (NEW.tail IS NULL OR NEW.tail2 IS NULL OR NEW.local_how IS NULL OR NEW.local_week IS NULL
          OR NEW.site_id <> OLD.site_id OR NEW.hour <> OLD.hour
          OR NEW.local_how IS DISTINCT FROM OLD.local_how OR NEW.local_week IS DISTINCT FROM OLD.local_week
          OR NEW.limit_kmh IS DISTINCT FROM OLD.limit_kmh
          OR (NEW.hist IS DISTINCT FROM OLD.hist
              AND (NEW.tail IS NOT DISTINCT FROM OLD.tail OR NEW.tail2 IS NOT DISTINCT FROM OLD.tail2)))
    EXECUTE FUNCTION rollup_hourly_derive();

CREATE OR REPLACE FUNCTION speed_limits_refresh_rollups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE rollup_hourly SET limit_kmh = NULL, local_how = NULL
        WHERE site_id = OLD.site_id AND hour >= OLD.valid_from AND (OLD.valid_to IS NULL OR hour < OLD.valid_to);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE rollup_hourly SET limit_kmh = NULL, local_how = NULL
        WHERE site_id = NEW.site_id AND hour >= NEW.valid_from AND (NEW.valid_to IS NULL OR hour < NEW.valid_to);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER rollup_hourly_changed ON rollup_hourly;
DROP FUNCTION rollup_hourly_changed();

-- The sites and earliest hours a statement wrote, changed or deleted (the transition tables
-- `changed_new` / `changed_old` that the event's trigger declares).
CREATE FUNCTION rollup_hourly_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR r IN SELECT site_id, min(hour) AS hour FROM changed_new GROUP BY site_id ORDER BY site_id LOOP
            PERFORM cell_weeks_invalidate(r.site_id, r.hour);
        END LOOP;
    ELSIF TG_OP = 'UPDATE' THEN
        FOR r IN SELECT site_id, min(hour) AS hour
                 FROM (SELECT site_id, hour FROM changed_new UNION ALL SELECT site_id, hour FROM changed_old) x
                 GROUP BY site_id ORDER BY site_id LOOP
            PERFORM cell_weeks_invalidate(r.site_id, r.hour);
        END LOOP;
    ELSE
        FOR r IN SELECT site_id, min(hour) AS hour FROM changed_old GROUP BY site_id ORDER BY site_id LOOP
            PERFORM cell_weeks_invalidate(r.site_id, r.hour);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER rollup_hourly_changed_insert AFTER INSERT ON rollup_hourly
    REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_hourly_changed();

CREATE TRIGGER rollup_hourly_changed_update AFTER UPDATE ON rollup_hourly
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_hourly_changed();

CREATE TRIGGER rollup_hourly_changed_delete AFTER DELETE ON rollup_hourly
    REFERENCING OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_hourly_changed();
