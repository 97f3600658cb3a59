-- Fartkoll schema, part 17: running totals beside the daily sums (planner.daytotals).
--
-- A year of one site's statistics summed ~800 figure_days rows per request. Each row now also
-- carries the running totals of its series (site × direction × display × limit regime, as the
-- row's key without the day): vehicles, Σv, Σv², hours and the 1 km/h histogram summed over every
-- day of the series up to and including the row's day (run_hist: little-endian int32 counts of the
-- bins run_hist_lo, run_hist_lo + 1, ...; direction 3: minutes and hours of coverage, no
-- histogram). The complete days [d0, d1) of a series are then the difference of two rows: the
-- series' last row before d1 and its last row before d0.
--
-- Rows written before this migration have NULL running totals: readers sum the site's hourly
-- rollups instead (exact, slower), and the `cells` job's next refresh rebuilds every day of a
-- site whose running totals it would continue from a NULL.

ALTER TABLE figure_days
    ADD COLUMN run_n         bigint CHECK (run_n >= 0),
    ADD COLUMN run_sum_kmh   double precision,
    ADD COLUMN run_sumsq_kmh double precision,
    ADD COLUMN run_hours     bigint,
    ADD COLUMN run_hist_lo   smallint,
    ADD COLUMN run_hist      bytea CHECK (octet_length(run_hist) % 4 = 0);

-- a series' last row before a day: one index probe
CREATE INDEX figure_days_series ON figure_days (site_id, direction, display, limit_timed, limit_from, local_day);
