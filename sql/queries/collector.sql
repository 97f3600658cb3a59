-- name: collector_signs_by_serial
-- Signs with the given serial numbers, with the deployment (if any) covering %(at)s.
SELECT s.serial_number, s.id, d.site_id, d.mount_angle_deg
FROM signs s
LEFT JOIN deployments d
       ON d.sign_id = s.id AND d.valid_from <= %(at)s AND (d.valid_to IS NULL OR d.valid_to > %(at)s)
WHERE s.serial_number = ANY(%(serials)s::text[])

-- name: collector_heartbeat_insert
-- One heartbeat of a sign with its clock offset (NULL: unknown); a heartbeat already stored at that instant is kept as it is.
INSERT INTO sign_heartbeats (sign_id, time, clock_offset_s, detail)
VALUES (%(sign_id)s, %(time)s, %(clock_offset_s)s, %(detail)s)
ON CONFLICT (sign_id, time) DO NOTHING

-- name: collector_coverage_get
-- Minutes with data already stored for one sign and UTC hour (no row: none stored).
SELECT minutes FROM coverage_hourly WHERE sign_id = %(sign_id)s AND hour = %(hour)s

-- name: collector_coverage_upsert
-- Store minutes with data for a sign and hour; never lowers a stored value (idempotent).
INSERT INTO coverage_hourly (sign_id, hour, minutes)
VALUES (%(sign_id)s, %(hour)s, %(minutes)s)
ON CONFLICT (sign_id, hour) DO UPDATE SET minutes = greatest(coverage_hourly.minutes, excluded.minutes)
