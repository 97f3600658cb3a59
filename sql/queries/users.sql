-- name: user_insert
-- A new person with a role and a scope (password hash may be NULL until one is set).
INSERT INTO users (email, name, role, municipality_id, police_area_id, password_hash)
VALUES (%(email)s, %(name)s, %(role)s, %(municipality_id)s, %(police_area_id)s, %(password_hash)s)
RETURNING id

-- name: user_get
-- One person with the names of their municipality and police area.
SELECT u.id, u.email, u.name, u.role, u.active, u.created_at,
       u.municipality_id, m.name AS municipality,
       u.police_area_id, p.name AS police_area,
       u.password_hash IS NOT NULL AS has_password
FROM users u
LEFT JOIN municipalities m ON m.id = u.municipality_id
LEFT JOIN police_areas p ON p.id = u.police_area_id
WHERE u.id = %(user_id)s

-- name: user_id_by_email
-- A person's id by e-mail (compared without case).
SELECT id FROM users WHERE lower(email) = lower(%(email)s)

-- name: user_list
-- Every person, by e-mail.
SELECT u.id, u.email, u.name, u.role, u.active, u.created_at,
       u.municipality_id, m.name AS municipality,
       u.police_area_id, p.name AS police_area,
       u.password_hash IS NOT NULL AS has_password
FROM users u
LEFT JOIN municipalities m ON m.id = u.municipality_id
LEFT JOIN police_areas p ON p.id = u.police_area_id
ORDER BY lower(u.email)

-- name: user_update
-- Change a person's name, role, scope and whether they may log in.
UPDATE users SET name = %(name)s, role = %(role)s, municipality_id = %(municipality_id)s,
                 police_area_id = %(police_area_id)s, active = %(active)s
WHERE id = %(user_id)s

-- name: user_count_active_admins
-- How many active admins there are (the last one may not be demoted or disabled).
SELECT count(*) AS n FROM users WHERE role = 'admin' AND active

-- name: municipality_by_name_or_id
-- A municipality by its name (without case), code, or id given as text.
SELECT id, name, police_area_id FROM municipalities
WHERE lower(name) = lower(%(ref)s) OR code = %(ref)s OR id::text = %(ref)s
ORDER BY (lower(name) = lower(%(ref)s)) DESC
LIMIT 1

-- name: police_area_by_name_or_id
-- A police area by its name (without case) or id given as text.
SELECT id, name FROM police_areas
WHERE lower(name) = lower(%(ref)s) OR id::text = %(ref)s
ORDER BY (lower(name) = lower(%(ref)s)) DESC
LIMIT 1

-- name: municipality_get
-- A municipality by id.
SELECT id, name, police_area_id FROM municipalities WHERE id = %(id)s

-- name: police_area_get
-- A police area by id.
SELECT id, name FROM police_areas WHERE id = %(id)s

-- name: scope_police_area_municipalities
-- The municipalities a police area serves.
SELECT id FROM municipalities WHERE police_area_id = %(police_area_id)s ORDER BY id

-- name: scope_site_municipality
-- The municipality a site lies in (via its street).
SELECT st.municipality_id FROM sites s JOIN streets st ON st.id = s.street_id WHERE s.id = %(site_id)s

-- name: scope_street_municipality
-- The municipality a street belongs to.
SELECT municipality_id FROM streets WHERE id = %(street_id)s

-- name: scope_sign_municipalities
-- The municipalities a sign has stood in (its latest deployment first); none for a sign never deployed.
SELECT st.municipality_id
FROM deployments d JOIN sites s ON s.id = d.site_id JOIN streets st ON st.id = s.street_id
WHERE d.sign_id = %(sign_id)s
ORDER BY d.valid_from DESC

-- name: scope_sign_exists
-- Whether a sign exists.
SELECT 1 FROM signs WHERE id = %(sign_id)s

-- name: user_password_hash_get
-- A person's stored password hash (NULL: none set).
SELECT password_hash FROM users WHERE id = %(user_id)s
