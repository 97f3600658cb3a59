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
       (SELECT row(count(*), sum(c.minutes), max(c.hour))::text FROM coverage_hourly c
          WHERE c.sign_id IN (SELECT d.sign_id FROM deployments d WHERE d.site_id = %(site_id)s)) AS coverage,
       (SELECT md5(string_agg(l::text, ',' ORDER BY l.valid_from)) FROM speed_limits l
          WHERE l.site_id = %(site_id)s) AS limits,
       (SELECT s::text FROM sites s WHERE s.id = %(site_id)s) AS site,
       (SELECT max(hour) FROM rollup_hourly)::text AS newest
