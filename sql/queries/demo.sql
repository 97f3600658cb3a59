-- name: demo_is_empty
-- True when the database holds no sites, no signs and no vehicle passes.
SELECT NOT EXISTS (SELECT 1 FROM sites)
   AND NOT EXISTS (SELECT 1 FROM signs)
   AND NOT EXISTS (SELECT 1 FROM readings) AS empty

-- name: demo_police_area
-- Insert a police area unless one has this name; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO police_areas (name) VALUES (%(name)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM police_areas WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: demo_municipality
-- Insert a municipality unless one has this name; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO municipalities (name, code, police_area_id)
    VALUES (%(name)s, %(code)s, %(police_area_id)s)
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM municipalities WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: demo_street
-- Insert a street unless the municipality has one by this name; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO streets (municipality_id, name) VALUES (%(municipality_id)s, %(name)s)
    ON CONFLICT (municipality_id, name) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM streets
WHERE municipality_id = %(municipality_id)s AND name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: demo_site
-- Insert a site unless one has this name; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO sites (street_id, name, lat, lon, tags)
    VALUES (%(street_id)s, %(name)s, %(lat)s, %(lon)s, %(tags)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM sites WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: demo_speed_limit
-- Insert a legal limit period unless it (or an overlapping one) is already there.
INSERT INTO speed_limits (site_id, valid_from, valid_to, limit_kmh)
VALUES (%(site_id)s, %(valid_from)s, %(valid_to)s, %(limit_kmh)s)
ON CONFLICT DO NOTHING

-- name: demo_sign
-- Insert a sign unless one has this serial number; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO signs (serial_number, vendor, model, protocol, rounding, configured_limit_kmh)
    VALUES (%(serial)s, %(vendor)s, %(model)s, %(protocol)s, %(rounding)s, %(configured_limit_kmh)s)
    ON CONFLICT (serial_number) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM signs WHERE serial_number = %(serial)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: demo_deployment
-- Insert a deployment unless the sign already has one starting then (or one overlapping it).
INSERT INTO deployments (sign_id, site_id, valid_from, valid_to, display, approach_heading, note)
SELECT %(sign_id)s, %(site_id)s, %(valid_from)s, %(valid_to)s, %(display)s, %(approach_heading)s, %(note)s
WHERE NOT EXISTS (SELECT 1 FROM deployments WHERE sign_id = %(sign_id)s AND valid_from = %(valid_from)s)
ON CONFLICT DO NOTHING

-- name: demo_deployments_of_signs
-- Deployments of the given signs: serial, site name, bounds and display mode.
SELECT sg.serial_number, st.name AS site, d.valid_from, d.valid_to, d.display
FROM deployments d
JOIN signs sg ON sg.id = d.sign_id
JOIN sites st ON st.id = d.site_id
WHERE sg.serial_number = ANY(%(serials)s)
ORDER BY sg.serial_number, d.valid_from

-- name: demo_speed_limits_of_sites
-- Legal limit periods of the given sites: site name, bounds, limit.
SELECT st.name AS site, l.valid_from, l.valid_to, l.limit_kmh
FROM speed_limits l
JOIN sites st ON st.id = l.site_id
WHERE st.name = ANY(%(names)s)
ORDER BY st.name, l.valid_from

-- name: demo_user
-- Insert a user (no password) unless one has this e-mail; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO users (email, name, role, police_area_id, municipality_id)
    VALUES (%(email)s, %(name)s, %(role)s, %(police_area_id)s, %(municipality_id)s)
    ON CONFLICT (email) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM users WHERE email = %(email)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: demo_control
-- Insert a logged police control unless the site already has one starting then.
INSERT INTO controls (site_id, direction, start_time, end_time, method, vehicles_checked,
                      reports_written, planned, note, created_by)
SELECT %(site_id)s, %(direction)s, %(start_time)s, %(end_time)s, %(method)s, %(vehicles_checked)s,
       %(reports_written)s, %(planned)s, %(note)s, %(created_by)s
WHERE NOT EXISTS (SELECT 1 FROM controls WHERE site_id = %(site_id)s AND start_time = %(start_time)s)

-- name: demo_tip
-- Insert a citizen tip unless the same text for the site was received at the same moment.
INSERT INTO citizen_tips (received_at, site_id, text, status)
SELECT %(received_at)s, %(site_id)s, %(text)s, %(status)s
WHERE NOT EXISTS (
    SELECT 1 FROM citizen_tips
    WHERE site_id = %(site_id)s AND received_at = %(received_at)s AND text = %(text)s
)

-- name: demo_coverage
-- Full-coverage hours (60 minutes) for a sign, from epoch hour numbers; existing hours are kept.
INSERT INTO coverage_hourly (sign_id, hour, minutes)
SELECT %(sign_id)s, to_timestamp(h * 3600), 60
FROM unnest(%(hours)s::bigint[]) AS h
ON CONFLICT (sign_id, hour) DO NOTHING
