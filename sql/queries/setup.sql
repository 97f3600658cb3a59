-- name: setup_police_area
-- A police area by name, created when missing; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO police_areas (name) VALUES (%(name)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM police_areas WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: setup_municipality_by_name
-- A municipality and its police area by the municipality's name.
SELECT m.id, m.name, m.code, m.police_area_id, p.name AS police_area
FROM municipalities m JOIN police_areas p ON p.id = m.police_area_id
WHERE m.name = %(name)s

-- name: setup_municipalities
-- Every municipality and its police area, by name.
SELECT m.id, m.name, m.code, m.police_area_id, p.name AS police_area
FROM municipalities m JOIN police_areas p ON p.id = m.police_area_id
ORDER BY m.name

-- name: setup_municipality_insert
-- A new municipality in a police area.
INSERT INTO municipalities (name, code, police_area_id)
VALUES (%(name)s, %(code)s, %(police_area_id)s)
RETURNING id

-- name: setup_municipality_names
-- Every municipality's name, for "did you mean".
SELECT name FROM municipalities ORDER BY name

-- name: setup_municipalities_of_area
-- The municipalities a police area serves.
SELECT id FROM municipalities WHERE police_area_id = %(police_area_id)s ORDER BY id

-- name: setup_street
-- A street of a municipality by name, created when missing; returns its id and whether it is new.
WITH ins AS (
    INSERT INTO streets (municipality_id, name) VALUES (%(municipality_id)s, %(name)s)
    ON CONFLICT (municipality_id, name) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM ins
UNION ALL
SELECT id, false FROM streets
WHERE municipality_id = %(municipality_id)s AND name = %(name)s AND NOT EXISTS (SELECT 1 FROM ins)

-- name: setup_site_insert
-- A new site on a street; NULL when a site of that name exists already.
INSERT INTO sites (street_id, name, lat, lon, time_zone, tags)
VALUES (%(street_id)s, %(name)s, %(lat)s, %(lon)s, %(time_zone)s, %(tags)s)
ON CONFLICT (name) DO NOTHING
RETURNING id

-- name: setup_sites
-- Sites with their street, municipality and police area (all of them, or one by id).
SELECT s.id, s.name, st.name AS street, m.id AS municipality_id, m.name AS municipality,
       p.name AS police_area, s.lat, s.lon, s.time_zone, s.tags, s.created_at
FROM sites s
JOIN streets st ON st.id = s.street_id
JOIN municipalities m ON m.id = st.municipality_id
JOIN police_areas p ON p.id = m.police_area_id
WHERE %(site_id)s::integer IS NULL OR s.id = %(site_id)s
ORDER BY s.name

-- name: setup_site_refs
-- Sites whose name is, or starts with, what a person typed (or whose id it is).
SELECT id, name, time_zone FROM sites
WHERE name = %(ref)s OR starts_with(lower(name), lower(%(ref)s)) OR id::text = %(ref)s
ORDER BY name

-- name: setup_limits
-- The legal-limit history of a site, oldest first (standing limits before timed ones on a day).
SELECT l.site_id, s.name AS site, s.time_zone, l.valid_from, l.valid_to, l.posted_value, l.posted_unit, l.limit_kmh,
       l.timed, l.days, l.hour_from, l.hour_to
FROM speed_limits l JOIN sites s ON s.id = l.site_id
WHERE l.site_id = %(site_id)s
ORDER BY l.valid_from, l.timed

-- name: setup_limit_in_force
-- The standing (timed false) or timed limit in force at a time (locked: it may be closed).
SELECT valid_from, valid_to FROM speed_limits
WHERE site_id = %(site_id)s AND timed = %(timed)s AND valid_from <= %(at)s AND (valid_to IS NULL OR valid_to > %(at)s)
FOR UPDATE

-- name: setup_limit_close
-- End a standing or timed limit period at a time.
UPDATE speed_limits SET valid_to = %(valid_to)s
WHERE site_id = %(site_id)s AND timed = %(timed)s AND valid_from = %(valid_from)s

-- name: setup_limit_insert
-- A new limit period, posted in km/h or mph; limit_kmh is the km/h value rounded down. days,
-- hour_from and hour_to are NULL for a standing limit, else the weekdays and local hours it holds.
INSERT INTO speed_limits (site_id, valid_from, valid_to, limit_kmh, posted_value, posted_unit, days, hour_from, hour_to)
VALUES (%(site_id)s, %(valid_from)s, %(valid_to)s, %(limit_kmh)s, %(posted_value)s, %(posted_unit)s,
        %(days)s, %(hour_from)s, %(hour_to)s)

-- name: setup_limits_overlapping
-- The standing or timed limit periods of a site that overlap [valid_from, valid_to) (valid_to NULL: open).
SELECT valid_from, valid_to, posted_value, posted_unit FROM speed_limits
WHERE site_id = %(site_id)s AND timed = %(timed)s
  AND tstzrange(valid_from, valid_to) && tstzrange(%(valid_from)s::timestamptz, %(valid_to)s::timestamptz)
ORDER BY valid_from

-- name: setup_sign_insert
-- A new sign; NULL when one with this serial number exists already.
INSERT INTO signs (serial_number, vendor, model, protocol, unit, rounding, configured_limit_kmh)
VALUES (%(serial)s, %(vendor)s, %(model)s, %(protocol)s, %(unit)s, %(rounding)s, %(configured_limit_kmh)s)
ON CONFLICT (serial_number) DO NOTHING
RETURNING id

-- name: setup_signs
-- Signs (all, or one by id) with the deployment in force at a time, if any.
SELECT g.id, g.serial_number AS serial, g.vendor, g.model, g.protocol, g.unit, g.rounding,
       g.configured_limit_kmh, g.created_at, d.id AS deployment_id
FROM signs g
LEFT JOIN LATERAL (
    SELECT id FROM deployments
    WHERE sign_id = g.id AND valid_from <= %(at)s AND (valid_to IS NULL OR valid_to > %(at)s)
) d ON true
WHERE %(sign_id)s::integer IS NULL OR g.id = %(sign_id)s
ORDER BY g.serial_number

-- name: setup_sign_refs
-- Signs by serial number, or by id, as a person typed it.
SELECT id, serial_number AS serial FROM signs
WHERE serial_number = %(ref)s OR id::text = %(ref)s
ORDER BY serial_number = %(ref)s DESC, id

-- name: setup_sign_serials
-- Every sign's serial number, for "did you mean".
SELECT serial_number FROM signs ORDER BY serial_number

-- name: setup_deployments
-- Deployments by id, by sign or site, or those in force at a time (each filter optional).
SELECT d.id, d.sign_id, g.serial_number AS serial, d.site_id, s.name AS site, s.time_zone,
       d.valid_from, d.valid_to, d.display, d.mount_angle_deg, d.approach_heading, d.note
FROM deployments d
JOIN signs g ON g.id = d.sign_id
JOIN sites s ON s.id = d.site_id
WHERE (%(id)s::integer IS NULL OR d.id = %(id)s)
  AND (%(sign_id)s::integer IS NULL OR d.sign_id = %(sign_id)s)
  AND (%(site_id)s::integer IS NULL OR d.site_id = %(site_id)s)
  AND (%(at)s::timestamptz IS NULL
       OR (d.valid_from <= %(at)s AND (d.valid_to IS NULL OR d.valid_to > %(at)s)))
ORDER BY d.valid_from, d.id

-- name: setup_deployment_in_force
-- The sign's deployment in force at a time (locked: it may be closed).
SELECT id, valid_from FROM deployments
WHERE sign_id = %(sign_id)s AND valid_from <= %(at)s AND (valid_to IS NULL OR valid_to > %(at)s)
FOR UPDATE

-- name: setup_deployments_overlapping
-- The sign's deployments that overlap [valid_from, valid_to) (valid_to NULL: open).
SELECT d.id, s.name AS site, d.valid_from, d.valid_to
FROM deployments d JOIN sites s ON s.id = d.site_id
WHERE d.sign_id = %(sign_id)s
  AND tstzrange(d.valid_from, d.valid_to) && tstzrange(%(valid_from)s::timestamptz, %(valid_to)s::timestamptz)
ORDER BY d.valid_from

-- name: setup_deployment_insert
-- A sign deployed at a site from a time (display: 0 stealth, 1 display).
INSERT INTO deployments (sign_id, site_id, valid_from, valid_to, display, mount_angle_deg, approach_heading, note)
VALUES (%(sign_id)s, %(site_id)s, %(valid_from)s, NULL, %(display)s, %(mount_angle_deg)s,
        %(approach_heading)s, %(note)s)
RETURNING id

-- name: setup_deployment_close
-- End a deployment at a time.
UPDATE deployments SET valid_to = %(valid_to)s WHERE id = %(id)s

-- name: setup_token_insert
-- A sign's upload token, stored as its hash only.
INSERT INTO api_tokens (sign_id, token_hash, label) VALUES (%(sign_id)s, %(token_hash)s, %(label)s)
RETURNING id

-- name: setup_tokens
-- Sign upload tokens (never the token itself): all, of one sign, or one by id.
SELECT t.id, t.sign_id, g.serial_number AS serial, t.label, t.created_at, t.revoked_at
FROM api_tokens t JOIN signs g ON g.id = t.sign_id
WHERE (%(sign_id)s::integer IS NULL OR t.sign_id = %(sign_id)s)
  AND (%(id)s::integer IS NULL OR t.id = %(id)s)
ORDER BY t.id

-- name: setup_token_revoke
-- Revoke a sign's upload token at a time (a revoked one keeps its first revocation time).
UPDATE api_tokens SET revoked_at = %(at)s
WHERE id = %(id)s AND sign_id IS NOT NULL AND revoked_at IS NULL

-- name: setup_tip_rate_hit
-- Count one tip from a client in the current window; returns the count so far.
INSERT INTO tip_rate (client_hash, window_start, count) VALUES (%(client_hash)s, %(window_start)s, 1)
ON CONFLICT (client_hash, window_start) DO UPDATE SET count = tip_rate.count + 1
RETURNING count

-- name: setup_tip_rate_prune
-- Forget the tip counts of windows that ended long ago.
DELETE FROM tip_rate WHERE window_start < %(before)s

-- name: setup_street_of_site
-- The street of a site (a tip about a site is a tip about its street too).
SELECT street_id FROM sites WHERE id = %(site_id)s

-- name: setup_tip_insert
-- A citizen tip.
INSERT INTO citizen_tips (received_at, site_id, street_id, municipality_id, lat, lon, text, channel)
VALUES (%(received_at)s, %(site_id)s, %(street_id)s, %(municipality_id)s, %(lat)s, %(lon)s, %(text)s, %(channel)s)
RETURNING id

-- name: setup_nearest_site_municipality
-- The municipality of the site nearest a position, and the distance in km (equirectangular: fine
-- at the few kilometres this is used for).
SELECT st.municipality_id,
       111.195 * sqrt(power(s.lat - %(lat)s, 2) + power((s.lon - %(lon)s) * cos(radians(%(lat)s)), 2)) AS km
FROM sites s JOIN streets st ON st.id = s.street_id
WHERE s.lat IS NOT NULL AND s.lon IS NOT NULL
ORDER BY km
LIMIT 1

-- name: setup_municipality_by_id
-- A municipality by id.
SELECT id FROM municipalities WHERE id = %(id)s

-- name: setup_tips
-- Citizen tips, newest first, with their site, street and municipality; municipality_ids NULL: all,
-- otherwise only tips about streets of those municipalities; one tip by id when id is given.
SELECT t.id, t.received_at, t.site_id, s.name AS site, st.name AS street, m.id AS municipality_id,
       m.name AS municipality, t.lat, t.lon, t.text, t.status, t.channel
FROM citizen_tips t
LEFT JOIN sites s ON s.id = t.site_id
LEFT JOIN streets st ON st.id = coalesce(t.street_id, s.street_id)
LEFT JOIN municipalities m ON m.id = coalesce(st.municipality_id, t.municipality_id)
WHERE (%(municipality_ids)s::integer[] IS NULL OR m.id = ANY (%(municipality_ids)s::integer[]))
  AND (%(status)s::text IS NULL OR t.status = %(status)s)
  AND (%(id)s::integer IS NULL OR t.id = %(id)s)
ORDER BY t.received_at DESC, t.id DESC
LIMIT %(limit)s

-- name: setup_municipality_zone
-- The time zone most sites of a municipality have (none when it has no sites).
SELECT s.time_zone FROM sites s JOIN streets st ON st.id = s.street_id
WHERE st.municipality_id = %(municipality_id)s
GROUP BY s.time_zone ORDER BY count(*) DESC, s.time_zone LIMIT 1

-- name: setup_site_municipality
-- The municipality a site lies in.
SELECT st.municipality_id FROM sites s JOIN streets st ON st.id = s.street_id WHERE s.id = %(site_id)s
