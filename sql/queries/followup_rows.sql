-- name: followup_hourly_rows
-- The hourly rollups of some sites over [start, end) as planner_hourly_rows gives them, in one row
-- of columns (in no particular order, the same in every column) for the follow-ups of controls to
-- read in one pass: each column an int4 array as array_send bytes (the hour as hours since
-- 1970), and each histogram as array_send bytes one after the other (an empty one as a header of
-- zeros), with its lower bound and length.
SELECT array_send(array_agg(site_id)) AS site_id, array_send(array_agg((extract(epoch FROM hour) / 3600)::int)) AS epoch_h,
       array_send(array_agg(direction::int)) AS direction, array_send(array_agg(display::int)) AS display,
       array_send(array_agg(coalesce(array_lower(hist, 1), 0))) AS hist_lo,
       array_send(array_agg(coalesce(array_length(hist, 1), 0))) AS length,
       string_agg(CASE WHEN cardinality(hist) > 0 THEN array_send(hist) ELSE decode(repeat('00', 20), 'hex') END,
                  ''::bytea) AS raw
FROM rollup_hourly
WHERE site_id = ANY(%(site_ids)s::int[]) AND hour >= %(start)s AND hour < %(end)s

-- name: followup_site_first_hours
-- The earliest UTC hour with vehicles at each of some sites (site_first_hour for several).
SELECT site_id, min(hour) AS first_hour FROM rollup_hourly WHERE site_id = ANY(%(site_ids)s::int[]) GROUP BY site_id

-- name: followup_window_summary
-- One row summing the hourly rollups of some sites over [start, end) for a follow-up's
-- fingerprint: rows, vehicles, vehicles weighted by hour, site, direction and display, and the
-- speed sums (to the thousandth km/h, whole km²/h²): any late pass, moved hour or rebuilt rollup
-- changes it. Every term is a whole number summed as float8, exact below 2^53 whatever the order
-- of summing (a window's totals stay far below it) and cheaper than numeric sums of bigints. Reads
-- no histogram out: ~1.7 µs a row against ~5 µs for followup_hourly_rows.
SELECT count(*) AS rows, coalesce(sum(n), 0) AS n,
       coalesce(sum(n * extract(epoch FROM hour)::float8 / 3600), 0) AS n_hour,
       coalesce(sum(n * site_id::float8), 0) AS n_site, coalesce(sum(n * direction), 0) AS n_direction,
       coalesce(sum(n * display), 0) AS n_display, coalesce(sum(round(sum_kmh * 1000)), 0) AS kmh_milli,
       coalesce(sum(round(sumsq_kmh)), 0) AS kmh2
FROM rollup_hourly
WHERE site_id = ANY(%(site_ids)s::int[]) AND hour >= %(start)s AND hour < %(end)s

-- name: followup_results_of
-- The kept follow-ups of some controls with their fingerprints.
SELECT control_id, fingerprint, result FROM followup_results WHERE control_id = ANY(%(control_ids)s::int[])

-- name: followup_results_keep
-- Keep (or replace) one control's follow-up under its fingerprint.
INSERT INTO followup_results (control_id, fingerprint, result, computed_at)
VALUES (%(control_id)s, %(fingerprint)s, %(result)s, now())
ON CONFLICT (control_id) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, result = EXCLUDED.result, computed_at = EXCLUDED.computed_at
