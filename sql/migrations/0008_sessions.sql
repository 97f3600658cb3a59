-- People and access: server-side login sessions, login throttling, the shared CSRF signing
-- secret. Every `fartkoll serve` process reads these, so a login made through one is good at all.

-- A login session. The browser holds a random id in an HttpOnly cookie; only its SHA-256 hash
-- is stored, so a copy of this table logs nobody in.
CREATE TABLE sessions (
    id            bigserial PRIMARY KEY,
    id_hash       bytea NOT NULL UNIQUE CHECK (length(id_hash) = 32),
    user_id       integer NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    address       text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- One failed login attempt, counted per account and per client address over a sliding window.
CREATE TABLE login_failures (
    at       timestamptz NOT NULL DEFAULT now(),
    email    text NOT NULL,
    address  text NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
CREATE INDEX login_failures_address ON login_failures (address, at);

-- Secrets every server process must share (the CSRF token signing key), made on first use.
CREATE TABLE app_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL CHECK (length(value) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- E-mail addresses are compared without case: Anna@Kommun.se and anna@kommun.se are one person.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

-- The last time a personal or sign token was used, for the token lists.
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz;
