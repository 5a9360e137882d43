-- 0008: image placeholders (issue 9): the ThumbHash (base64) of an item's picture, computed by the scan; null until then.
ALTER TABLE "items" ADD COLUMN "placeholder" TEXT NULL;
