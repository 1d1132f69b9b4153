-- Guarded rollouts and the judge's analyses of them. plan and state are
-- JSON owned by the rollout package; status and stage are columns so that
-- the store can find active rollouts and the kill switch can abort them.

CREATE TABLE rollouts (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	flag        text NOT NULL,
	environment text NOT NULL,
	status      text NOT NULL CHECK (status IN ('pending', 'running', 'paused', 'promoted', 'rolled_back', 'aborted')),
	stage       integer NOT NULL DEFAULT 0,
	plan        json NOT NULL,
	state       json,
	reason      text NOT NULL DEFAULT '',
	version     bigint NOT NULL CHECK (version > 0),
	created_by  text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);

-- At most one active rollout per flag and environment.
CREATE UNIQUE INDEX rollouts_active ON rollouts (flag, environment)
	WHERE status IN ('pending', 'running', 'paused');
CREATE INDEX rollouts_flag ON rollouts (flag, environment, id);

CREATE TABLE analyses (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rollout_id bigint NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
	time       timestamptz NOT NULL,
	stage      integer NOT NULL,
	decision   text NOT NULL,
	reason     text NOT NULL DEFAULT '',
	verdicts   json
);

CREATE INDEX analyses_rollout ON analyses (rollout_id, id);
