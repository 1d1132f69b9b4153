-- Guarded rollouts and the judge's analyses of them. plan and state are
-- JSON owned by the rollout package; status and stage are columns so that
-- the store can find active rollouts and the kill switch can abort them.

CREATE TABLE rollouts (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	flag        TEXT NOT NULL,
	environment TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'paused', 'promoted', 'rolled_back', 'aborted')),
	stage       INTEGER NOT NULL DEFAULT 0,
	plan        TEXT NOT NULL CHECK (json_valid(plan)),
	state       TEXT CHECK (state IS NULL OR json_valid(state)),
	reason      TEXT NOT NULL DEFAULT '',
	version     INTEGER NOT NULL CHECK (version > 0),
	created_by  TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
) STRICT;

-- At most one active rollout per flag and environment.
CREATE UNIQUE INDEX rollouts_active ON rollouts (flag, environment)
	WHERE status IN ('pending', 'running', 'paused');
CREATE INDEX rollouts_flag ON rollouts (flag, environment, id);

CREATE TABLE analyses (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
	time       TEXT NOT NULL,
	stage      INTEGER NOT NULL,
	decision   TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	verdicts   TEXT CHECK (verdicts IS NULL OR json_valid(verdicts))
) STRICT;

CREATE INDEX analyses_rollout ON analyses (rollout_id, id);
