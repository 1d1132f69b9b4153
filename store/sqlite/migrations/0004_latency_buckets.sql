-- The latency buckets become 2^¼ apart: 65 cumulative buckets whose upper
-- bounds are ramp.LatencyBounds, 1 ms to 65.5 s, each about 19 % above the
-- last (docs/metrics.md), instead of client_golang's 11 default buckets,
-- 2 to 2.5 times apart, which were too coarse for a +10 % p99 guard.
--
-- Column le_NN holds the cumulative count of bucket NN, the NN-th bound of
-- ramp.LatencyBounds (from 00), as the comments say; observed is the
-- number of timed requests (the +Inf bucket). A fixed column per bucket
-- keeps sums over a window in SQL.
--
-- The old buckets cannot be split into the new ones: rows reported before
-- this migration keep their requests and errors, and lose their latency
-- (observed 0, as for counts reported without latency). A latency guard
-- whose window spans the upgrade judges the requests timed since.

CREATE TABLE metric_counts_new (
	flag        TEXT NOT NULL,
	environment TEXT NOT NULL,
	variant     TEXT NOT NULL,
	second      INTEGER NOT NULL,
	requests    REAL NOT NULL DEFAULT 0,
	errors      REAL NOT NULL DEFAULT 0,
	observed    REAL NOT NULL DEFAULT 0,
	le_00       REAL NOT NULL DEFAULT 0, -- 0.001 s
	le_01       REAL NOT NULL DEFAULT 0, -- 0.00119 s
	le_02       REAL NOT NULL DEFAULT 0, -- 0.00141 s
	le_03       REAL NOT NULL DEFAULT 0, -- 0.00168 s
	le_04       REAL NOT NULL DEFAULT 0, -- 0.002 s
	le_05       REAL NOT NULL DEFAULT 0, -- 0.00238 s
	le_06       REAL NOT NULL DEFAULT 0, -- 0.00283 s
	le_07       REAL NOT NULL DEFAULT 0, -- 0.00336 s
	le_08       REAL NOT NULL DEFAULT 0, -- 0.004 s
	le_09       REAL NOT NULL DEFAULT 0, -- 0.00476 s
	le_10       REAL NOT NULL DEFAULT 0, -- 0.00566 s
	le_11       REAL NOT NULL DEFAULT 0, -- 0.00673 s
	le_12       REAL NOT NULL DEFAULT 0, -- 0.008 s
	le_13       REAL NOT NULL DEFAULT 0, -- 0.00951 s
	le_14       REAL NOT NULL DEFAULT 0, -- 0.0113 s
	le_15       REAL NOT NULL DEFAULT 0, -- 0.0135 s
	le_16       REAL NOT NULL DEFAULT 0, -- 0.016 s
	le_17       REAL NOT NULL DEFAULT 0, -- 0.019 s
	le_18       REAL NOT NULL DEFAULT 0, -- 0.0226 s
	le_19       REAL NOT NULL DEFAULT 0, -- 0.0269 s
	le_20       REAL NOT NULL DEFAULT 0, -- 0.032 s
	le_21       REAL NOT NULL DEFAULT 0, -- 0.0381 s
	le_22       REAL NOT NULL DEFAULT 0, -- 0.0453 s
	le_23       REAL NOT NULL DEFAULT 0, -- 0.0538 s
	le_24       REAL NOT NULL DEFAULT 0, -- 0.064 s
	le_25       REAL NOT NULL DEFAULT 0, -- 0.0761 s
	le_26       REAL NOT NULL DEFAULT 0, -- 0.0905 s
	le_27       REAL NOT NULL DEFAULT 0, -- 0.108 s
	le_28       REAL NOT NULL DEFAULT 0, -- 0.128 s
	le_29       REAL NOT NULL DEFAULT 0, -- 0.152 s
	le_30       REAL NOT NULL DEFAULT 0, -- 0.181 s
	le_31       REAL NOT NULL DEFAULT 0, -- 0.215 s
	le_32       REAL NOT NULL DEFAULT 0, -- 0.256 s
	le_33       REAL NOT NULL DEFAULT 0, -- 0.304 s
	le_34       REAL NOT NULL DEFAULT 0, -- 0.362 s
	le_35       REAL NOT NULL DEFAULT 0, -- 0.431 s
	le_36       REAL NOT NULL DEFAULT 0, -- 0.512 s
	le_37       REAL NOT NULL DEFAULT 0, -- 0.609 s
	le_38       REAL NOT NULL DEFAULT 0, -- 0.724 s
	le_39       REAL NOT NULL DEFAULT 0, -- 0.861 s
	le_40       REAL NOT NULL DEFAULT 0, -- 1.02 s
	le_41       REAL NOT NULL DEFAULT 0, -- 1.22 s
	le_42       REAL NOT NULL DEFAULT 0, -- 1.45 s
	le_43       REAL NOT NULL DEFAULT 0, -- 1.72 s
	le_44       REAL NOT NULL DEFAULT 0, -- 2.05 s
	le_45       REAL NOT NULL DEFAULT 0, -- 2.44 s
	le_46       REAL NOT NULL DEFAULT 0, -- 2.9 s
	le_47       REAL NOT NULL DEFAULT 0, -- 3.44 s
	le_48       REAL NOT NULL DEFAULT 0, -- 4.1 s
	le_49       REAL NOT NULL DEFAULT 0, -- 4.87 s
	le_50       REAL NOT NULL DEFAULT 0, -- 5.79 s
	le_51       REAL NOT NULL DEFAULT 0, -- 6.89 s
	le_52       REAL NOT NULL DEFAULT 0, -- 8.19 s
	le_53       REAL NOT NULL DEFAULT 0, -- 9.74 s
	le_54       REAL NOT NULL DEFAULT 0, -- 11.6 s
	le_55       REAL NOT NULL DEFAULT 0, -- 13.8 s
	le_56       REAL NOT NULL DEFAULT 0, -- 16.4 s
	le_57       REAL NOT NULL DEFAULT 0, -- 19.5 s
	le_58       REAL NOT NULL DEFAULT 0, -- 23.2 s
	le_59       REAL NOT NULL DEFAULT 0, -- 27.6 s
	le_60       REAL NOT NULL DEFAULT 0, -- 32.8 s
	le_61       REAL NOT NULL DEFAULT 0, -- 39 s
	le_62       REAL NOT NULL DEFAULT 0, -- 46.3 s
	le_63       REAL NOT NULL DEFAULT 0, -- 55.1 s
	le_64       REAL NOT NULL DEFAULT 0, -- 65.5 s
	PRIMARY KEY (flag, environment, variant, second)
) STRICT, WITHOUT ROWID;

INSERT INTO metric_counts_new (flag, environment, variant, second, requests, errors)
	SELECT flag, environment, variant, second, requests, errors FROM metric_counts;

DROP TABLE metric_counts;
ALTER TABLE metric_counts_new RENAME TO metric_counts;

-- Pruning deletes by age across every flag.
CREATE INDEX metric_counts_second ON metric_counts (second);
