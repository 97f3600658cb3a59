-- Fartkoll schema, part 6: times inside a sane range, and guards that keep readings attached.
--
-- The write path refuses implausible times per record (collector.plausible: before
-- collector.earliest_time or more than collector.future_margin_s after the receive time). The
-- database keeps a fixed, wider range, so that even psql cannot store 'infinity', year 1 or year
-- 9999 (one such row made every statistic overflow, moved default periods to the future or broke
-- the retention and consistency jobs): every stored time t satisfies
--     '1990-01-01 00:00Z' <= t < '2100-01-01 00:00Z'
-- (collector.config limits collector.earliest_time to the same range).
--
-- readings has no foreign keys (see migration 0001), so triggers stand in for them: besides
-- DELETE (migration 0001), a site's or sign's id cannot change while readings carry it, a
-- reading cannot be moved to a site or sign that does not exist (a row trigger on UPDATE only:
-- an INSERT trigger would cost ingest throughput, and the write path checks ids itself), and
-- sites and signs cannot be truncated (directly or through CASCADE) while readings exist.

-- 1. Remove what is already outside the range, so the constraints below can be added to a
--    database that was poisoned before. Sites with such rows lose their running totals
--    (cell_weeks, migration 0005): they are rebuilt from the rollups that remain by the next
--    `fartkoll planner job cells`; until then the ranking sums the rollups (exact, slower).

CREATE TEMP TABLE out_of_range_sites (site_id integer PRIMARY KEY) ON COMMIT DROP;

INSERT INTO out_of_range_sites
SELECT site_id FROM readings
WHERE NOT (time >= '1990-01-01 00:00Z' AND time < '2100-01-01 00:00Z')
UNION SELECT site_id FROM rollup_hourly
WHERE NOT (hour >= '1990-01-01 00:00Z' AND hour < '2100-01-01 00:00Z')
UNION SELECT site_id FROM binned_counts
WHERE NOT (period_start >= '1990-01-01 00:00Z' AND period_start < '2100-01-01 00:00Z'
           AND period_end > '1990-01-01 00:00Z' AND period_end <= '2100-01-01 00:00Z')
UNION SELECT d.site_id FROM coverage_hourly c JOIN deployments d ON d.sign_id = c.sign_id
WHERE NOT (c.hour >= '1990-01-01 00:00Z' AND c.hour < '2100-01-01 00:00Z')
UNION SELECT site_id FROM cell_weeks_state
WHERE NOT (through_hour >= '1990-01-01 00:00Z' AND through_hour < '2100-01-01 00:00Z');

DELETE FROM readings WHERE NOT (time >= '1990-01-01 00:00Z' AND time < '2100-01-01 00:00Z');
-- the chunks that held them are empty now
SELECT count(*) FROM drop_chunks('readings', older_than => timestamptz '1990-01-01 00:00Z');
SELECT count(*) FROM drop_chunks('readings', newer_than => timestamptz '2100-01-01 00:00Z');
DELETE FROM rollup_hourly WHERE NOT (hour >= '1990-01-01 00:00Z' AND hour < '2100-01-01 00:00Z');
DELETE FROM binned_counts
WHERE NOT (period_start >= '1990-01-01 00:00Z' AND period_start < '2100-01-01 00:00Z'
           AND period_end > '1990-01-01 00:00Z' AND period_end <= '2100-01-01 00:00Z');
DELETE FROM coverage_hourly WHERE NOT (hour >= '1990-01-01 00:00Z' AND hour < '2100-01-01 00:00Z');
DELETE FROM sign_heartbeats WHERE NOT (time >= '1990-01-01 00:00Z' AND time < '2100-01-01 00:00Z');

DELETE FROM cell_weeks WHERE site_id IN (SELECT site_id FROM out_of_range_sites);
DELETE FROM cell_series WHERE site_id IN (SELECT site_id FROM out_of_range_sites);
UPDATE cell_weeks_state SET through_hour = NULL, thresholds = '{}'
WHERE site_id IN (SELECT site_id FROM out_of_range_sites);

-- 2. The range, on every table of times (on the readings hypertable, TimescaleDB adds the
--    constraint to each chunk and to every chunk created later).

ALTER TABLE readings ADD CONSTRAINT readings_time_range
    CHECK (time >= '1990-01-01 00:00Z' AND time < '2100-01-01 00:00Z');
ALTER TABLE rollup_hourly ADD CONSTRAINT rollup_hourly_hour_range
    CHECK (hour >= '1990-01-01 00:00Z' AND hour < '2100-01-01 00:00Z');
ALTER TABLE binned_counts ADD CONSTRAINT binned_counts_period_start_range
    CHECK (period_start >= '1990-01-01 00:00Z' AND period_start < '2100-01-01 00:00Z');
ALTER TABLE binned_counts ADD CONSTRAINT binned_counts_period_end_range
    CHECK (period_end > '1990-01-01 00:00Z' AND period_end <= '2100-01-01 00:00Z');
ALTER TABLE coverage_hourly ADD CONSTRAINT coverage_hourly_hour_range
    CHECK (hour >= '1990-01-01 00:00Z' AND hour < '2100-01-01 00:00Z');
ALTER TABLE sign_heartbeats ADD CONSTRAINT sign_heartbeats_time_range
    CHECK (time >= '1990-01-01 00:00Z' AND time < '2100-01-01 00:00Z');

-- 3. Readings stay attached to their site and sign.

-- A site's or sign's id is what its readings carry: it cannot change under them.
CREATE FUNCTION refuse_rekey_with_readings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sites' AND EXISTS (SELECT 1 FROM readings WHERE site_id = OLD.id) THEN
        RAISE EXCEPTION 'site % has readings; its id cannot change to %', OLD.id, NEW.id
            USING ERRCODE = 'foreign_key_violation', HINT = 'Keep the id; rename the site instead.';
    END IF;
    IF TG_TABLE_NAME = 'signs' AND EXISTS (SELECT 1 FROM readings WHERE sign_id = OLD.id) THEN
        RAISE EXCEPTION 'sign % has readings; its id cannot change to %', OLD.id, NEW.id
            USING ERRCODE = 'foreign_key_violation', HINT = 'Keep the id; change the serial number instead.';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sites_keep_reading_ids BEFORE UPDATE OF id ON sites
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_rekey_with_readings();
CREATE TRIGGER signs_keep_reading_ids BEFORE UPDATE OF id ON signs
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_rekey_with_readings();

-- A reading moved to another site or sign must land on one that exists. UPDATE only: inserts
-- come through the write path, which checks the ids (collector.store).
CREATE FUNCTION readings_refs_exist() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.site_id IS DISTINCT FROM OLD.site_id AND NOT EXISTS (SELECT 1 FROM sites WHERE id = NEW.site_id) THEN
        RAISE EXCEPTION 'no site with id %: a reading cannot be moved there', NEW.site_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.sign_id IS DISTINCT FROM OLD.sign_id AND NEW.sign_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM signs WHERE id = NEW.sign_id) THEN
        RAISE EXCEPTION 'no sign with id %: a reading cannot be moved there', NEW.sign_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER readings_refs_exist BEFORE UPDATE OF site_id, sign_id ON readings
    FOR EACH ROW EXECUTE FUNCTION readings_refs_exist();

-- TRUNCATE skips row triggers, so the DELETE guard does not see it; TRUNCATE ... CASCADE of a
-- table that sites or signs depend on (streets, municipalities) reaches these tables too and
-- fires their TRUNCATE triggers.
CREATE FUNCTION refuse_truncate_with_readings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM readings) THEN
        RAISE EXCEPTION 'readings point into %; it cannot be truncated while readings exist', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Delete the rows one by one (the DELETE guard keeps those with readings), or truncate readings first.';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sites_truncate_keep_readings BEFORE TRUNCATE ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate_with_readings();
CREATE TRIGGER signs_truncate_keep_readings BEFORE TRUNCATE ON signs
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate_with_readings();
