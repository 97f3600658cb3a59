-- Fartkoll schema, part 21: the coverage of one site's hours in one place. figures_coverage_hours
-- (the series), planner_site_coverage (a site's statistics) and pages_profile_observed (the
-- profile's observed hours) each spelt out the same read before.
--
-- Per hour of [t0, t1): the minutes the fullest of the signs deployed at the site then measured.
-- Each deployment's coverage is read as one index range of coverage_hourly (OFFSET 0 keeps it so:
-- joined, the planner may scan every sign's). One SELECT in SQL, so the planner inlines it.
CREATE FUNCTION site_coverage_hours(site integer, t0 timestamptz, t1 timestamptz)
RETURNS TABLE (hour timestamptz, minutes smallint)
LANGUAGE sql STABLE AS $$
    SELECT c.hour, max(c.minutes)
    FROM deployments d
    CROSS JOIN LATERAL (SELECT c.hour, c.minutes FROM coverage_hourly c
                        WHERE c.sign_id = d.sign_id AND c.hour >= greatest(t0, d.valid_from)
                          AND c.hour < least(t1, coalesce(d.valid_to, timestamptz 'infinity'))
                        OFFSET 0) c
    WHERE d.site_id = site
    GROUP BY c.hour
$$;
