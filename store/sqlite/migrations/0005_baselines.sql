-- Baselines: what a flag's traffic looked like in an environment before
-- its rollout (ramp baseline FLAG --record). One row per flag and
-- environment, replaced by each new recording; the audit log keeps the
-- earlier ones (action baseline.record, kind baseline). figures is the
-- ramp.Figures JSON (counts, rates, quantiles and the latency histogram),
-- owned by the root package: the store does not interpret it. A baseline
-- goes with its flag or its environment.

CREATE TABLE baselines (
	flag        TEXT NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	environment TEXT NOT NULL REFERENCES environments (key) ON DELETE CASCADE,
	source      TEXT NOT NULL CHECK (source IN ('sdk', 'prometheus')),
	figures     TEXT NOT NULL CHECK (json_valid(figures)),
	recorded_by TEXT NOT NULL DEFAULT '',
	recorded_at TEXT NOT NULL,
	PRIMARY KEY (flag, environment)
) STRICT;
