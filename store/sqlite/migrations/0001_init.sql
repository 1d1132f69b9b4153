-- The first schema: environments, flags, segments, tokens and the audit log.
-- Times are UTC RFC 3339 text with a fixed number of fractional digits, so
-- that they sort as text.

CREATE TABLE environments (
	key         TEXT PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL
) STRICT;

-- A flag is stored whole as JSON in data; version and the timestamps are
-- also columns, and the columns win when they are read back.
CREATE TABLE flags (
	key        TEXT PRIMARY KEY,
	version    INTEGER NOT NULL CHECK (version > 0),
	data       TEXT NOT NULL CHECK (json_valid(data)),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE segments (
	key        TEXT PRIMARY KEY,
	version    INTEGER NOT NULL CHECK (version > 0),
	data       TEXT NOT NULL CHECK (json_valid(data)),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

-- Tokens keep only the SHA-256 of their secret. environment has no foreign
-- key: a revoked token may name an environment that was deleted since.
CREATE TABLE tokens (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL CHECK (kind IN ('admin', 'sdk')),
	environment TEXT NOT NULL DEFAULT '',
	hash        BLOB NOT NULL,
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL DEFAULT '',
	revoked_at  TEXT
) STRICT;

CREATE INDEX tokens_environment ON tokens (environment) WHERE revoked_at IS NULL;

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	time        TEXT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	key         TEXT NOT NULL,
	environment TEXT NOT NULL DEFAULT '',
	before      TEXT CHECK (before IS NULL OR json_valid(before)),
	after       TEXT CHECK (after IS NULL OR json_valid(after))
) STRICT;

CREATE INDEX audit_kind_key_id ON audit (kind, key, id);
CREATE INDEX audit_time ON audit (time);

INSERT INTO environments (key, name, created_at) VALUES
	('production', 'Production', strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
	('staging', 'Staging', strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z');
