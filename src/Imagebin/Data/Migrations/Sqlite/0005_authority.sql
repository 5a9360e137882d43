-- 0005: the OAuth authority: its keys, browser sessions, and OpenIddict's applications, authorizations, scopes and tokens.
CREATE TABLE "account_sessions" (
    "id" TEXT NOT NULL CONSTRAINT "PK_account_sessions" PRIMARY KEY,
    "account_id" TEXT NOT NULL,
    "created_at" INTEGER NOT NULL,
    "expires_at" INTEGER NOT NULL,
    "revoked_at" INTEGER NULL,
    "user_agent" TEXT NULL
);
CREATE TABLE "authority_keys" (
    "id" TEXT NOT NULL CONSTRAINT "PK_authority_keys" PRIMARY KEY,
    "purpose" TEXT NOT NULL,
    "material" BLOB NOT NULL,
    "created_at" INTEGER NOT NULL,
    "active_from" INTEGER NOT NULL,
    "retires_at" INTEGER NOT NULL
);
CREATE TABLE "oauth_applications" (
    "id" TEXT NOT NULL CONSTRAINT "PK_oauth_applications" PRIMARY KEY,
    "application_type" TEXT NULL,
    "client_id" TEXT NULL,
    "client_secret" TEXT NULL,
    "client_type" TEXT NULL,
    "concurrency_token" TEXT NULL,
    "consent_type" TEXT NULL,
    "display_name" TEXT NULL,
    "display_names" TEXT NULL,
    "json_web_key_set" TEXT NULL,
    "permissions" TEXT NULL,
    "post_logout_redirect_uris" TEXT NULL,
    "properties" TEXT NULL,
    "redirect_uris" TEXT NULL,
    "requirements" TEXT NULL,
    "settings" TEXT NULL
);
CREATE TABLE "oauth_scopes" (
    "id" TEXT NOT NULL CONSTRAINT "PK_oauth_scopes" PRIMARY KEY,
    "concurrency_token" TEXT NULL,
    "description" TEXT NULL,
    "descriptions" TEXT NULL,
    "display_name" TEXT NULL,
    "display_names" TEXT NULL,
    "name" TEXT NULL,
    "properties" TEXT NULL,
    "resources" TEXT NULL
);
CREATE TABLE "oauth_authorizations" (
    "id" TEXT NOT NULL CONSTRAINT "PK_oauth_authorizations" PRIMARY KEY,
    "application_id" TEXT NULL,
    "concurrency_token" TEXT NULL,
    "creation_date" TEXT NULL,
    "properties" TEXT NULL,
    "scopes" TEXT NULL,
    "status" TEXT NULL,
    "subject" TEXT NULL,
    "type" TEXT NULL,
    CONSTRAINT "FK_oauth_authorizations_oauth_applications_application_id" FOREIGN KEY ("application_id") REFERENCES "oauth_applications" ("id")
);
CREATE TABLE "oauth_tokens" (
    "id" TEXT NOT NULL CONSTRAINT "PK_oauth_tokens" PRIMARY KEY,
    "application_id" TEXT NULL,
    "authorization_id" TEXT NULL,
    "concurrency_token" TEXT NULL,
    "creation_date" TEXT NULL,
    "expiration_date" TEXT NULL,
    "payload" TEXT NULL,
    "properties" TEXT NULL,
    "redemption_date" TEXT NULL,
    "reference_id" TEXT NULL,
    "status" TEXT NULL,
    "subject" TEXT NULL,
    "type" TEXT NULL,
    CONSTRAINT "FK_oauth_tokens_oauth_applications_application_id" FOREIGN KEY ("application_id") REFERENCES "oauth_applications" ("id"),
    CONSTRAINT "FK_oauth_tokens_oauth_authorizations_authorization_id" FOREIGN KEY ("authorization_id") REFERENCES "oauth_authorizations" ("id")
);
CREATE INDEX "ix_account_sessions_account_id" ON "account_sessions" ("account_id");
CREATE UNIQUE INDEX "ix_oauth_applications_client_id" ON "oauth_applications" ("client_id");
CREATE INDEX "ix_oauth_authorizations_application_id_status_subject_type" ON "oauth_authorizations" ("application_id", "status", "subject", "type");
CREATE UNIQUE INDEX "ix_oauth_scopes_name" ON "oauth_scopes" ("name");
CREATE INDEX "ix_oauth_tokens_application_id_status_subject_type" ON "oauth_tokens" ("application_id", "status", "subject", "type");
CREATE INDEX "ix_oauth_tokens_authorization_id" ON "oauth_tokens" ("authorization_id");
CREATE UNIQUE INDEX "ix_oauth_tokens_reference_id" ON "oauth_tokens" ("reference_id");
