-- name: planner_latest_hour
-- The latest UTC hour with vehicles up to now (NULL when there is no data): in rollup_hourly, or
-- the last hour of a pre-binned record (binned_counts not in the rollups; Toronto's end a day
-- after removal) up to the hour of now. Default periods end there, so a row timed in the future
-- (a sign's wrong clock, stored from psql) cannot move them past now.
SELECT greatest(
    (SELECT max(hour) FROM rollup_hourly WHERE hour <= now()),
    (SELECT date_bin('1 hour', least(b.last, now()), timestamptz '2000-01-01 00:00+00')
     FROM (SELECT max(period_end) - interval '1 microsecond' AS last FROM binned_counts
           WHERE NOT in_rollups AND period_start <= now()) b
     WHERE b.last IS NOT NULL))

-- name: planner_sites
-- Every site (site_id NULL) or one, with its street, municipality, police area, position, time
-- zone and tags.
SELECT s.id, s.name, s.street_id, st.name AS street, m.name AS municipality, pa.name AS police_area,
       s.lat, s.lon, s.time_zone, s.tags
FROM sites s
JOIN streets st ON st.id = s.street_id
JOIN municipalities m ON m.id = st.municipality_id
JOIN police_areas pa ON pa.id = m.police_area_id
WHERE %(site_id)s::int IS NULL OR s.id = %(site_id)s
ORDER BY s.id

-- name: planner_limits
-- Legal limit periods overlapping [start, end), per site, in time order, with the limit as posted
-- and whether it is a timed one (some weekdays and hours only).
SELECT site_id, valid_from, valid_to, limit_kmh, posted_value, posted_unit, timed
FROM speed_limits
WHERE valid_from < %(end)s AND (valid_to IS NULL OR valid_to > %(start)s)
ORDER BY site_id, valid_from

-- name: planner_site_signs
-- Per site, over signs deployed there during [start, end): the most common rounding, the
-- limits the signs are configured with and the most common unit.
SELECT d.site_id,
       mode() WITHIN GROUP (ORDER BY sg.rounding) AS rounding,
       array_remove(array_agg(DISTINCT sg.configured_limit_kmh), NULL) AS configured_limits,
       mode() WITHIN GROUP (ORDER BY sg.unit) AS unit
FROM deployments d JOIN signs sg ON sg.id = d.sign_id
WHERE d.valid_from < %(end)s AND (d.valid_to IS NULL OR d.valid_to > %(start)s)
GROUP BY d.site_id

-- name: planner_cells
-- Rollups of [start, end) aggregated to site × direction × display × limit × local hour-of-week,
-- with vehicles and vehicles over the threshold in [prev_start, start) beside them (the trend), in
-- one pass. Exceedance comes from each row's tails (migration 0003: a few subscripts a row, no
-- arrays leave the server); the cuts come in arrays by period (0 previous, 1 current), site id
-- and limit. With L the row's limit: over limit = tail[L + cut_add]; excess = tail2[L + cut_add]
-- + excess_k · tail[L + cut_add]; over threshold = tail[thr_fl + 1] + thr_w · (tail[thr_fl] −
-- tail[thr_fl + 1]) with thr_fl, thr_w, excess_k at [period][site][L] (excess_k carries the exact
-- posted limit: 30 mph is 48.28 km/h over the row's floor 48). cut_add is -1000 for a site left out.
-- Distinct local weeks are counted as bits set from week0[site] (no_weeks: a zero bit string
-- long enough for the period). Only rows from from_hour[site] on are summed (the earlier ones are
-- in the running totals of cell_weeks, see planner.cellcache); scan_from is the least of them.
-- Only cells with rows in [start, end) are returned.
WITH c AS (
    SELECT %(cut_add)s::int[] AS cut_add, %(excess_k)s::float8[] AS excess_k, %(thr_fl)s::int[] AS thr_fl,
           %(thr_w)s::float8[] AS thr_w, %(week0)s::int[] AS week0, %(no_weeks)s::bit varying AS no_weeks,
           %(from_hour)s::timestamptz[] AS from_hour
), x AS (
    SELECT r.site_id, r.direction, r.display, r.limit_kmh, r.local_how, r.n, r.local_week,
           r.tail, r.tail2, r.limit_kmh + c.cut_add[k.k][r.site_id] AS cut, c.thr_fl[k.k][r.site_id][r.limit_kmh] AS thr,
           c.thr_w[k.k][r.site_id][r.limit_kmh] AS thr_w, c.excess_k[k.k][r.site_id][r.limit_kmh] AS excess_k, k.k, c.week0, c.no_weeks
    FROM rollup_hourly r
    CROSS JOIN c
    CROSS JOIN LATERAL (SELECT (r.hour >= %(start)s)::int AS k) k
    WHERE r.hour >= %(scan_from)s AND r.hour < %(end)s AND r.limit_kmh IS NOT NULL
      AND c.cut_add[k.k][r.site_id] > -1000 AND r.hour >= c.from_hour[r.site_id]
)
SELECT site_id, direction, display, limit_kmh, local_how AS hour_of_week,
       coalesce(sum(n) FILTER (WHERE k = 1), 0)::int8 AS n,
       coalesce(sum(tail_at(tail, cut)) FILTER (WHERE k = 1), 0)::float8 AS over_limit,
       coalesce(sum(tail_at(tail, thr + 1) + thr_w * (tail_at(tail, thr) - tail_at(tail, thr + 1)))
                FILTER (WHERE k = 1), 0) AS over_threshold,
       coalesce(sum(tail2_at(tail2, tail, cut)::float8 + excess_k * tail_at(tail, cut)) FILTER (WHERE k = 1), 0)
           AS excess_sum_kmh,
       count(*) FILTER (WHERE k = 1) AS hours_with_data,
       coalesce(bit_count(bit_or(set_bit(no_weeks, local_week - week0[site_id], 1)) FILTER (WHERE k = 1)), 0) AS weeks,
       coalesce(sum(n) FILTER (WHERE k = 0), 0)::int8 AS prev_n,
       coalesce(sum(tail_at(tail, thr + 1) + thr_w * (tail_at(tail, thr) - tail_at(tail, thr + 1)))
                FILTER (WHERE k = 0), 0) AS prev_over_threshold
FROM x
GROUP BY 1, 2, 3, 4, 5
HAVING count(*) FILTER (WHERE k = 1) > 0

-- name: settings_get
-- The current values of the named settings, in the order given (planner.dbsettings).
SELECT current_setting(s.name) FROM unnest(%(names)s::text[]) WITH ORDINALITY AS s(name, i) ORDER BY s.i

-- name: settings_set
-- Set the named settings for the rest of the transaction (planner.dbsettings).
SELECT set_config(s.name, s.value, true) FROM unnest(%(names)s::text[], %(values)s::text[]) AS s(name, value)

-- name: planner_coverage_cells
-- Hours the signs at each site measured (coverage minutes / 60; the fullest sign when two
-- overlap) per site × display × limit × local hour-of-week, for the same limit spans as planner_cells.
WITH p AS (
    SELECT *
    FROM unnest(%(site_id)s::int[], %(lo)s::timestamptz[], %(hi)s::timestamptz[], %(limit_kmh)s::int[],
                %(tz)s::text[])
         AS p(site_id, lo, hi, limit_kmh, tz)
), cov AS (
    SELECT d.site_id, d.display, c.hour, max(c.minutes) AS minutes
    FROM coverage_hourly c
    JOIN deployments d ON d.sign_id = c.sign_id AND c.hour >= d.valid_from
                      AND (d.valid_to IS NULL OR c.hour < d.valid_to)
    WHERE c.hour >= %(start)s AND c.hour < %(end)s AND d.site_id = ANY(%(site_id)s::int[])
    GROUP BY 1, 2, 3
)
SELECT cov.site_id, cov.display, p.limit_kmh,
       (extract(isodow FROM cov.hour AT TIME ZONE p.tz)::int - 1) * 24
           + extract(hour FROM cov.hour AT TIME ZONE p.tz)::int AS hour_of_week,
       sum(cov.minutes) / 60.0 AS hours
FROM cov JOIN p ON p.site_id = cov.site_id AND cov.hour >= p.lo AND cov.hour < p.hi
GROUP BY 1, 2, 3, 4

-- name: planner_tips
-- Citizen tips not closed, received in [since, until), per site: tips about the site, about its
-- street (no site given), or with only a position within radius_m of it.
SELECT s.id AS site_id, count(t.id) AS tips
FROM sites s
JOIN citizen_tips t
  ON t.status <> 'closed' AND t.received_at >= %(since)s AND t.received_at < %(until)s
 AND (t.site_id = s.id
      OR (t.site_id IS NULL AND t.street_id = s.street_id)
      OR (t.site_id IS NULL AND t.street_id IS NULL AND s.lat IS NOT NULL AND t.lat IS NOT NULL
          AND 2 * 6371008.8 * asin(sqrt(power(sin(radians(t.lat - s.lat) / 2), 2)
              + cos(radians(s.lat)) * cos(radians(t.lat)) * power(sin(radians(t.lon - s.lon) / 2), 2)))
              <= %(radius_m)s))
GROUP BY s.id

-- name: planner_site_rules
-- Standing pins and excludes with their sites' names.
SELECT r.site_id, s.name, r.rule, r.note, r.created_by, r.created_at
FROM planner_site_rules r JOIN sites s ON s.id = r.site_id
ORDER BY r.rule, s.name

-- name: planner_site_rule_set
-- Pin or exclude a site (replacing an earlier rule for it).
INSERT INTO planner_site_rules (site_id, rule, note, created_by)
VALUES (%(site_id)s, %(rule)s, %(note)s, %(actor)s)
ON CONFLICT (site_id) DO UPDATE SET rule = excluded.rule, note = excluded.note,
    created_by = excluded.created_by, created_at = now()

-- name: planner_site_rule_clear
-- Remove a site's pin or exclude; returns the rule removed.
DELETE FROM planner_site_rules WHERE site_id = %(site_id)s RETURNING rule

-- name: planner_audit
-- One audit_log row.
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
VALUES (%(actor)s, %(action)s, %(entity)s, %(entity_id)s, %(detail)s)

-- name: planner_plan_insert
-- Store a plan's header; returns its id and creation time.
INSERT INTO plans (created_by, data_from, data_to, first_day, last_day, seed, time_zone, slots,
                   pinned, excluded, unmet, settings)
VALUES (%(created_by)s, %(data_from)s, %(data_to)s, %(first_day)s, %(last_day)s, %(seed)s, %(time_zone)s,
        %(slots)s, %(pinned)s, %(excluded)s, %(unmet)s, %(settings)s)
RETURNING id, created_at

-- name: planner_planned_control_insert
-- One planned control of a plan.
INSERT INTO planned_controls (plan_id, site_id, direction, start_time, end_time, unit, slot,
                              hour_of_week, score, reason)
VALUES (%(plan_id)s, %(site_id)s, %(direction)s, %(start_time)s, %(end_time)s, %(unit)s, %(slot)s,
        %(hour_of_week)s, %(score)s, %(reason)s)

-- name: planner_plan
-- A plan's header by id.
SELECT id, created_at, created_by, data_from, data_to, first_day, last_day, seed, time_zone, unmet
FROM plans WHERE id = %(plan_id)s

-- name: planner_plan_controls
-- The planned controls of a plan, in time order.
SELECT site_id, direction, start_time, end_time, unit, slot, hour_of_week, score, reason, control_id
FROM planned_controls WHERE plan_id = %(plan_id)s ORDER BY start_time, unit

-- name: planner_control_insert
-- Log a control; returns its id.
INSERT INTO controls (site_id, direction, start_time, end_time, method, vehicles_checked,
                      reports_written, planned, note, plan_id)
VALUES (%(site_id)s, %(direction)s, %(start_time)s, %(end_time)s, %(method)s, %(vehicles_checked)s,
        %(reports_written)s, %(plan_id)s::int IS NOT NULL, %(note)s, %(plan_id)s::int)
RETURNING id

-- name: planner_planned_control_link
-- Mark the plan's control at this site nearest in time (within 12 h) as carried out by a logged control.
UPDATE planned_controls SET control_id = %(control_id)s
WHERE id = (SELECT id FROM planned_controls
            WHERE plan_id = %(plan_id)s AND site_id = %(site_id)s AND control_id IS NULL
              AND abs(extract(epoch FROM start_time - %(start_time)s)) <= 12 * 3600
            ORDER BY abs(extract(epoch FROM start_time - %(start_time)s)) LIMIT 1)
RETURNING id

-- name: planner_controls
-- Logged controls (optionally of one site), newest first, with the plan's creation time.
SELECT c.id, c.site_id, s.name AS site_name, c.direction, c.start_time, c.end_time, c.method,
       c.vehicles_checked, c.reports_written, c.planned, c.note, c.plan_id, p.created_at AS plan_created_at
FROM controls c
JOIN sites s ON s.id = c.site_id
LEFT JOIN plans p ON p.id = c.plan_id
WHERE %(site_id)s::int IS NULL OR c.site_id = %(site_id)s
ORDER BY c.start_time DESC, c.id DESC

-- name: planner_control
-- One logged control by id, with the plan's creation time (the columns of planner_controls).
SELECT c.id, c.site_id, s.name AS site_name, c.direction, c.start_time, c.end_time, c.method,
       c.vehicles_checked, c.reports_written, c.planned, c.note, c.plan_id, p.created_at AS plan_created_at
FROM controls c
JOIN sites s ON s.id = c.site_id
LEFT JOIN plans p ON p.id = c.plan_id
WHERE c.id = %(control_id)s

-- name: planner_controlled_sites
-- Sites with a control that overlaps [start, end).
SELECT DISTINCT site_id FROM controls WHERE start_time < %(end)s AND end_time > %(start)s

-- name: planner_hourly_rows
-- Hourly rollup rows of some sites over [start, end) with each histogram's lower bound.
SELECT site_id, hour, direction, display, n, hist, array_lower(hist, 1) AS hist_lo
FROM rollup_hourly
WHERE site_id = ANY(%(site_ids)s::int[]) AND hour >= %(start)s AND hour < %(end)s
ORDER BY site_id, hour, direction, display

-- name: planner_site_histograms
-- One site's summed 1 km/h histograms per direction × display × legal limit over [start, end),
-- each hour under the limit in force at its local hour (migration 0011: a timed limit where its
-- weekdays and hours apply, else the standing one; NULLs: no limit recorded), with Σv, Σv² and
-- the hours with data.
SELECT r.direction, r.display, l.valid_from, l.valid_to, l.limit_kmh, l.posted_value, l.posted_unit,
       l.days, l.hour_from, l.hour_to,
       sum(r.n)::bigint AS n, sum(r.sum_kmh) AS sum_kmh, sum(r.sumsq_kmh) AS sumsq_kmh,
       count(*) AS hours, min(r.hour) AS first_hour, max(r.hour) AS last_hour,
       hist_sum(r.hist) AS hist, array_lower(hist_sum(r.hist), 1) AS hist_lo
FROM rollup_hourly r
JOIN sites s ON s.id = r.site_id
LEFT JOIN LATERAL speed_limit_at(r.site_id, r.hour, s.time_zone) l ON true
WHERE r.site_id = %(site_id)s AND r.hour >= %(start)s AND r.hour < %(end)s
GROUP BY r.direction, r.display, l.valid_from, l.valid_to, l.limit_kmh, l.posted_value, l.posted_unit,
         l.days, l.hour_from, l.hour_to
ORDER BY l.valid_from NULLS FIRST, l.days NULLS FIRST, r.direction, r.display

-- name: planner_site_binned
-- One site's pre-binned counts (binned_counts not also in rollup_hourly) whose periods overlap
-- [start, end), summed per direction × display × bin × legal limit in force at each record's
-- start; mixed_limits counts the records during which another limit is also in force.
SELECT b.direction, b.display, b.speed_lo::float8 AS speed_lo, b.speed_hi::float8 AS speed_hi,
       l.valid_from, l.valid_to, l.limit_kmh, l.posted_value, l.posted_unit, l.days, l.hour_from, l.hour_to,
       sum(b.count)::bigint AS count, min(b.period_start) AS first_start, max(b.period_end) AS last_end,
       count(*) FILTER (WHERE b.period_start < %(start)s OR b.period_end > %(end)s) AS outside,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM speed_limits o
           WHERE o.site_id = b.site_id AND o.valid_from < b.period_end
             AND (o.valid_to IS NULL OR o.valid_to > b.period_start)
             AND (l.valid_from IS NULL OR o.valid_from <> l.valid_from OR o.timed <> l.timed))) AS mixed_limits
FROM binned_counts b
JOIN sites s ON s.id = b.site_id
LEFT JOIN LATERAL speed_limit_at(b.site_id, b.period_start, s.time_zone) l ON true
WHERE b.site_id = %(site_id)s AND NOT b.in_rollups AND b.period_start < %(end)s AND b.period_end > %(start)s
GROUP BY b.direction, b.display, b.speed_lo, b.speed_hi, l.valid_from, l.valid_to, l.limit_kmh, l.posted_value,
         l.posted_unit, l.days, l.hour_from, l.hour_to
ORDER BY l.valid_from NULLS FIRST, b.direction, b.display NULLS FIRST, b.speed_lo

-- name: planner_site_latest
-- The end of a site's own latest data up to now: the hour after its latest rollup, or the end of
-- its latest binned record (NULL: no data at the site).
SELECT greatest((SELECT max(hour) + interval '1 hour' FROM rollup_hourly
                 WHERE site_id = %(site_id)s AND hour <= now()),
                (SELECT max(period_end) FROM binned_counts
                 WHERE site_id = %(site_id)s AND NOT in_rollups AND period_start <= now())) AS data_end

-- name: planner_site_sign_units
-- How the signs deployed at a site during [start, end) report: the most common rounding and unit.
SELECT coalesce(mode() WITHIN GROUP (ORDER BY sg.rounding), 'truncate') AS rounding,
       coalesce(mode() WITHIN GROUP (ORDER BY sg.unit), 'kmh') AS unit,
       count(DISTINCT (sg.rounding, sg.unit)) AS kinds
FROM deployments d JOIN signs sg ON sg.id = d.sign_id
WHERE d.site_id = %(site_id)s AND d.valid_from < %(end)s AND (d.valid_to IS NULL OR d.valid_to > %(start)s)

-- name: planner_site_coverage
-- Hours (coverage minutes / 60, fullest sign per hour) the signs at a site measured in [start, end).
SELECT coalesce(sum(minutes) / 60.0, 0) AS hours, count(*) AS rows
FROM site_coverage_hours(%(site_id)s::int, %(start)s::timestamptz, %(end)s::timestamptz)

-- name: planner_binned_records
-- Pre-binned counts (binned_counts not also in rollup_hourly) overlapping [scan_from, end),
-- one row per record (site × direction × display × period; display NULL counts
-- as display on) with its bins in speed order (speed_hi Infinity: the open top bin) and its
-- period in epoch seconds, for the ranking's cells (planner.binnedcells).
SELECT b.site_id, b.direction, coalesce(b.display, 1)::int AS display,
       extract(epoch FROM b.period_start)::float8 AS start_s, extract(epoch FROM b.period_end)::float8 AS end_s,
       array_agg(b.speed_lo::float8 ORDER BY b.speed_lo, b.speed_hi) AS lo,
       array_agg(coalesce(b.speed_hi::float8, 'Infinity'::float8) ORDER BY b.speed_lo, b.speed_hi) AS hi,
       array_agg(b.count::float8 ORDER BY b.speed_lo, b.speed_hi) AS count
FROM binned_counts b
WHERE NOT b.in_rollups AND b.period_start < %(end)s AND b.period_end > %(scan_from)s
GROUP BY b.site_id, b.direction, coalesce(b.display, 1), b.period_start, b.period_end
ORDER BY 1, 2, 3, 4, 5

-- name: planner_binned_limits
-- The legal limits of the sites with such records, overlapping [scan_from, end), as posted, with the weekdays
-- and local hours of timed ones (migration 0011), in epoch seconds (valid_to NULL: Infinity).
SELECT site_id, extract(epoch FROM valid_from)::float8 AS from_s,
       coalesce(extract(epoch FROM valid_to)::float8, 'Infinity'::float8) AS to_s, limit_kmh::int AS limit_kmh,
       posted_value::int AS posted_value, posted_unit, timed, days, hour_from, hour_to
FROM speed_limits
WHERE site_id IN (SELECT DISTINCT site_id FROM binned_counts
                  WHERE NOT in_rollups AND period_start < %(end)s AND period_end > %(scan_from)s)
  AND valid_from < %(end)s AND (valid_to IS NULL OR valid_to > %(scan_from)s)
ORDER BY site_id, valid_from
