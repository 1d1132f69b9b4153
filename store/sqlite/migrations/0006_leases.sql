-- Leases: the named roles one server holds at a time, such as running the
-- rollout controller. A lease is held until expires_at unless renewed.
-- They are not changes: no version, no audit row, no change-feed entry.

CREATE TABLE leases (
	name        TEXT PRIMARY KEY,
	holder      TEXT NOT NULL,
	acquired_at TEXT NOT NULL,
	expires_at  TEXT NOT NULL
) STRICT;
