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
