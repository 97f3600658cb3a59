-- name: measure_insert
-- A new measure at a site; returns its id.
INSERT INTO measures (site_id, taken_on, kind, limit_kmh, display, note, created_by, created_at)
VALUES (%(site_id)s, %(taken_on)s, %(kind)s, %(limit_kmh)s, %(display)s, %(note)s, %(created_by)s, %(now)s)
RETURNING id

-- name: measures_list
-- Measures newest first: of one site (or all), at sites of the given municipalities (NULL: all).
SELECT me.id, me.site_id, s.name AS site_name, st.municipality_id, s.time_zone, me.taken_on, me.kind,
       me.limit_kmh, me.display, me.note, me.created_by, me.created_at
FROM measures me
JOIN sites s ON s.id = me.site_id
JOIN streets st ON st.id = s.street_id
WHERE (%(site_id)s::int IS NULL OR me.site_id = %(site_id)s)
  AND (%(id)s::int IS NULL OR me.id = %(id)s)
  AND (%(municipality_ids)s::int[] IS NULL OR st.municipality_id = ANY (%(municipality_ids)s))
ORDER BY me.taken_on DESC, me.id DESC
LIMIT %(limit)s

-- name: measures_sites_in_window
-- Sites with a measure (other than %(id)s) taken on a local day in [%(start)s, %(end)s].
SELECT DISTINCT site_id FROM measures WHERE taken_on BETWEEN %(start)s AND %(end)s AND id <> %(id)s

-- name: measures_fingerprint
-- What a measure's before/after rests on, to tell when a kept copy is stale: the latest hour with
-- vehicles, and the count and latest change of controls, measures and legal limits.
SELECT (SELECT max(hour) FROM rollup_hourly) AS latest_hour,
       (SELECT count(*) FROM controls) AS controls, (SELECT max(id) FROM controls) AS control_id,
       (SELECT count(*) FROM measures) AS measures, (SELECT max(id) FROM measures) AS measure_id,
       (SELECT count(*) FROM speed_limits) AS limits, (SELECT max(valid_from) FROM speed_limits) AS limit_from
