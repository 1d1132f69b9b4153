-- Counts the SDKs report: requests, errors and latency buckets per flag,
-- environment and variant, added up per second of arrival. They are
-- telemetry, not changes: no version, no audit row, no change-feed entry.
--
-- second is Unix seconds: rows are summed over ranges and pruned by age.
-- The le_* columns are the cumulative latency buckets of the fixed SDK
-- bounds (ramp.LatencyBounds), in seconds; observed is the number of timed
-- requests (the +Inf bucket), which may be below requests when a client
-- reports counts without latency.

CREATE TABLE metric_counts (
	flag        text NOT NULL,
	environment text NOT NULL,
	variant     text NOT NULL,
	second      bigint NOT NULL,
	requests    double precision NOT NULL DEFAULT 0,
	errors      double precision NOT NULL DEFAULT 0,
	observed    double precision NOT NULL DEFAULT 0,
	le_5ms      double precision NOT NULL DEFAULT 0,
	le_10ms     double precision NOT NULL DEFAULT 0,
	le_25ms     double precision NOT NULL DEFAULT 0,
	le_50ms     double precision NOT NULL DEFAULT 0,
	le_100ms    double precision NOT NULL DEFAULT 0,
	le_250ms    double precision NOT NULL DEFAULT 0,
	le_500ms    double precision NOT NULL DEFAULT 0,
	le_1s       double precision NOT NULL DEFAULT 0,
	le_2500ms   double precision NOT NULL DEFAULT 0,
	le_5s       double precision NOT NULL DEFAULT 0,
	le_10s      double precision NOT NULL DEFAULT 0,
	PRIMARY KEY (flag, environment, variant, second)
);

-- Pruning deletes by age across every flag.
CREATE INDEX metric_counts_second ON metric_counts (second);
