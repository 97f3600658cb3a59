-- name: audit_insert
-- One audit row: who (a user's e-mail, a sign as 'sign:SERIAL', or 'system'), did what, to which entity.
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
VALUES (%(actor)s, %(action)s, %(entity)s, %(entity_id)s, %(detail)s)
RETURNING id
