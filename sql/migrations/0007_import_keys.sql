-- Toronto WYS bins keyed by what a row says about its installation, not by location_id alone:
-- '<location_id>:<bin column>' becomes '<location_id>|<site name>|<installation date>|0|<bin column>'
-- (the importer's key since this migration). The installation date is the local date of the
-- period start (midnight America/Toronto); the old keys allowed one row per location_id, so each
-- is occurrence 0. Per-vehicle rows keep their keys: the importers compare them by content.
UPDATE binned_counts b
SET source_key = split_part(b.source_key, ':', 1) || '|' || s.name || '|'
                 || to_char((b.period_start AT TIME ZONE 'America/Toronto')::date, 'YYYY-MM-DD')
                 || '|0|' || split_part(b.source_key, ':', 2)
FROM sites s
WHERE s.id = b.site_id
  AND b.source = 'toronto-wys-mobile'
  AND b.source_key ~ '^[^|:]+:spd_[0-9a-z_]+$';
