-- Fartkoll schema, part 13: a site's figures per local day (planner.daytotals).
--
-- A year of one site's statistics summed ~35,000 hourly rollups (9 s); a daily series read them
-- all into the client. figure_days holds the same sums per site × direction × display × legal
-- limit in force × local day, so a year is ~1,500 rows and a day of a series is one row.
--
-- A row is one series under one limit regime (the speed_limits row in force at each hour: a
-- timed limit where its weekdays and hours apply, else the standing one, as speed_limit_at in
-- migration 0011; limit_from 0001-01-01 UTC: no limit recorded) in one local day of the site's time
-- zone: vehicles, Σv, Σv², the hourly rollups it sums, its first and last hour and the summed
-- 1 km/h histogram (`hist`: little-endian int32 counts of the bins hist_lo, hist_lo + 1, ...).
-- Direction 3 is the site's coverage: n the minutes its signs measured (the fullest sign each
-- hour, all display modes, as coverage_hourly × deployments), hours the hours with coverage
-- records, display 0, no histogram.
--
-- The rows share the ranking's running totals' state (cell_weeks_state.through_hour, migration
-- 0005): they hold every rollup and coverage record of each complete local day before the local
-- day of through_hour, and the `cells` job rebuilds them in the same transaction as cell_weeks.
-- Every change that moves through_hour back (late data, an import, a repair, a new limit, time
-- zone, deployment or coverage record) therefore also marks these rows stale from that day; a
-- reader takes the days before it and sums the hourly rollups of the rest.

CREATE TABLE figure_days (
    site_id     integer     NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    local_day   date        NOT NULL,
    direction   smallint    NOT NULL CHECK (direction IN (0, 1, 2, 3)),
    display     smallint    NOT NULL CHECK (display IN (0, 1)),
    limit_timed boolean     NOT NULL,
    limit_from  timestamptz NOT NULL,
    n           bigint      NOT NULL CHECK (n >= 0),
    sum_kmh     double precision NOT NULL,
    sumsq_kmh   double precision NOT NULL,
    hours       integer     NOT NULL CHECK (hours > 0),
    first_hour  timestamptz NOT NULL,
    last_hour   timestamptz NOT NULL,
    hist_lo     smallint    NOT NULL,
    hist        bytea       NOT NULL CHECK (octet_length(hist) % 4 = 0),
    PRIMARY KEY (site_id, local_day, direction, display, limit_timed, limit_from)
);
