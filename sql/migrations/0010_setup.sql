-- Setting up signs and sites without SQL: posted speed limits in their own unit, citizen tips
-- by channel with a bounded text, and per-client tip counts shared by every server process.

-- A UK site is posted at 30 mph, not at 48 km/h: keep the posted value and its unit.
-- `limit_kmh` stays filled (the km/h value rounded down) for the code that reads it; rows
-- written with `limit_kmh` alone are posted in km/h.
ALTER TABLE speed_limits
    ADD COLUMN posted_value smallint,
    ADD COLUMN posted_unit  text NOT NULL DEFAULT 'kmh' CHECK (posted_unit IN ('kmh', 'mph'));
UPDATE speed_limits SET posted_value = limit_kmh;

CREATE FUNCTION speed_limits_posted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.posted_value IS NULL THEN
        NEW.posted_value := NEW.limit_kmh;
        NEW.posted_unit := 'kmh';
    ELSIF TG_OP = 'UPDATE' AND NEW.limit_kmh IS DISTINCT FROM OLD.limit_kmh
          AND NEW.posted_value IS NOT DISTINCT FROM OLD.posted_value
          AND NEW.posted_unit IS NOT DISTINCT FROM OLD.posted_unit THEN
        -- a km/h limit corrected by hand (psql): the posted value follows
        NEW.posted_value := NEW.limit_kmh;
        NEW.posted_unit := 'kmh';
    END IF;
    IF NEW.limit_kmh IS NULL AND NEW.posted_value IS NOT NULL THEN
        NEW.limit_kmh := CASE NEW.posted_unit WHEN 'mph' THEN floor(NEW.posted_value * 1.609344)
                                              ELSE NEW.posted_value END;
    END IF;
    RETURN NEW;
END $$;

-- named to run before any other BEFORE trigger on the table (they fire in name order)
CREATE TRIGGER speed_limits_a_posted BEFORE INSERT OR UPDATE ON speed_limits
    FOR EACH ROW EXECUTE FUNCTION speed_limits_posted();

ALTER TABLE speed_limits
    ALTER COLUMN posted_value SET NOT NULL,
    ADD CONSTRAINT speed_limits_posted_matches CHECK (
        (posted_unit = 'kmh' AND posted_value = limit_kmh)
        OR (posted_unit = 'mph' AND posted_value BETWEEN 5 AND 80
            AND limit_kmh = floor(posted_value * 1.609344)));

-- Citizen tips: how the tip came in, a bounded text (the form says how long), and for a tip
-- with only a position the municipality it lies in (chosen, or that of the nearest site), so
-- that the municipality's and police area's readers see it.
ALTER TABLE citizen_tips
    ADD COLUMN channel text NOT NULL DEFAULT 'web'
        CHECK (channel IN ('web', 'phone', 'email', 'letter', 'meeting', 'other')),
    ADD COLUMN municipality_id integer REFERENCES municipalities (id),
    ADD CONSTRAINT citizen_tips_text_length CHECK (char_length(text) <= 2000);

-- Tips sent per client address and fixed window, so that any number of server processes share
-- one rate limit. The address is stored only as a hash, and rows older than a day are pruned.
CREATE TABLE tip_rate (
    client_hash   bytea NOT NULL,
    window_start  timestamptz NOT NULL,
    count         integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (client_hash, window_start)
);
CREATE INDEX tip_rate_window ON tip_rate (window_start);
