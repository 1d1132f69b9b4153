-- The first schema: environments, flags, segments, tokens and the audit log,
-- with the same meaning as the SQLite store's. Times are timestamptz, kept
-- to the microsecond. Flags, segments and audit states are json, not
-- jsonb: json keeps the text as written, which the store compares.

CREATE TABLE environments (
	key         text PRIMARY KEY,
	name        text NOT NULL DEFAULT '',
	description text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL
);

-- A flag is stored whole as JSON in data; version and the timestamps are
-- also columns, and the columns win when they are read back.
CREATE TABLE flags (
	key        text PRIMARY KEY,
	version    bigint NOT NULL CHECK (version > 0),
	data       json NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE segments (
	key        text PRIMARY KEY,
	version    bigint NOT NULL CHECK (version > 0),
	data       json NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- Tokens keep only the SHA-256 of their secret. environment has no foreign
-- key: a revoked token may name an environment that was deleted since.
CREATE TABLE tokens (
	id          text PRIMARY KEY,
	name        text NOT NULL DEFAULT '',
	kind        text NOT NULL CHECK (kind IN ('admin', 'sdk')),
	environment text NOT NULL DEFAULT '',
	hash        bytea NOT NULL,
	created_at  timestamptz NOT NULL,
	created_by  text NOT NULL DEFAULT '',
	revoked_at  timestamptz
);

CREATE INDEX tokens_environment ON tokens (environment) WHERE revoked_at IS NULL;

-- The audit log is also the change feed: readers follow it by id. Every
-- transaction that inserts a row holds the store's write lock (a
-- transaction-level advisory lock) from before it takes an id until it
-- commits, so ids become visible in the order they were given.
CREATE TABLE audit (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time        timestamptz NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL,
	kind        text NOT NULL,
	key         text NOT NULL,
	environment text NOT NULL DEFAULT '',
	before      json,
	after       json
);

CREATE INDEX audit_kind_key_id ON audit (kind, key, id);
CREATE INDEX audit_time ON audit (time);

INSERT INTO environments (key, name, created_at) VALUES
	('production', 'Production', now()),
	('staging', 'Staging', now());
