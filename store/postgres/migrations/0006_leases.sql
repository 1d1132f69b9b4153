-- Leases: the named roles one replica holds at a time, such as running the
-- rollout controller. A lease is held until expires_at unless renewed;
-- expiry is judged by the database's clock, which every replica shares.

CREATE TABLE leases (
	name        text PRIMARY KEY,
	holder      text NOT NULL,
	acquired_at timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL
);
