-- Finance periods: a month closed freezes its report's figures as of a cut-off; what arrives
-- later for it is shown as an adjustment in the next open month's report, never as a change.

-- Every closing of a month, with who closed it and when; reopening is recorded on the closing
-- it ends (who, when, why). A month is closed while it has a closing not reopened (at most
-- one: the unique index).
CREATE TABLE period_closings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month date NOT NULL CHECK (month = date_trunc('month', month)::date),
    cut_off timestamptz NOT NULL,
    closed_at timestamptz NOT NULL,
    closed_by text NOT NULL,
    -- the reconciliation run whose findings gave the amounts at stake (none: no run)
    run_id bigint REFERENCES reconcile_runs (id),
    reopened_at timestamptz,
    reopened_by text,
    reopen_reason text,
    CHECK ((reopened_at IS NULL) = (reopened_by IS NULL)
           AND (reopened_at IS NULL) = (reopen_reason IS NULL))
);
CREATE UNIQUE INDEX period_closings_closed ON period_closings (month) WHERE reopened_at IS NULL;

-- The frozen figures of a closing: the additive figures of `report_figures` per day and
-- provider key, channel, country and currency, as of the cut-off.
CREATE TABLE period_figures (
    closing_id bigint NOT NULL REFERENCES period_closings (id),
    day date NOT NULL,
    provider text NOT NULL,
    channel text,
    country text,
    currency text,
    messages int NOT NULL,
    delivered int NOT NULL,
    read int NOT NULL,
    failed int NOT NULL,
    expired int NOT NULL,
    rejected int NOT NULL,
    pending int NOT NULL,
    final int NOT NULL,
    segments bigint NOT NULL,
    value numeric NOT NULL,
    expected_cost numeric NOT NULL,
    reported_cost numeric NOT NULL,
    invoiced numeric NOT NULL,
    priced int NOT NULL,
    invoiced_messages int NOT NULL,
    costed int NOT NULL,
    basis_invoiced int NOT NULL,
    basis_reported int NOT NULL,
    basis_expected int NOT NULL,
    margin numeric NOT NULL,
    cost numeric NOT NULL,  -- the best known cost the margin used
    lines int NOT NULL,
    matched_lines int NOT NULL,
    unmatched_lines int NOT NULL,
    matched_amount numeric NOT NULL,
    unmatched_amount numeric NOT NULL
);
CREATE INDEX period_figures_closing ON period_figures (closing_id, day);

-- The frozen amounts at stake of a closing (its run's findings), per day, group and rule.
CREATE TABLE period_at_stake (
    closing_id bigint NOT NULL REFERENCES period_closings (id),
    day date NOT NULL,
    provider text,
    channel text,
    country text,
    currency text,
    rule text NOT NULL,
    findings int NOT NULL,
    amount numeric
);
CREATE INDEX period_at_stake_closing ON period_at_stake (closing_id, day);

-- The adjustments a closed month's report showed when it was closed (what had arrived, by its
-- cut-off, for earlier closed months after they were closed).
CREATE TABLE period_adjustments (
    closing_id bigint NOT NULL REFERENCES period_closings (id),
    month date NOT NULL,
    kind text NOT NULL
        CHECK (kind IN ('late_message', 'late_event', 'late_price', 'late_invoice_line')),
    provider text,
    currency text,
    message_id bigint,
    invoice_line_id bigint,
    field text NOT NULL,
    amount numeric,
    count int NOT NULL,
    reason text NOT NULL,
    arrived_at timestamptz NOT NULL
);
CREATE INDEX period_adjustments_closing ON period_adjustments (closing_id);
