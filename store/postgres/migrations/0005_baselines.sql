-- Baselines: what a flag's traffic looked like in one environment before
-- its rollout, recorded from a metric source (ramp baseline --record).
-- One per flag and environment, replaced by the next recording; deleting
-- the flag or the environment deletes it.

CREATE TABLE baselines (
	flag        text NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	environment text NOT NULL REFERENCES environments (key) ON DELETE CASCADE,
	source      text NOT NULL CHECK (source IN ('sdk', 'prometheus')),
	figures     json NOT NULL,
	recorded_by text NOT NULL DEFAULT '',
	recorded_at timestamptz NOT NULL,
	PRIMARY KEY (flag, environment)
);
