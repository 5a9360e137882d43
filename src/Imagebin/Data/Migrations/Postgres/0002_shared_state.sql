-- 0002: state that nodes share (replay caches, rate-limit counters); rows expire and the maintenance sweeper purges them.
CREATE TABLE replay_cache (
    key text NOT NULL,
    expires_at bigint NOT NULL,
    CONSTRAINT "PK_replay_cache" PRIMARY KEY (key)
);
CREATE INDEX ix_replay_cache_expires_at ON replay_cache (expires_at);
CREATE TABLE rate_counters (
    key text NOT NULL,
    window_start bigint NOT NULL,
    count bigint NOT NULL,
    expires_at bigint NOT NULL,
    CONSTRAINT "PK_rate_counters" PRIMARY KEY (key)
);
CREATE INDEX ix_rate_counters_expires_at ON rate_counters (expires_at);
-- Workers claim the oldest due job with FOR UPDATE SKIP LOCKED; this keeps that scan to unfinished rows.
CREATE INDEX ix_jobs_due ON jobs (run_after, id) WHERE state IN ('queued', 'running');
