-- 0003: the moderation pipeline (DESIGN.md §8): what each scan stage decided, perceptual hashes, the review queue,
-- block lists, abuse reports, removal evidence and the audit trail.
ALTER TABLE "items" ADD COLUMN "pdq_hash" TEXT NULL;
ALTER TABLE "items" ADD COLUMN "pdq_quality" INTEGER NULL;
ALTER TABLE "items" ADD COLUMN "scan_evidence" TEXT NULL;
ALTER TABLE "items" ADD COLUMN "review_rank" INTEGER NULL;
ALTER TABLE "items" ADD COLUMN "review_since" INTEGER NULL;
ALTER TABLE "items" ADD COLUMN "open_reports" INTEGER NOT NULL DEFAULT 0;
-- The review queue: held and failed items (rank 0) before items that were only reported (rank 1), oldest first.
CREATE INDEX "ix_items_review_rank_review_since_id" ON "items" ("review_rank", "review_since", "id");

CREATE TABLE "hash_list_entries" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_hash_list_entries" PRIMARY KEY AUTOINCREMENT,
    "kind" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "created_by" TEXT NULL,
    "created_at" INTEGER NOT NULL
);
CREATE UNIQUE INDEX "ix_hash_list_entries_kind_hash" ON "hash_list_entries" ("kind", "hash");

CREATE TABLE "reports" (
    "id" TEXT NOT NULL CONSTRAINT "PK_reports" PRIMARY KEY,
    "item_id" TEXT NOT NULL,
    "reporter" TEXT NOT NULL,
    "reporter_account_id" TEXT NULL,
    "category" TEXT NOT NULL,
    "details" TEXT NULL,
    "created_at" INTEGER NOT NULL,
    "resolved_at" INTEGER NULL,
    "resolution" TEXT NULL
);
CREATE UNIQUE INDEX "ix_reports_item_id_reporter" ON "reports" ("item_id", "reporter");

CREATE TABLE "removal_records" (
    "item_id" TEXT NOT NULL CONSTRAINT "PK_removal_records" PRIMARY KEY,
    "owner_id" TEXT NULL,
    "removed_at" INTEGER NOT NULL,
    "removed_by" TEXT NULL,
    "reason" TEXT NOT NULL,
    "category" TEXT NULL,
    "blob_sha256" TEXT NOT NULL,
    "pdq_hash" TEXT NULL,
    "item_snapshot" TEXT NOT NULL,
    "reports" TEXT NOT NULL,
    "quarantine_key" TEXT NULL
);

CREATE TABLE "audit_events" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_audit_events" PRIMARY KEY AUTOINCREMENT,
    "at" INTEGER NOT NULL,
    "actor_id" TEXT NULL,
    "action" TEXT NOT NULL,
    "item_id" TEXT NULL,
    "detail" TEXT NULL
);
CREATE INDEX "ix_audit_events_item_id" ON "audit_events" ("item_id");
