-- 0001: the schema of the first release (what EnsureCreated made before migrations existed).
CREATE TABLE "accounts" (
    "id" TEXT NOT NULL CONSTRAINT "PK_accounts" PRIMARY KEY,
    "name" TEXT NOT NULL,
    "email" TEXT NULL,
    "password_hash" TEXT NULL,
    "role" TEXT NOT NULL,
    "banned" INTEGER NOT NULL,
    "ai_opt_out" INTEGER NOT NULL,
    "created_at" INTEGER NOT NULL
);

CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL CONSTRAINT "PK_api_keys" PRIMARY KEY,
    "account_id" TEXT NOT NULL,
    "secret_hash" BLOB NOT NULL,
    "scopes" TEXT NOT NULL,
    "audience" TEXT NOT NULL,
    "created_at" INTEGER NOT NULL,
    "expires_at" INTEGER NULL,
    "last_used_at" INTEGER NULL,
    "revoked_at" INTEGER NULL
);

CREATE TABLE "blobs" (
    "sha256" TEXT NOT NULL CONSTRAINT "PK_blobs" PRIMARY KEY,
    "size" INTEGER NOT NULL,
    "ref_count" INTEGER NOT NULL,
    "created_at" INTEGER NOT NULL
);

CREATE TABLE "items" (
    "id" TEXT NOT NULL CONSTRAINT "PK_items" PRIMARY KEY,
    "owner_id" TEXT NULL,
    "blob_sha256" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "extension" TEXT NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "width" INTEGER NULL,
    "height" INTEGER NULL,
    "frames" INTEGER NOT NULL,
    "title" TEXT NULL,
    "description" TEXT NULL,
    "tags" TEXT NOT NULL,
    "category" TEXT NULL,
    "private" INTEGER NOT NULL,
    "share_secret" TEXT NULL,
    "created_at" INTEGER NOT NULL,
    "expires_at" INTEGER NULL,
    "downloads" INTEGER NOT NULL,
    "dl_limit" INTEGER NULL,
    "scan_state" TEXT NOT NULL,
    "scan_reason" TEXT NULL,
    "classification" TEXT NOT NULL,
    "ai_caption_state" TEXT NOT NULL,
    "ai_caption" TEXT NULL,
    "ai_tags" TEXT NOT NULL,
    "ai_opt_out" INTEGER NOT NULL
);

CREATE TABLE "jobs" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_jobs" PRIMARY KEY AUTOINCREMENT,
    "kind" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "max_attempts" INTEGER NOT NULL,
    "run_after" INTEGER NOT NULL,
    "lease_owner" TEXT NULL,
    "lease_until" INTEGER NULL,
    "unique_key" TEXT NULL,
    "last_error" TEXT NULL,
    "created_at" INTEGER NOT NULL,
    "completed_at" INTEGER NULL
);

CREATE UNIQUE INDEX "ix_accounts_name" ON "accounts" ("name");

CREATE INDEX "ix_api_keys_account_id" ON "api_keys" ("account_id");

CREATE INDEX "ix_items_blob_sha256" ON "items" ("blob_sha256");

CREATE INDEX "ix_items_expires_at" ON "items" ("expires_at");

CREATE INDEX "ix_items_owner_id_created_at_id" ON "items" ("owner_id", "created_at", "id");

CREATE INDEX "ix_jobs_state_run_after" ON "jobs" ("state", "run_after");

CREATE UNIQUE INDEX "ix_jobs_unique_key" ON "jobs" ("unique_key");

