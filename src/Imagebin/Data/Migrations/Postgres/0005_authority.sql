-- 0005: the OAuth authority: its keys, browser sessions, and OpenIddict's applications, authorizations, scopes and tokens.
CREATE TABLE account_sessions (
    id character varying(32) NOT NULL,
    account_id text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    revoked_at bigint,
    user_agent text,
    CONSTRAINT "PK_account_sessions" PRIMARY KEY (id)
);
CREATE TABLE authority_keys (
    id character varying(32) NOT NULL,
    purpose text NOT NULL,
    material bytea NOT NULL,
    created_at bigint NOT NULL,
    active_from bigint NOT NULL,
    retires_at bigint NOT NULL,
    CONSTRAINT "PK_authority_keys" PRIMARY KEY (id)
);
CREATE TABLE oauth_applications (
    id text NOT NULL,
    application_type character varying(50),
    client_id text,
    client_secret text,
    client_type character varying(50),
    concurrency_token character varying(50),
    consent_type character varying(50),
    display_name text,
    display_names text,
    json_web_key_set text,
    permissions text,
    post_logout_redirect_uris text,
    properties text,
    redirect_uris text,
    requirements text,
    settings text,
    CONSTRAINT "PK_oauth_applications" PRIMARY KEY (id)
);
CREATE TABLE oauth_scopes (
    id text NOT NULL,
    concurrency_token character varying(50),
    description text,
    descriptions text,
    display_name text,
    display_names text,
    name character varying(200),
    properties text,
    resources text,
    CONSTRAINT "PK_oauth_scopes" PRIMARY KEY (id)
);
CREATE TABLE oauth_authorizations (
    id text NOT NULL,
    application_id text,
    concurrency_token character varying(50),
    creation_date timestamp with time zone,
    properties text,
    scopes text,
    status character varying(50),
    subject character varying(400),
    type character varying(50),
    CONSTRAINT "PK_oauth_authorizations" PRIMARY KEY (id),
    CONSTRAINT "FK_oauth_authorizations_oauth_applications_application_id" FOREIGN KEY (application_id) REFERENCES oauth_applications (id)
);
CREATE TABLE oauth_tokens (
    id text NOT NULL,
    application_id text,
    authorization_id text,
    concurrency_token character varying(50),
    creation_date timestamp with time zone,
    expiration_date timestamp with time zone,
    payload text,
    properties text,
    redemption_date timestamp with time zone,
    reference_id character varying(100),
    status character varying(50),
    subject character varying(400),
    type character varying(150),
    CONSTRAINT "PK_oauth_tokens" PRIMARY KEY (id),
    CONSTRAINT "FK_oauth_tokens_oauth_applications_application_id" FOREIGN KEY (application_id) REFERENCES oauth_applications (id),
    CONSTRAINT "FK_oauth_tokens_oauth_authorizations_authorization_id" FOREIGN KEY (authorization_id) REFERENCES oauth_authorizations (id)
);
CREATE INDEX ix_account_sessions_account_id ON account_sessions (account_id);
CREATE UNIQUE INDEX ix_oauth_applications_client_id ON oauth_applications (client_id);
CREATE INDEX ix_oauth_authorizations_application_id_status_subject_type ON oauth_authorizations (application_id, status, subject, type);
CREATE UNIQUE INDEX ix_oauth_scopes_name ON oauth_scopes (name);
CREATE INDEX ix_oauth_tokens_application_id_status_subject_type ON oauth_tokens (application_id, status, subject, type);
CREATE INDEX ix_oauth_tokens_authorization_id ON oauth_tokens (authorization_id);
CREATE UNIQUE INDEX ix_oauth_tokens_reference_id ON oauth_tokens (reference_id);
