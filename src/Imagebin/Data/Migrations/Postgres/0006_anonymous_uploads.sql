-- 0006: anonymous uploads (issue 8): the SHA-256 of an anonymous item's delete token (hex); null for owned items.
ALTER TABLE items ADD COLUMN delete_token_hash text NULL;
