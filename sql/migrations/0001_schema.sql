-- Fartkoll schema, part 1: places, signs, vehicle passes, rollups, people and follow-up.
-- Codes used in smallint columns:
--   direction: 0 unknown, 1 approaching the sensor, 2 receding from it
--   display:   0 stealth (sign measures but shows nothing), 1 display (sign shows speeds)

CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Places -------------------------------------------------------------------------------------

CREATE TABLE police_areas (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> '')
);

CREATE TABLE municipalities (
    id              serial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> ''),
    code            text UNIQUE,                       -- e.g. the 4-digit Swedish kommunkod
    police_area_id  integer NOT NULL REFERENCES police_areas (id)
);

CREATE TABLE streets (
    id               serial PRIMARY KEY,
    municipality_id  integer NOT NULL REFERENCES municipalities (id),
    name             text NOT NULL CHECK (name <> ''),
    UNIQUE (municipality_id, name)
);

CREATE TABLE sites (
    id          serial PRIMARY KEY,
    street_id   integer NOT NULL REFERENCES streets (id),
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    time_zone   text NOT NULL DEFAULT 'Europe/Stockholm'
                CHECK (timestamptz '2000-01-01 00:00Z' AT TIME ZONE time_zone IS NOT NULL),
    tags        text[] NOT NULL DEFAULT '{}',          -- e.g. {school}
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The legal limit belongs to the site, not to the sign, and changes over time.
CREATE TABLE speed_limits (
    site_id     integer NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,                           -- NULL: still in force
    limit_kmh   smallint NOT NULL CHECK (limit_kmh BETWEEN 5 AND 130),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    PRIMARY KEY (site_id, valid_from),
    EXCLUDE USING gist (site_id WITH =, tstzrange(valid_from, valid_to) WITH &&)
);

-- Signs and where they stood ---------------------------------------------------------------

CREATE TABLE signs (
    id              serial PRIMARY KEY,
    serial_number   text NOT NULL UNIQUE CHECK (serial_number <> ''),
    vendor          text NOT NULL DEFAULT '',
    model           text NOT NULL DEFAULT '',
    protocol        text NOT NULL DEFAULT '',          -- collector protocol name
    unit            text NOT NULL DEFAULT 'kmh' CHECK (unit IN ('kmh', 'mph', 'mps', 'fps', 'cms')),
    -- how the sign quantises speeds: histogram bin edges depend on it
    rounding        text NOT NULL DEFAULT 'truncate' CHECK (rounding IN ('truncate', 'round', 'exact')),
    configured_limit_kmh smallint CHECK (configured_limit_kmh BETWEEN 5 AND 130),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deployments (
    id               serial PRIMARY KEY,
    sign_id          integer NOT NULL REFERENCES signs (id),
    site_id          integer NOT NULL REFERENCES sites (id),
    valid_from       timestamptz NOT NULL,
    valid_to         timestamptz,                      -- NULL: still standing there
    display          smallint NOT NULL CHECK (display IN (0, 1)),
    mount_angle_deg  real NOT NULL DEFAULT 0 CHECK (mount_angle_deg >= 0 AND mount_angle_deg < 90),
    -- the physical heading of traffic that approaches the sensor, e.g. 'N', 'SW', 'northbound'
    approach_heading text NOT NULL DEFAULT '',
    note             text NOT NULL DEFAULT '',
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    -- a sign stands at one place at a time
    EXCLUDE USING gist (sign_id WITH =, tstzrange(valid_from, valid_to) WITH &&)
);
CREATE INDEX deployments_site ON deployments (site_id, valid_from);

-- Vehicle passes -------------------------------------------------------------------------------

-- One row per vehicle pass (not per radar reading). `idem_key` identifies a pass across
-- re-sends: the same pass sent twice has the same key; two vehicles never share one.
-- No foreign keys here: on a hypertable each is a per-row trigger that costs ~40 % of insert
-- throughput (measured). The write path checks site and sign before inserting, and the
-- triggers below stop a site or sign with readings from being deleted.
CREATE TABLE readings (
    time        timestamptz NOT NULL,
    site_id     integer NOT NULL,
    sign_id     integer,
    direction   smallint NOT NULL CHECK (direction IN (0, 1, 2)),
    speed_kmh   real NOT NULL CHECK (speed_kmh > 0 AND speed_kmh < 300),
    display     smallint NOT NULL CHECK (display IN (0, 1)),
    length_m    real CHECK (length_m > 0 AND length_m < 40),
    idem_key    uuid NOT NULL
);
SELECT create_hypertable('readings', 'time', chunk_time_interval => interval '7 days',
                         create_default_indexes => false);
-- time first: batches arrive roughly in time order, so index inserts stay local
CREATE UNIQUE INDEX readings_time_key ON readings (time, idem_key);

CREATE FUNCTION refuse_delete_with_readings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sites' AND EXISTS (SELECT 1 FROM readings WHERE site_id = OLD.id) THEN
        RAISE EXCEPTION 'site % has readings and cannot be deleted', OLD.id
            USING ERRCODE = 'foreign_key_violation', HINT = 'Keep the site; end its deployments instead.';
    END IF;
    IF TG_TABLE_NAME = 'signs' AND EXISTS (SELECT 1 FROM readings WHERE sign_id = OLD.id) THEN
        RAISE EXCEPTION 'sign % has readings and cannot be deleted', OLD.id
            USING ERRCODE = 'foreign_key_violation', HINT = 'Keep the sign; end its deployments instead.';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER sites_keep_readings BEFORE DELETE ON sites
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_with_readings();
CREATE TRIGGER signs_keep_readings BEFORE DELETE ON signs
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_with_readings();

-- Histogram helpers. A histogram is an int[] whose subscripts are km/h bins: element b counts
-- vehicles with b <= speed < b + 1 (as the sign reported it; see signs.rounding).
-- Client libraries drop an array's lower bound: queries return array_lower(hist, 1) beside it.
CREATE FUNCTION hist_add(a integer[], b integer[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    lo integer;
    hi integer;
    r  integer[];
BEGIN
    IF a IS NULL THEN RETURN b; END IF;
    IF b IS NULL THEN RETURN a; END IF;
    lo := least(array_lower(a, 1), array_lower(b, 1));
    hi := greatest(array_upper(a, 1), array_upper(b, 1));
    r := array_fill(0, ARRAY[hi - lo + 1], ARRAY[lo]);
    FOR i IN lo .. hi LOOP
        r[i] := coalesce(a[i], 0) + coalesce(b[i], 0);
    END LOOP;
    RETURN r;
END $$;

CREATE AGGREGATE hist_sum(integer[]) (SFUNC = hist_add, STYPE = integer[], PARALLEL = SAFE);

-- Dense counts from parallel (bin, count) arrays: element 1 is the lowest bin, gaps are 0.
CREATE FUNCTION hist_dense(bins integer[], counts integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(coalesce(x.c, 0) ORDER BY k)
    FROM (SELECT min(b) AS lo, max(b) AS hi FROM unnest(bins) b) m,
         generate_series(m.lo, m.hi) k
         LEFT JOIN unnest(bins, counts) x(b, c) ON x.b = k
$$;

-- The same values with subscripts from lo (set through the array's text form, which carries bounds).
CREATE FUNCTION hist_at(dense integer[], lo integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('[' || lo || ':' || (lo + cardinality(dense) - 1) || ']=' || dense::text)::integer[]
$$;

-- Hourly rollups, maintained by the write path in the same transaction as the readings.
-- `hour` is the UTC hour start; local hour-of-week is derived with the site's time zone.
CREATE TABLE rollup_hourly (
    site_id    integer NOT NULL REFERENCES sites (id),
    direction  smallint NOT NULL CHECK (direction IN (0, 1, 2)),
    display    smallint NOT NULL CHECK (display IN (0, 1)),
    hour       timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    n          integer NOT NULL CHECK (n > 0),
    sum_kmh    double precision NOT NULL,
    sumsq_kmh  double precision NOT NULL,
    hist       integer[] NOT NULL,
    PRIMARY KEY (site_id, direction, display, hour)
);
CREATE INDEX rollup_hourly_hour ON rollup_hourly (hour);

-- Sources that send only pre-binned counts (vendor clouds, open-data summaries).
-- Each row counts vehicles with speed_lo <= v < speed_hi (speed_hi NULL: open top bin)
-- between period_start and period_end.
CREATE TABLE binned_counts (
    id            bigserial PRIMARY KEY,
    site_id       integer NOT NULL REFERENCES sites (id),
    sign_id       integer REFERENCES signs (id),
    direction     smallint NOT NULL CHECK (direction IN (0, 1, 2)),
    display       smallint CHECK (display IN (0, 1)),          -- NULL: unknown
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    speed_lo      real NOT NULL CHECK (speed_lo >= 0 AND speed_lo < 300),
    speed_hi      real CHECK (speed_hi > speed_lo AND speed_hi <= 300),
    count         integer NOT NULL CHECK (count >= 0),
    source        text NOT NULL CHECK (source <> ''),
    source_key    text NOT NULL,                               -- identifies the record in its source
    CHECK (period_end > period_start),
    UNIQUE (source, source_key)
);
CREATE INDEX binned_counts_site ON binned_counts (site_id, period_start);

-- Sign health --------------------------------------------------------------------------------

CREATE TABLE sign_heartbeats (
    sign_id     integer NOT NULL REFERENCES signs (id),
    time        timestamptz NOT NULL,
    battery_v   real,
    temperature_c real,
    clock_offset_s double precision,          -- device clock minus receive time
    configured_limit_kmh smallint,
    detail      jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (sign_id, time)
);

-- Minutes of each UTC hour during which the sign measured (had data or a heartbeat).
CREATE TABLE coverage_hourly (
    sign_id   integer NOT NULL REFERENCES signs (id),
    hour      timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    minutes   smallint NOT NULL CHECK (minutes BETWEEN 0 AND 60),
    PRIMARY KEY (sign_id, hour)
);
CREATE INDEX coverage_hourly_hour ON coverage_hourly (hour);

-- People, police work, citizens ------------------------------------------------------------------

CREATE TABLE users (
    id             serial PRIMARY KEY,
    email          text NOT NULL UNIQUE CHECK (email LIKE '%_@_%'),
    name           text NOT NULL DEFAULT '',
    role           text NOT NULL CHECK (role IN ('admin', 'technician', 'officer', 'planner', 'viewer')),
    -- officers and planners belong to a police area or municipality respectively (optional)
    police_area_id integer REFERENCES police_areas (id),
    municipality_id integer REFERENCES municipalities (id),
    password_hash  text,
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id           serial PRIMARY KEY,
    user_id      integer REFERENCES users (id),
    sign_id      integer REFERENCES signs (id),       -- a token a sign uses to upload
    token_hash   bytea NOT NULL UNIQUE,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK (user_id IS NOT NULL OR sign_id IS NOT NULL)
);

CREATE TABLE controls (
    id                serial PRIMARY KEY,
    site_id           integer NOT NULL REFERENCES sites (id),
    direction         smallint CHECK (direction IN (0, 1, 2)),   -- NULL: both
    start_time        timestamptz NOT NULL,
    end_time          timestamptz NOT NULL,
    method            text NOT NULL CHECK (method IN ('laser', 'radar', 'camera', 'presence', 'other')),
    vehicles_checked  integer CHECK (vehicles_checked >= 0),
    reports_written   integer CHECK (reports_written >= 0),
    planned           boolean NOT NULL DEFAULT false,
    note              text NOT NULL DEFAULT '',
    created_by        integer REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (end_time > start_time),
    CHECK (reports_written IS NULL OR vehicles_checked IS NULL OR reports_written <= vehicles_checked)
);
CREATE INDEX controls_site ON controls (site_id, start_time);

CREATE TABLE citizen_tips (
    id            serial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    site_id       integer REFERENCES sites (id),
    street_id     integer REFERENCES streets (id),
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    text          text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'linked', 'closed')),
    CHECK (site_id IS NOT NULL OR street_id IS NOT NULL OR lat IS NOT NULL)
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,                      -- user e-mail, sign serial or 'system'
    action     text NOT NULL CHECK (action <> ''),
    entity     text NOT NULL,
    entity_id  text,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
