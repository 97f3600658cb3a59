-- name: auth_personal_token
-- The active user behind a personal API token (by its SHA-256 hash), if the token is live.
SELECT t.id AS token_id, u.id AS user_id, u.email, u.role, u.municipality_id, u.police_area_id
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL AND t.sign_id IS NULL AND u.active

-- name: auth_sign_token
-- The sign behind an upload token (by its SHA-256 hash), if the token is live.
SELECT t.id AS token_id, s.id AS sign_id, s.serial_number AS serial
FROM api_tokens t JOIN signs s ON s.id = t.sign_id
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL
