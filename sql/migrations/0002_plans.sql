-- Fartkoll schema, part 2: control plans, their planned controls, standing pins and excludes.
-- Every change to these tables is written to audit_log by the code that makes it.

-- Sites an officer always wants in the ranking first (pin) or never in it (exclude).
CREATE TABLE planner_site_rules (
    site_id     integer PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    rule        text NOT NULL CHECK (rule IN ('pin', 'exclude')),
    note        text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A drawn plan: what it was drawn from (data period, seed, settings) and when it was made.
-- created_at is the selection decision that a follow-up takes its baseline before.
CREATE TABLE plans (
    id            serial PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL CHECK (created_by <> ''),
    data_from     timestamptz NOT NULL,                 -- ranking period [data_from, data_to)
    data_to       timestamptz NOT NULL,
    first_day     date NOT NULL,                        -- local days the plan covers
    last_day      date NOT NULL,
    seed          bigint NOT NULL,
    time_zone     text NOT NULL,
    slots         jsonb NOT NULL DEFAULT '[]',
    pinned        integer[] NOT NULL DEFAULT '{}',
    excluded      integer[] NOT NULL DEFAULT '{}',
    unmet         text[] NOT NULL DEFAULT '{}',
    settings      jsonb NOT NULL DEFAULT '{}',
    CHECK (data_to > data_from),
    CHECK (last_day >= first_day)
);

CREATE TABLE planned_controls (
    id            serial PRIMARY KEY,
    plan_id       integer NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    site_id       integer NOT NULL REFERENCES sites (id),
    direction     smallint NOT NULL CHECK (direction IN (0, 1, 2)),
    start_time    timestamptz NOT NULL,
    end_time      timestamptz NOT NULL,
    unit          integer NOT NULL CHECK (unit >= 1),
    slot          integer NOT NULL CHECK (slot >= 0),
    hour_of_week  smallint NOT NULL CHECK (hour_of_week BETWEEN 0 AND 167),
    score         double precision NOT NULL,
    reason        text NOT NULL,
    control_id    integer REFERENCES controls (id),     -- the logged control that carried it out
    CHECK (end_time > start_time)
);
CREATE INDEX planned_controls_plan ON planned_controls (plan_id, start_time);

-- A logged control may come from a plan: its follow-up baseline ends at the plan's creation.
ALTER TABLE controls ADD COLUMN plan_id integer REFERENCES plans (id);
