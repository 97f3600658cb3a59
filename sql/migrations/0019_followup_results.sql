-- Follow-ups of logged controls, kept (planner.followup_store).
--
-- A control's follow-up reads its site's and its comparison sites' hourly rollups over the
-- control's window (~18,500 rows for 12 sites and a 9-week window: ~0.1 s of the database's time
-- and ~50 ms of evaluation). Once the window lies wholly before the newest data, the follow-up
-- changes only when something it rests on changes. The `followups` job keeps each such control's
-- follow-up here, under a fingerprint of everything it rests on: the control row, the window
-- (its dates, limit spans and comparison candidates), the planner's settings, the code that
-- computes it, the site's first data hour and a summary of the window's rollups (rows, vehicles,
-- vehicles × hour, site, direction, display and the speed sums). A reader computes the
-- fingerprint (one aggregate over the window's rollups, no histograms) and uses the kept result
-- only when it matches; otherwise it computes the follow-up itself. So a kept row is never
-- stale, only unused.
CREATE TABLE followup_results (
    control_id  integer     PRIMARY KEY REFERENCES controls (id) ON DELETE CASCADE,
    fingerprint bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    result      text        NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
