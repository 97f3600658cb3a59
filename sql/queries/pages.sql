-- name: pages_site_hour_profile
-- One site's vehicles and Σv per direction × display × local hour of day over [start, end), and
-- on how many local days that hour had data (to give vehicles per day).
SELECT r.direction, r.display,
       extract(hour FROM r.hour AT TIME ZONE %(tz)s)::int AS hour_of_day,
       sum(r.n)::bigint AS n, sum(r.sum_kmh) AS sum_kmh,
       count(DISTINCT (r.hour AT TIME ZONE %(tz)s)::date) AS days
FROM rollup_hourly r
WHERE r.site_id = %(site_id)s AND r.hour >= %(start)s AND r.hour < %(end)s
GROUP BY r.direction, r.display, hour_of_day
ORDER BY r.direction, r.display, hour_of_day

-- name: pages_site_version
-- What a site page's figures rest on, in one row: its rollups, their limits, its signs' coverage, its limits and the newest data hour of any site. Another row: other figures.
SELECT (SELECT row(count(*), sum(r.n), sum(r.sum_kmh), sum(r.limit_kmh), max(r.hour))::text
          FROM rollup_hourly r WHERE r.site_id = %(site_id)s) AS rollups,
       (SELECT row(count(*), sum(c.minutes), max(c.hour))::text
          FROM (SELECT DISTINCT d.sign_id FROM deployments d WHERE d.site_id = %(site_id)s) d
          -- each sign's rows by its key (OFFSET 0 keeps it so: joined, the planner scans every sign's)
          CROSS JOIN LATERAL (SELECT c.hour, c.minutes FROM coverage_hourly c WHERE c.sign_id = d.sign_id
                              OFFSET 0) c) AS coverage,
       (SELECT md5(string_agg(l::text, ',' ORDER BY l.valid_from)) FROM speed_limits l
          WHERE l.site_id = %(site_id)s) AS limits,
       (SELECT s::text FROM sites s WHERE s.id = %(site_id)s) AS site,
       (SELECT max(hour) FROM rollup_hourly)::text AS newest

-- name: pages_profile_hours
-- One site's hourly rollups over [start, end) with the local hour of the week of each (Monday
-- 00 = 0), for the hour × weekday profile (summed per cell by the caller).
SELECT r.direction::int, r.display::int, coalesce(r.local_how, local_hour_of_week(r.hour, %(tz)s))::int AS how,
       r.n, array_lower(r.hist, 1) AS hist_lo, r.hist
FROM rollup_hourly r
WHERE r.site_id = %(site_id)s AND r.hour >= %(start)s AND r.hour < %(end)s

-- name: pages_profile_observed
-- Hours of [start, end) per local hour of the week in which a site was observed: its signs
-- measured (coverage minutes > 0) or it has vehicles.
SELECT local_hour_of_week(h.hour, %(tz)s)::int AS how, count(*) AS hours
FROM (SELECT hour FROM site_coverage_hours(%(site_id)s::int, %(start)s::timestamptz, %(end)s::timestamptz) WHERE minutes > 0
      UNION
      SELECT r.hour FROM rollup_hourly r
      WHERE r.site_id = %(site_id)s AND r.hour >= %(start)s AND r.hour < %(end)s) h
WHERE h.hour = %(start)s::timestamptz + (floor(extract(epoch FROM h.hour - %(start)s::timestamptz) / 3600)) * interval '1 hour'
GROUP BY 1

-- name: pages_overview_version
-- What the sites overview (the map) rests on, in one row: per site its row and place names, the
-- end of its data, its rollups and coverage in its last 8 days, its limits, its signs and its
-- binned counts; and the hour now (the limit in force now). Another row: other figures.
SELECT md5(string_agg(x.v, '|' ORDER BY x.id)) AS sites, date_trunc('hour', now())::text AS hour
FROM (SELECT s.id, concat_ws(';', s::text, st::text, m::text, pa::text, last.h::text,
          -- one key range per direction × display mode (the table allows no others) and per
          -- deployment (OFFSET 0 keeps it so: otherwise the planner reads every site's last days)
          (SELECT row(count(*), sum(r.n), sum(r.sum_kmh), sum(r.sumsq_kmh), sum(r.limit_kmh))::text
             FROM (VALUES (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)) AS dm(d, m)
             CROSS JOIN LATERAL (SELECT r.n, r.sum_kmh, r.sumsq_kmh, r.limit_kmh FROM rollup_hourly r
                                 WHERE r.site_id = s.id AND r.direction = dm.d AND r.display = dm.m
                                   AND r.hour >= last.h - interval '8 days' OFFSET 0) r),
          (SELECT row(count(*), sum(c.minutes))::text FROM deployments d
             CROSS JOIN LATERAL (SELECT c.minutes FROM coverage_hourly c
                                 WHERE c.sign_id = d.sign_id AND c.hour >= last.h - interval '8 days' OFFSET 0) c
             WHERE d.site_id = s.id),
          (SELECT md5(string_agg(l::text, ',' ORDER BY l.valid_from, l.timed)) FROM speed_limits l
             WHERE l.site_id = s.id),
          (SELECT md5(string_agg(row(d.*, g.*)::text, ',' ORDER BY d.valid_from, d.sign_id))
             FROM deployments d JOIN signs g ON g.id = d.sign_id WHERE d.site_id = s.id),
          (SELECT row(count(*), sum(b.count), max(b.period_end), max(b.id))::text FROM binned_counts b
             WHERE b.site_id = s.id)) AS v
      FROM sites s
      JOIN streets st ON st.id = s.street_id
      JOIN municipalities m ON m.id = st.municipality_id
      JOIN police_areas pa ON pa.id = m.police_area_id
      LEFT JOIN LATERAL (  -- the newest hour of each direction × display mode: six probes of the key
          SELECT max(y.hour) AS h
          FROM (VALUES (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)) AS dm(d, m),
          LATERAL (SELECT r.hour FROM rollup_hourly r
                   WHERE r.site_id = s.id AND r.direction = dm.d AND r.display = dm.m
                   ORDER BY r.hour DESC LIMIT 1) y) last ON true) x
