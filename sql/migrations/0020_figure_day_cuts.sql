-- Fartkoll schema, part 20: where a period's complete local days end and its hours begin, in one
-- place (figures_site_parts, figures_site_coverage_parts, overview_sites_parts and
-- overview_sites_coverage_parts each spelt it out before).
--
-- For each site and its own [t0, t1): the complete local days of the site's zone inside it that
-- figure_days may answer for, [d0, d1) (d1 no later than the local day of the running totals'
-- through_hour; use_days false: none, d1 = d0), and the bounds of the hours outside them: those
-- before lo or from hi on (3 h of slack either side of the days' UTC ends; without days both are
-- t1, so every hour of the period is outside). One SELECT in SQL, so the planner inlines it.
CREATE FUNCTION figure_day_cuts(site_ids integer[], starts timestamptz[], ends timestamptz[], use_days boolean)
RETURNS TABLE (id integer, time_zone text, t0 timestamptz, t1 timestamptz, d0 date, d1 date,
               lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT st.id, st.time_zone, q.t0, q.t1, b.d0, greatest(b.d0, b.d1),
           CASE WHEN b.d1 > b.d0 THEN (b.d0::timestamp AT TIME ZONE st.time_zone) + interval '3 hours' ELSE q.t1 END,
           CASE WHEN b.d1 > b.d0 THEN (b.d1::timestamp AT TIME ZONE st.time_zone) - interval '3 hours' ELSE q.t1 END
    FROM unnest(site_ids, starts, ends) AS q(site_id, t0, t1)
    JOIN sites st ON st.id = q.site_id
    LEFT JOIN cell_weeks_state c ON c.site_id = st.id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN (q.t0 AT TIME ZONE st.time_zone)::time = time '00:00' THEN (q.t0 AT TIME ZONE st.time_zone)::date
                    ELSE (q.t0 AT TIME ZONE st.time_zone)::date + 1 END AS d0,
               CASE WHEN use_days THEN least((q.t1 AT TIME ZONE st.time_zone)::date,
                                             coalesce((c.through_hour AT TIME ZONE st.time_zone)::date, date '-infinity'))
                    ELSE date '-infinity' END AS d1) b
$$;
