-- A plan's life: draft → approved (by whom, when) → cancelled; the language its calendar and
-- printout are in. Controls logged at the same site and time as another are marked second_unit.

ALTER TABLE plans
    ADD COLUMN status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'cancelled')),
    ADD COLUMN approved_by   text,
    ADD COLUMN approved_at   timestamptz,
    ADD COLUMN cancelled_by  text,
    ADD COLUMN cancelled_at  timestamptz,
    ADD COLUMN cancel_note   text NOT NULL DEFAULT '',
    ADD COLUMN language      text NOT NULL DEFAULT 'sv' CHECK (language IN ('sv', 'en')),
    ADD CONSTRAINT plans_approved_has_who CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
    ADD CONSTRAINT plans_cancelled_has_who CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    ADD CONSTRAINT plans_approved_status CHECK (status <> 'approved' OR approved_at IS NOT NULL);

ALTER TABLE controls ADD COLUMN second_unit boolean NOT NULL DEFAULT false;

-- One logged control carries out at most one planned control.
CREATE UNIQUE INDEX planned_controls_control ON planned_controls (control_id) WHERE control_id IS NOT NULL;
