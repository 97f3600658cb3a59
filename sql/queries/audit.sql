-- name: audit_insert
-- One audit row: who (a user's e-mail, a sign as 'sign:SERIAL', or 'system'), did what, to which entity.
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
VALUES (%(actor)s, %(action)s, %(entity)s, %(entity_id)s, %(detail)s)
RETURNING id

-- name: audit_search
-- Audit rows matching optional filters (actor and entity exact, action exact or a prefix
-- ending in '.'), newest first.
SELECT id, at, actor, action, entity, entity_id, detail
FROM audit_log
WHERE (%(actor)s::text IS NULL OR lower(actor) = lower(%(actor)s))
  AND (%(action)s::text IS NULL OR action = %(action)s
       OR (right(%(action)s, 1) = '.' AND starts_with(action, %(action)s)))
  AND (%(entity)s::text IS NULL OR entity = %(entity)s)
  AND (%(entity_id)s::text IS NULL OR entity_id = %(entity_id)s)
  AND (%(from)s::timestamptz IS NULL OR at >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR at < %(to)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
ORDER BY id DESC
LIMIT %(limit)s
