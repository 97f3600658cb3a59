-- Binned counts that were also added to rollup_hourly (Traffic Logix: exact whole-km/h speeds in
-- ~5-minute bins). The rollup consistency check recomputes rollups from readings plus these rows,
-- so it neither flags nor, on repair, drops the vehicles they carry.
ALTER TABLE binned_counts ADD COLUMN in_rollups boolean NOT NULL DEFAULT false;
ALTER TABLE binned_counts ADD CONSTRAINT binned_in_rollups_are_unit_bins
    CHECK (NOT in_rollups OR (display IS NOT NULL AND speed_hi = speed_lo + 1));
-- bins imported before this column existed: the Traffic Logix importer always rolled them up
UPDATE binned_counts SET in_rollups = true WHERE source = 'trafficlogix';
CREATE INDEX binned_counts_in_rollups ON binned_counts (period_start) WHERE in_rollups;
