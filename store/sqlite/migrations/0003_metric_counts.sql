-- Counts the SDKs report: requests, errors and latency buckets per flag,
-- environment and variant, added up per second of arrival. They are
-- telemetry, not changes: no version, no audit row, no change-feed entry.
--
-- second is Unix seconds rather than RFC 3339 text: rows are summed over
-- ranges and pruned by age, and an integer key keeps the table and its
-- index small. The le_* columns are the cumulative latency buckets of the
-- fixed SDK bounds (ramp.LatencyBounds), in seconds; observed is the
-- number of timed requests (the +Inf bucket), which may be below requests
-- when a client reports counts without latency.

CREATE TABLE metric_counts (
	flag        TEXT NOT NULL,
	environment TEXT NOT NULL,
	variant     TEXT NOT NULL,
	second      INTEGER NOT NULL,
	requests    REAL NOT NULL DEFAULT 0,
	errors      REAL NOT NULL DEFAULT 0,
	observed    REAL NOT NULL DEFAULT 0,
	le_5ms      REAL NOT NULL DEFAULT 0,
	le_10ms     REAL NOT NULL DEFAULT 0,
	le_25ms     REAL NOT NULL DEFAULT 0,
	le_50ms     REAL NOT NULL DEFAULT 0,
	le_100ms    REAL NOT NULL DEFAULT 0,
	le_250ms    REAL NOT NULL DEFAULT 0,
	le_500ms    REAL NOT NULL DEFAULT 0,
	le_1s       REAL NOT NULL DEFAULT 0,
	le_2500ms   REAL NOT NULL DEFAULT 0,
	le_5s       REAL NOT NULL DEFAULT 0,
	le_10s      REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (flag, environment, variant, second)
) STRICT, WITHOUT ROWID;

-- Pruning deletes by age across every flag.
CREATE INDEX metric_counts_second ON metric_counts (second);
