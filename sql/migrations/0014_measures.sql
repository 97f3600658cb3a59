-- Physical and legal measures taken at a site (a new limit, a speed bump, a narrowing, a change of
-- the sign's display mode, or something else with a note), dated by the local day they took
-- effect, so their before/after can be compared with comparison sites as a control's is.

CREATE TABLE measures (
    id          serial PRIMARY KEY,
    site_id     integer NOT NULL REFERENCES sites (id),
    taken_on    date NOT NULL,                       -- the site's local day it took effect
    kind        text NOT NULL CHECK (kind IN ('limit', 'speed_bump', 'narrowing', 'sign_display', 'other')),
    limit_kmh   smallint CHECK (limit_kmh BETWEEN 5 AND 130),   -- the new limit (kind 'limit')
    display     text CHECK (display IN ('display', 'stealth')), -- the sign's new mode (kind 'sign_display')
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind = 'limit' OR limit_kmh IS NULL),
    CHECK (kind = 'sign_display' OR display IS NULL),
    CHECK (kind <> 'other' OR note <> '')
);
CREATE INDEX measures_site ON measures (site_id, taken_on);
