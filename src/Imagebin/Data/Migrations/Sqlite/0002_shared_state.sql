-- 0002: state that nodes share (replay caches, rate-limit counters); rows expire and the maintenance sweeper purges them.
CREATE TABLE "replay_cache" (
    "key" TEXT NOT NULL CONSTRAINT "PK_replay_cache" PRIMARY KEY,
    "expires_at" INTEGER NOT NULL
);
CREATE INDEX "ix_replay_cache_expires_at" ON "replay_cache" ("expires_at");
CREATE TABLE "rate_counters" (
    "key" TEXT NOT NULL CONSTRAINT "PK_rate_counters" PRIMARY KEY,
    "window_start" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "expires_at" INTEGER NOT NULL
);
CREATE INDEX "ix_rate_counters_expires_at" ON "rate_counters" ("expires_at");
