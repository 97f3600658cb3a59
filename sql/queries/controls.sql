-- name: controls_site_zone
-- A site's time zone (no row: no such site).
SELECT time_zone FROM sites WHERE id = %(site_id)s

-- name: controls_by_key
-- The control stored under a client's key (no row: none yet).
SELECT id FROM controls WHERE client_key = %(client_key)s

-- name: controls_insert
-- Log a control (planned when it names a plan; second_unit when another unit was there too) under
-- the client's key; returns its id, or no row when a control with that key is already stored.
INSERT INTO controls (site_id, direction, start_time, end_time, method, vehicles_checked,
                      reports_written, planned, note, plan_id, second_unit, client_key)
VALUES (%(site_id)s, %(direction)s, %(start_time)s, %(end_time)s, %(method)s, %(vehicles_checked)s,
        %(reports_written)s, %(plan_id)s::int IS NOT NULL, %(note)s, %(plan_id)s::int, %(second_unit)s,
        %(client_key)s::uuid)
ON CONFLICT (client_key) WHERE client_key IS NOT NULL DO NOTHING
RETURNING id
