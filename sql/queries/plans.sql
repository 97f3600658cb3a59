-- name: plans_list
-- Plans, newest first (optionally of one status), with their control counts; site ids for scoping.
SELECT p.id, p.created_at, p.created_by, p.first_day, p.last_day, p.status, p.approved_by, p.approved_at,
       p.cancelled_by, p.cancelled_at, p.language, p.time_zone,
       count(pc.id)::int AS controls, count(pc.control_id)::int AS done,
       coalesce(array_agg(DISTINCT pc.site_id) FILTER (WHERE pc.site_id IS NOT NULL), '{}') AS site_ids
FROM plans p
LEFT JOIN planned_controls pc ON pc.plan_id = p.id
WHERE %(status)s::text IS NULL OR p.status = %(status)s
GROUP BY p.id
ORDER BY p.created_at DESC, p.id DESC
LIMIT %(limit)s

-- name: plans_header
-- One plan's header with its life (status, approved and cancelled by whom and when).
SELECT id, created_at, created_by, data_from, data_to, first_day, last_day, seed, time_zone, unmet,
       status, approved_by, approved_at, cancelled_by, cancelled_at, cancel_note, language
FROM plans WHERE id = %(plan_id)s

-- name: plans_items
-- A plan's planned controls in time order with site name and street and the control that did each.
SELECT pc.id, pc.site_id, s.name AS site_name, st.name AS street, s.time_zone, pc.direction, pc.start_time,
       pc.end_time, pc.unit, pc.slot, pc.hour_of_week, pc.score, pc.reason, pc.control_id
FROM planned_controls pc
JOIN sites s ON s.id = pc.site_id
JOIN streets st ON st.id = s.street_id
WHERE pc.plan_id = %(plan_id)s
ORDER BY pc.start_time, pc.unit, pc.id

-- name: plans_item
-- One planned control with its plan's status and days (for marking it done).
SELECT pc.id, pc.plan_id, pc.site_id, pc.direction, pc.start_time, pc.end_time, pc.control_id,
       p.status, p.first_day, p.last_day
FROM planned_controls pc JOIN plans p ON p.id = pc.plan_id
WHERE pc.id = %(item_id)s

-- name: plans_approve
-- Approve a draft plan; no row when it is not a draft.
UPDATE plans SET status = 'approved', approved_by = %(actor)s, approved_at = %(now)s
WHERE id = %(plan_id)s AND status = 'draft'
RETURNING id

-- name: plans_cancel
-- Cancel a draft or approved plan; no row when it is already cancelled.
UPDATE plans SET status = 'cancelled', cancelled_by = %(actor)s, cancelled_at = %(now)s, cancel_note = %(note)s
WHERE id = %(plan_id)s AND status <> 'cancelled'
RETURNING id

-- name: plans_item_ids
-- The ids of a plan's planned controls with the start and unit that tell them apart, in time order.
SELECT id, start_time, unit FROM planned_controls WHERE plan_id = %(plan_id)s ORDER BY start_time, unit, id

-- name: plans_item_done
-- Link a planned control to the logged control that carried it out; no row when already done.
UPDATE planned_controls SET control_id = %(control_id)s
WHERE id = %(item_id)s AND control_id IS NULL
RETURNING id

-- name: plans_plan_sites
-- The sites of a plan's planned controls.
SELECT DISTINCT site_id FROM planned_controls WHERE plan_id = %(plan_id)s

-- name: controls_overlapping
-- Logged controls at a site that overlap [start, end), earliest first.
SELECT id, start_time, end_time, second_unit FROM controls
WHERE site_id = %(site_id)s AND start_time < %(end)s AND end_time > %(start)s
ORDER BY start_time, id

-- name: plans_set_language
-- The language a plan's calendar and printout are written in.
UPDATE plans SET language = %(language)s WHERE id = %(plan_id)s
