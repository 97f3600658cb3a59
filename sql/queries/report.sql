-- name: report_tips
-- Citizen tips received in [start, end), oldest first, with the place they are about.
SELECT t.received_at,
       coalesce(s.name, st.name, to_char(t.lat, 'FM990.0000') || ', ' || to_char(t.lon, 'FM990.0000')) AS place,
       t.text, t.status
FROM citizen_tips t
LEFT JOIN sites s ON s.id = t.site_id
LEFT JOIN streets st ON st.id = t.street_id
WHERE t.received_at >= %(start)s AND t.received_at < %(end)s
ORDER BY t.received_at, t.id

-- name: report_first_hour
-- The earliest UTC hour with vehicles in rollup_hourly (NULL when there is none).
SELECT min(hour) FROM rollup_hourly

-- name: site_first_hour
-- The earliest UTC hour with vehicles at one site (NULL when there is none).
SELECT min(hour) AS first_hour FROM rollup_hourly WHERE site_id = %(site_id)s
