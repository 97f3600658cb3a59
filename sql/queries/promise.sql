-- name: promise_tip_streets
-- Streets citizens sent tips about before %(before)s (a tip names a site or a street), with
-- their municipality and the number of tips.
SELECT st.id AS street_id, st.name AS street, st.municipality_id, m.name AS municipality, count(*) AS tips
FROM citizen_tips t
LEFT JOIN sites ts ON ts.id = t.site_id
JOIN streets st ON st.id = coalesce(t.street_id, ts.street_id)
JOIN municipalities m ON m.id = st.municipality_id
WHERE t.received_at < %(before)s
GROUP BY st.id, st.name, st.municipality_id, m.name
ORDER BY count(*) DESC, st.name

-- name: promise_controls
-- Controls that ended in [%(start)s, %(before)s) at sites on streets with a tip received before the
-- control started, oldest first.
SELECT c.id, c.site_id, s.name AS site_name, s.time_zone, st.id AS street_id, st.name AS street,
       c.start_time, c.end_time
FROM controls c
JOIN sites s ON s.id = c.site_id
JOIN streets st ON st.id = s.street_id
WHERE c.end_time >= %(start)s AND c.end_time < %(before)s
  AND EXISTS (SELECT 1 FROM citizen_tips t LEFT JOIN sites ts ON ts.id = t.site_id
              WHERE coalesce(t.street_id, ts.street_id) = st.id AND t.received_at < c.start_time)
ORDER BY c.start_time, c.id

-- name: promise_first_hour
-- The first hour with vehicles anywhere (weeks before it have nothing to show).
SELECT min(hour) FROM rollup_hourly

-- name: promise_fingerprint
-- What the promise page rests on, to tell when a kept copy is stale: the latest hour with
-- vehicles, and the count and latest change of controls and tips.
SELECT (SELECT max(hour) FROM rollup_hourly) AS latest_hour,
       (SELECT count(*) FROM controls) AS controls, (SELECT max(created_at) FROM controls) AS controls_at,
       (SELECT max(id) FROM controls) AS control_id,
       (SELECT count(*) FROM citizen_tips) AS tips, (SELECT max(id) FROM citizen_tips) AS tip_id
