-- The status sets of the canonical model (receiver/model.py), one SQL function each, so that
-- no query writes a literal list of statuses (tests/integration/test_status_sets.py compares
-- them with the Python model for every status).

CREATE FUNCTION dlrecon_status_failure(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('failed', 'expired', 'rejected')
$$;

CREATE FUNCTION dlrecon_status_success(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('delivered', 'read')
$$;

-- final = a success or a failure: defined from the two sets, so the three cannot disagree
CREATE OR REPLACE FUNCTION dlrecon_status_final(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT dlrecon_status_success(status) OR dlrecon_status_failure(status)
$$;
