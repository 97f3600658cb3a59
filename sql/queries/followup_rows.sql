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
