-- name: auth_personal_token
-- The active user behind a personal API token (by its SHA-256 hash), if the token is live.
SELECT t.id AS token_id, t.last_used_at, u.id AS user_id, u.email, u.role, u.municipality_id, u.police_area_id
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL AND t.sign_id IS NULL AND u.active

-- name: auth_sign_token
-- The sign behind an upload token (by its SHA-256 hash), if the token is live.
SELECT t.id AS token_id, s.id AS sign_id, s.serial_number AS serial
FROM api_tokens t JOIN signs s ON s.id = t.sign_id
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL

-- name: auth_token_used
-- Note when a token was last used (at most once a minute, so reads stay cheap).
UPDATE api_tokens SET last_used_at = %(now)s
WHERE id = %(token_id)s AND (last_used_at IS NULL OR last_used_at < %(now)s - interval '1 minute')

-- name: auth_session
-- The active user behind a live session (by the SHA-256 hash of the cookie's id).
SELECT s.id AS session_id, s.last_seen_at, u.id AS user_id, u.email, u.role,
       u.municipality_id, u.police_area_id
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id_hash = %(hash)s AND s.revoked_at IS NULL AND s.expires_at > %(now)s
  AND s.last_seen_at > %(now)s - %(idle)s::interval AND u.active

-- name: session_seen
-- Move a session's last-seen time (which also keeps it from idling out).
UPDATE sessions SET last_seen_at = %(now)s WHERE id = %(session_id)s AND revoked_at IS NULL

-- name: session_insert
-- A new session for a user; the id itself is never stored, only its hash.
INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, address, user_agent)
VALUES (%(hash)s, %(user_id)s, %(now)s, %(now)s, %(expires_at)s, %(address)s, %(user_agent)s)
RETURNING id, created_at, last_seen_at, expires_at, address, user_agent

-- name: session_list
-- A user's live sessions, newest first.
SELECT id, created_at, last_seen_at, expires_at, address, user_agent
FROM sessions
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > %(now)s
  AND last_seen_at > %(now)s - %(idle)s::interval
ORDER BY created_at DESC, id DESC

-- name: session_revoke
-- Revoke one of a user's sessions; returns its id when there was a live one.
UPDATE sessions SET revoked_at = %(now)s
WHERE id = %(session_id)s AND user_id = %(user_id)s AND revoked_at IS NULL
RETURNING id

-- name: session_revoke_all
-- Revoke every live session of a user except one (NULL: all); returns the ids revoked.
UPDATE sessions SET revoked_at = %(now)s
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND id IS DISTINCT FROM %(keep)s
RETURNING id

-- name: login_user
-- The account a login names (e-mail compared without case), with its password hash.
SELECT id, email, role, active, password_hash, municipality_id, police_area_id
FROM users WHERE lower(email) = lower(%(email)s)

-- name: login_failures_count
-- Failed logins in the window for an account and for a client address, with the oldest of each.
SELECT
    count(*) FILTER (WHERE email = %(email)s) AS account_failures,
    min(at) FILTER (WHERE email = %(email)s) AS account_oldest,
    count(*) FILTER (WHERE address = %(address)s) AS address_failures,
    min(at) FILTER (WHERE address = %(address)s) AS address_oldest
FROM login_failures
WHERE at > %(now)s - %(window)s::interval AND (email = %(email)s OR address = %(address)s)

-- name: login_failure_insert
-- Count one failed login for an account (lower-case e-mail) and a client address.
INSERT INTO login_failures (at, email, address) VALUES (%(now)s, %(email)s, %(address)s)

-- name: login_failures_clear
-- A successful login clears the account's failures (not the address's).
DELETE FROM login_failures WHERE email = %(email)s

-- name: login_failures_prune
-- Drop failures older than the window: they no longer count.
DELETE FROM login_failures WHERE at < %(now)s - %(window)s::interval

-- name: user_password_hash_set
-- Store a (re)computed password hash for a user.
UPDATE users SET password_hash = %(password_hash)s WHERE id = %(user_id)s

-- name: secret_ensure
-- Make a named shared secret unless one exists.
INSERT INTO app_secrets (name, value) VALUES (%(name)s, %(value)s) ON CONFLICT (name) DO NOTHING

-- name: secret_get
-- A named shared secret.
SELECT value FROM app_secrets WHERE name = %(name)s

-- name: personal_token_insert
-- A new personal API token for a user (only its hash is stored).
INSERT INTO api_tokens (user_id, token_hash, label, created_at)
VALUES (%(user_id)s, %(hash)s, %(label)s, %(now)s)
RETURNING id, label, created_at, last_used_at

-- name: personal_token_list
-- A user's live personal API tokens, newest first.
SELECT id, label, created_at, last_used_at
FROM api_tokens
WHERE user_id = %(user_id)s AND sign_id IS NULL AND revoked_at IS NULL
ORDER BY created_at DESC, id DESC

-- name: personal_token_revoke
-- Revoke one of a user's personal tokens; returns its id when there was a live one.
UPDATE api_tokens SET revoked_at = %(now)s
WHERE id = %(token_id)s AND user_id = %(user_id)s AND sign_id IS NULL AND revoked_at IS NULL
RETURNING id, label

-- name: personal_token_revoke_all
-- Revoke every live personal token of a user; returns the ids revoked.
UPDATE api_tokens SET revoked_at = %(now)s
WHERE user_id = %(user_id)s AND sign_id IS NULL AND revoked_at IS NULL
RETURNING id

-- name: login_lock
-- Serialise logins to one account until the transaction ends, so concurrent guesses cannot
-- all pass the throttle check before any failure is counted.
SELECT pg_advisory_xact_lock(hashtextextended('fartkoll.login:' || %(email)s, 0))

-- name: sessions_prune
-- Forget sessions that ended (expired or revoked) more than 30 days ago.
DELETE FROM sessions
WHERE expires_at < %(now)s - interval '30 days' OR revoked_at < %(now)s - interval '30 days'
