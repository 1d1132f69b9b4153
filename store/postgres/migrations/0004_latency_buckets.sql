-- The latency buckets become 2^¼ apart: 65 cumulative buckets whose upper
-- bounds are ramp.LatencyBounds, 1 ms to 65.5 s, each about 19 % above the
-- last (docs/metrics.md), instead of client_golang's 11 default buckets,
-- 2 to 2.5 times apart, which were too coarse for a +10 % p99 guard.
--
-- Column le_NN holds the cumulative count of bucket NN, the NN-th bound of
-- ramp.LatencyBounds (from 00), as the comments say; observed is the
-- number of timed requests (the +Inf bucket).
--
-- The old buckets cannot be split into the new ones: rows reported before
-- this migration keep their requests and errors, and lose their latency
-- (observed 0, as for counts reported without latency), as in the SQLite
-- store's migration 0004.

ALTER TABLE metric_counts
	DROP COLUMN le_5ms,
	DROP COLUMN le_10ms,
	DROP COLUMN le_25ms,
	DROP COLUMN le_50ms,
	DROP COLUMN le_100ms,
	DROP COLUMN le_250ms,
	DROP COLUMN le_500ms,
	DROP COLUMN le_1s,
	DROP COLUMN le_2500ms,
	DROP COLUMN le_5s,
	DROP COLUMN le_10s,
	ADD COLUMN le_00 double precision NOT NULL DEFAULT 0, -- 0.001 s
	ADD COLUMN le_01 double precision NOT NULL DEFAULT 0, -- 0.00119 s
	ADD COLUMN le_02 double precision NOT NULL DEFAULT 0, -- 0.00141 s
	ADD COLUMN le_03 double precision NOT NULL DEFAULT 0, -- 0.00168 s
	ADD COLUMN le_04 double precision NOT NULL DEFAULT 0, -- 0.002 s
	ADD COLUMN le_05 double precision NOT NULL DEFAULT 0, -- 0.00238 s
	ADD COLUMN le_06 double precision NOT NULL DEFAULT 0, -- 0.00283 s
	ADD COLUMN le_07 double precision NOT NULL DEFAULT 0, -- 0.00336 s
	ADD COLUMN le_08 double precision NOT NULL DEFAULT 0, -- 0.004 s
	ADD COLUMN le_09 double precision NOT NULL DEFAULT 0, -- 0.00476 s
	ADD COLUMN le_10 double precision NOT NULL DEFAULT 0, -- 0.00566 s
	ADD COLUMN le_11 double precision NOT NULL DEFAULT 0, -- 0.00673 s
	ADD COLUMN le_12 double precision NOT NULL DEFAULT 0, -- 0.008 s
	ADD COLUMN le_13 double precision NOT NULL DEFAULT 0, -- 0.00951 s
	ADD COLUMN le_14 double precision NOT NULL DEFAULT 0, -- 0.0113 s
	ADD COLUMN le_15 double precision NOT NULL DEFAULT 0, -- 0.0135 s
	ADD COLUMN le_16 double precision NOT NULL DEFAULT 0, -- 0.016 s
	ADD COLUMN le_17 double precision NOT NULL DEFAULT 0, -- 0.019 s
	ADD COLUMN le_18 double precision NOT NULL DEFAULT 0, -- 0.0226 s
	ADD COLUMN le_19 double precision NOT NULL DEFAULT 0, -- 0.0269 s
	ADD COLUMN le_20 double precision NOT NULL DEFAULT 0, -- 0.032 s
	ADD COLUMN le_21 double precision NOT NULL DEFAULT 0, -- 0.0381 s
	ADD COLUMN le_22 double precision NOT NULL DEFAULT 0, -- 0.0453 s
	ADD COLUMN le_23 double precision NOT NULL DEFAULT 0, -- 0.0538 s
	ADD COLUMN le_24 double precision NOT NULL DEFAULT 0, -- 0.064 s
	ADD COLUMN le_25 double precision NOT NULL DEFAULT 0, -- 0.0761 s
	ADD COLUMN le_26 double precision NOT NULL DEFAULT 0, -- 0.0905 s
	ADD COLUMN le_27 double precision NOT NULL DEFAULT 0, -- 0.108 s
	ADD COLUMN le_28 double precision NOT NULL DEFAULT 0, -- 0.128 s
	ADD COLUMN le_29 double precision NOT NULL DEFAULT 0, -- 0.152 s
	ADD COLUMN le_30 double precision NOT NULL DEFAULT 0, -- 0.181 s
	ADD COLUMN le_31 double precision NOT NULL DEFAULT 0, -- 0.215 s
	ADD COLUMN le_32 double precision NOT NULL DEFAULT 0, -- 0.256 s
	ADD COLUMN le_33 double precision NOT NULL DEFAULT 0, -- 0.304 s
	ADD COLUMN le_34 double precision NOT NULL DEFAULT 0, -- 0.362 s
	ADD COLUMN le_35 double precision NOT NULL DEFAULT 0, -- 0.431 s
	ADD COLUMN le_36 double precision NOT NULL DEFAULT 0, -- 0.512 s
	ADD COLUMN le_37 double precision NOT NULL DEFAULT 0, -- 0.609 s
	ADD COLUMN le_38 double precision NOT NULL DEFAULT 0, -- 0.724 s
	ADD COLUMN le_39 double precision NOT NULL DEFAULT 0, -- 0.861 s
	ADD COLUMN le_40 double precision NOT NULL DEFAULT 0, -- 1.02 s
	ADD COLUMN le_41 double precision NOT NULL DEFAULT 0, -- 1.22 s
	ADD COLUMN le_42 double precision NOT NULL DEFAULT 0, -- 1.45 s
	ADD COLUMN le_43 double precision NOT NULL DEFAULT 0, -- 1.72 s
	ADD COLUMN le_44 double precision NOT NULL DEFAULT 0, -- 2.05 s
	ADD COLUMN le_45 double precision NOT NULL DEFAULT 0, -- 2.44 s
	ADD COLUMN le_46 double precision NOT NULL DEFAULT 0, -- 2.9 s
	ADD COLUMN le_47 double precision NOT NULL DEFAULT 0, -- 3.44 s
	ADD COLUMN le_48 double precision NOT NULL DEFAULT 0, -- 4.1 s
	ADD COLUMN le_49 double precision NOT NULL DEFAULT 0, -- 4.87 s
	ADD COLUMN le_50 double precision NOT NULL DEFAULT 0, -- 5.79 s
	ADD COLUMN le_51 double precision NOT NULL DEFAULT 0, -- 6.89 s
	ADD COLUMN le_52 double precision NOT NULL DEFAULT 0, -- 8.19 s
	ADD COLUMN le_53 double precision NOT NULL DEFAULT 0, -- 9.74 s
	ADD COLUMN le_54 double precision NOT NULL DEFAULT 0, -- 11.6 s
	ADD COLUMN le_55 double precision NOT NULL DEFAULT 0, -- 13.8 s
	ADD COLUMN le_56 double precision NOT NULL DEFAULT 0, -- 16.4 s
	ADD COLUMN le_57 double precision NOT NULL DEFAULT 0, -- 19.5 s
	ADD COLUMN le_58 double precision NOT NULL DEFAULT 0, -- 23.2 s
	ADD COLUMN le_59 double precision NOT NULL DEFAULT 0, -- 27.6 s
	ADD COLUMN le_60 double precision NOT NULL DEFAULT 0, -- 32.8 s
	ADD COLUMN le_61 double precision NOT NULL DEFAULT 0, -- 39 s
	ADD COLUMN le_62 double precision NOT NULL DEFAULT 0, -- 46.3 s
	ADD COLUMN le_63 double precision NOT NULL DEFAULT 0, -- 55.1 s
	ADD COLUMN le_64 double precision NOT NULL DEFAULT 0; -- 65.5 s

UPDATE metric_counts SET observed = 0;
